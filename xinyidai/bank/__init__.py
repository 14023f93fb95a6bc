"""The bank workspace (DESIGN §1, §5, §6, §8): products, the pipeline, decisions, outcomes, API tokens."""

from __future__ import annotations


def init_app(app) -> None:
    from flask_babel import lazy_gettext as _l

    from models.identity import Role
    from xinyidai.bank import joint_routes  # noqa: F401  (the sandbox's routes join the blueprint)
    from xinyidai.bank.routes import bp
    from xinyidai.domain import working_days
    from xinyidai.web.navigation import add_nav_item

    working_days.init_app(app)
    if _self_report_wording not in bp.template_context_processors[None]:  # a second app registers bp again
        bp.context_processor(_self_report_wording)
    app.register_blueprint(bp)
    for order, endpoint, label in ((10, "bank.pipeline", _l("待受理需求")), (15, "bank.applications", _l("我的申请")),
                                   (20, "bank.products", _l("贷款产品")), (30, "bank.bank_dashboard", _l("业务看板")),
                                   (40, "bank.upload_outcomes", _l("批量报送"))):
        add_nav_item(app, endpoint, label, Role.BANK, order=order)
    for order, endpoint, label in ((60, "bank.staff_page", _l("员工管理")), (70, "bank.tokens", _l("接口令牌"))):
        add_nav_item(app, endpoint, label, Role.BANK, order=order, tenant_admin_only=True)


def _self_report_wording() -> dict:
    """The enterprise portal's own words for what an enterprise may self-report, so both sides read alike."""
    from xinyidai.domain.vocabulary import SELF_REPORT_TOPICS

    return {"self_report_topics": SELF_REPORT_TOPICS}

