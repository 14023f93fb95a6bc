"""Bank services (DESIGN §5, §6, §8) below the channels: products, the pipeline, outcomes, privacy, the SLA clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import utcnow
from models.consent import Authorization
from models.enterprise import Enterprise
from models.identity import Role
from models.lending import (
    Application,
    ApplicationState,
    Channel,
    FinancingNeed,
    LoanPerformance,
    ProductStatus,
)
from xinyidai.domain import products as operations
from xinyidai.domain.authorizations import enterprise_view
from xinyidai.domain.errors import Invalid, NotFound
from xinyidai.domain.lifecycle import Actor, Disbursement, IllegalTransition, transition
from xinyidai.domain.pipeline import PipelineFilters, pipeline_page
from xinyidai.domain.working_days import add_working_days, working_days_between

S = ApplicationState
PRODUCT = {"code": "KC1", "name_zh": "科创贷", "name_en": "Tech loan", "min_amount_fen": 10_000_000,
           "max_amount_fen": 300_000_000, "min_term_months": 3, "max_term_months": 36, "min_rate_bp": 300,
           "max_rate_bp": 480, "guarantee_type": "信用"}


def web(user=None) -> Actor:
    return Actor(Channel.WEB, user_id=user.id if user else None)


def test_a_new_product_is_matched_against_open_needs(db_session, make_bank, make_enterprise):
    bank = make_bank()
    enterprise = make_enterprise()
    need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                         guarantee_types=["信用"])
    db_session.add(need)
    db_session.flush()
    product = operations.create_product(db_session, bank.id, PRODUCT, web())
    apps = db_session.scalars(sa.select(Application).where(Application.product_id == product.id)).all()
    assert [a.need_id for a in apps] == [need.id]


def test_product_ranges_must_be_ordered(db_session, make_bank):
    with pytest.raises(Invalid) as invalid:
        operations.create_product(db_session, make_bank().id, {**PRODUCT, "min_term_months": 48}, web())
    assert "max_term_months" in invalid.value.errors


def test_editing_a_product_leaves_existing_applications_alone(db_session, make_application):
    application = make_application()
    product = application.product
    operations.update_product(db_session, product, {"max_amount_fen": 20_000_000}, web())
    assert db_session.get(Application, application.id) is not None
    operations.set_product_status(db_session, product, ProductStatus.PAUSED, web())
    assert product.status is ProductStatus.PAUSED


def test_another_banks_application_is_not_found(db_session, make_application, make_bank):
    application = make_application()
    with pytest.raises(NotFound):
        operations.bank_application(db_session, make_bank().id, application.id)
    with pytest.raises(NotFound):
        operations.bank_application(db_session, application.bank_id, 2**40)


def test_full_outcome_path_and_monthly_reports(db_session, make_application):
    application = make_application()
    actor = web()
    operations.claim(db_session, application, actor)
    operations.report_outcome(db_session, application, operations.OutcomeReport(S.APPROVED), actor)
    application.claimed_at = application.decided_at = datetime(2026, 1, 2, tzinfo=UTC)  # the loan follows it
    loan = Disbursement(40_000_000, 385, 12, date(2026, 1, 5), "信用")
    operations.report_outcome(db_session, application, operations.OutcomeReport(S.DISBURSED, disbursement=loan), actor)
    report = operations.OutcomeReport(S.REPAYING, as_of=date(2026, 1, 31), outstanding_fen=40_000_000)
    assert not operations.report_outcome(db_session, application, report, actor).repeated
    assert operations.report_outcome(db_session, application, report, actor).repeated
    overdue = operations.OutcomeReport(S.OVERDUE, days_past_due=31, as_of=date(2026, 2, 28), outstanding_fen=38_000_000)
    operations.report_outcome(db_session, application, overdue, actor, idempotency_key="k1")
    assert operations.report_outcome(db_session, application, overdue, actor, idempotency_key="k1").repeated
    assert application.state is S.OVERDUE
    later = operations.OutcomeReport(S.OVERDUE, days_past_due=60, as_of=date(2026, 3, 31), outstanding_fen=38_000_000)
    operations.report_outcome(db_session, application, later, actor)
    assert application.days_past_due == 60
    assert db_session.scalar(sa.select(sa.func.count()).select_from(LoanPerformance)
                             .where(LoanPerformance.application_id == application.id)) == 3


def test_reassign_only_within_the_bank(db_session, make_application, make_user):
    application = make_application()
    mine = make_user(Role.BANK, bank_id=application.bank_id)
    theirs = make_user(Role.BANK)
    with pytest.raises(IllegalTransition):
        operations.reassign(db_session, application, mine.id, web())
    operations.claim(db_session, application, web(mine))
    with pytest.raises(Invalid):
        operations.reassign(db_session, application, theirs.id, web(mine))
    other = make_user(Role.BANK, bank_id=application.bank_id)
    operations.reassign(db_session, application, other.id, web(mine))
    assert application.claimed_by_id == other.id


def test_pipeline_filters_and_pages(db_session, make_product, make_application, make_enterprise):
    product = make_product()
    for district in ("310115", "310115", "310104"):
        enterprise = make_enterprise(district_code=district)
        need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="x",
                             guarantee_types=["信用"])
        db_session.add(need)
        db_session.flush()
        make_application(product=product, need=need)
    page = pipeline_page(db_session, product.bank_id, PipelineFilters(), per_page=2)
    assert len(page.rows) == 2
    assert page.has_more
    pudong = pipeline_page(db_session, product.bank_id, PipelineFilters(district="310115"))
    assert {row.district_code for row in pudong.rows} == {"310115"}
    assert len(pudong.rows) == 2
    assert pipeline_page(db_session, product.bank_id, PipelineFilters(min_grade="A")).rows == []


def test_detail_only_under_a_live_authorization_and_audited(db_session, make_application, make_user):
    application = make_application()
    enterprise_user = make_user(Role.ENTERPRISE, enterprise_uscc=application.uscc)
    view = enterprise_view(db_session, application, web())
    assert view.detail is None
    assert "name" not in view.summary
    grant = Authorization(uscc=application.uscc, sources=["tax"], all_banks=False, granted_by_id=enterprise_user.id,
                          granted_at=utcnow() - timedelta(days=1), expires_at=utcnow() + timedelta(days=30))
    grant.banks = [application.product.bank]
    db_session.add(grant)
    db_session.flush()
    view = enterprise_view(db_session, application, web())
    assert view.detail["uscc"] == application.uscc
    audit = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "view_credit_detail"))
    assert audit.authorization_id == grant.id
    grant.revoked_at = utcnow()
    assert enterprise_view(db_session, application, web()).detail is None


def test_working_days_skip_weekends():
    friday = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert add_working_days(friday, 1).date() == date(2026, 11, 23)
    assert working_days_between(friday, datetime(2026, 11, 23, 2, tzinfo=UTC)) == 1
    assert working_days_between(friday, friday) == 0


def test_contact_details_only_for_the_bank_that_claimed_the_need(db_session, make_application, make_user):
    application = make_application()
    enterprise = db_session.get(Enterprise, application.uscc)
    enterprise.contact_name, enterprise.contact_phone = "王经理", "13800000000"
    enterprise_user = make_user(Role.ENTERPRISE, enterprise_uscc=application.uscc)
    grant = Authorization(uscc=application.uscc, sources=["tax"], all_banks=True, granted_by_id=enterprise_user.id,
                          granted_at=utcnow() - timedelta(days=1), expires_at=utcnow() + timedelta(days=30))
    db_session.add(grant)
    db_session.flush()
    matched = enterprise_view(db_session, application, web())
    assert matched.detail["name"] == enterprise.name
    assert matched.detail["contact_phone"] is None
    transition(db_session, application, ApplicationState.CLAIMED, web())
    claimed = enterprise_view(db_session, application, web())
    assert claimed.detail["contact_phone"] == "13800000000"
