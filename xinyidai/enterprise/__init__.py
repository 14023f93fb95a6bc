"""The enterprise portal (DESIGN §1): register, authorize data, see the credit profile, publish needs,
compare offers, control who may make contact, and track what banks do."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from models.identity import Role


class NotificationsLabel:
    """The navigation entry "通知 (3)": the unread count of the logged-in user, worded when rendered."""

    def __str__(self) -> str:
        from xinyidai.domain.notifications import waiting_count
        from xinyidai.extensions import db

        unread = waiting_count(db.session, current_user.user) if getattr(current_user, "enterprise_uscc", None) else 0
        return _("通知（%(count)s）", count=unread) if unread else _("通知")

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))


def init_app(app) -> None:
    from xinyidai.enterprise.routes import bp, registration
    from xinyidai.web.navigation import add_nav_item

    app.register_blueprint(registration)
    app.register_blueprint(bp)
    for order, (endpoint, label) in enumerate((
        ("enterprise.needs", _l("融资需求")),
        ("enterprise.applications", _l("申请跟踪")),
        ("enterprise.profile", _l("信用画像")),
        ("enterprise.reports", _l("信用报告")),
        ("enterprise.repair", _l("信用修复")),
        ("enterprise.authorizations", _l("数据授权")),
        ("enterprise.notifications", NotificationsLabel()),
        ("enterprise.staff", _l("员工账户")),
    ), start=1):
        add_nav_item(app, endpoint, label, Role.ENTERPRISE, order=10 * order)
