"""The district finance office (DESIGN §1, §4, §7): dashboards, exports and reports, the whitelist
workflow, and the monitoring alerts."""

from __future__ import annotations


def init_app(app) -> None:
    from flask_babel import lazy_gettext as _l

    from models.identity import Role
    from xinyidai.office.routes import bp
    from xinyidai.web.navigation import add_nav_item

    app.register_blueprint(bp)
    for order, endpoint, label in ((10, "office.dashboard", _l("数据看板")), (20, "office.report_page", _l("融资成效报送")),
                                   (30, "office.whitelist", _l("白名单管理")), (40, "office.alerts", _l("贷后预警")),
                                   (50, "office.repairs", _l("信用修复"))):
        add_nav_item(app, endpoint, label, Role.OFFICE, order=order)
