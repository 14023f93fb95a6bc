"""The platform operator's pages under /admin/… (the landing page /admin/ belongs to xinyidai.web):
audit log, onboarding of banks and office staff, the model registry, provider deliveries, and the reporting
up to the city node."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from models.identity import Role


def init_app(app) -> None:
    from xinyidai.admin import delivery_views, model_views, onboarding_views, upstream_views  # noqa: F401  (they add routes to bp)
    from xinyidai.admin.routes import bp
    from xinyidai.web.navigation import add_nav_item

    app.register_blueprint(bp)
    add_nav_item(app, "admin.audit_log", _l("审计日志"), Role.ADMIN, order=10)
    add_nav_item(app, "admin.banks", _l("合作银行"), Role.ADMIN, order=20)
    add_nav_item(app, "admin.offices", _l("金融办用户"), Role.ADMIN, order=30)
    add_nav_item(app, "admin.guarantors", _l("担保机构"), Role.ADMIN, order=25)
    add_nav_item(app, "admin.models", _l("评分模型"), Role.ADMIN, order=40)
    add_nav_item(app, "admin.deliveries_page", _l("数据交付"), Role.ADMIN, order=50)
    add_nav_item(app, "admin.upstream_page", _l("上报市级节点"), Role.ADMIN, order=60)
