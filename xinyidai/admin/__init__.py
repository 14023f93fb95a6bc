"""The platform operator's pages under /admin/… (the landing page /admin/ belongs to xinyidai.web)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from models.identity import Role


def init_app(app) -> None:
    from xinyidai.admin.routes import bp
    from xinyidai.web.navigation import add_nav_item

    app.register_blueprint(bp)
    add_nav_item(app, "admin.audit_log", _l("审计日志"), Role.ADMIN, order=10)
