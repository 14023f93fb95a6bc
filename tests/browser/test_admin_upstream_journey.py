"""The operator watches the reporting to the city node in a real browser: the outbox by status with a parked
event's reason, requeueing it, and the last reconciliation's differences."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from models.enterprise import Enterprise
from models.identity import Role
from models.lending import Application, Bank, FinancingNeed, GuaranteeType, Product
from models.upstream import OutboxEvent, OutboxStatus
from tests.browser.conftest import log_in
from xinyidai.domain import upstream
from xinyidai.extensions import db


def seed_parked_event_and_reconciliation(app) -> str:
    with app.app_context():
        session = db.session
        bank = session.scalar(sa.select(Bank).where(Bank.code == "LIVEBANK"))
        enterprise = session.scalar(sa.select(Enterprise).where(Enterprise.district_code == "310117"))
        product = Product(bank_id=bank.id, code="UPSTREAM1", name_zh="上报测试贷", name_en="Upstream loan",
                          min_amount_fen=10_000_000, max_amount_fen=300_000_000, min_term_months=3, max_term_months=36,
                          min_rate_bp=300, max_rate_bp=480, guarantee_type=GuaranteeType.CREDIT)
        need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                             guarantee_types=["信用"])
        session.add_all([product, need])
        session.flush()
        application = Application(need_id=need.id, product_id=product.id, bank_id=bank.id, uscc=enterprise.uscc)
        session.add(application)
        session.flush()
        event = session.scalar(sa.select(OutboxEvent).where(OutboxEvent.aggregate_id == str(application.id)))
        event.status, event.last_error = OutboxStatus.PARKED, "HTTP 422: product UPSTREAM1 is not registered"
        upstream.reconcile(session, "310117", date(2026, 11, 1), lambda district, month: {"needs": 99})
        session.commit()
        return event.event_id


def test_admin_sees_the_outbox_requeues_a_parked_event_and_reads_the_reconciliation(page, live_app, live_instance):
    app, users = live_app
    event_id = seed_parked_event_and_reconciliation(app)
    log_in(page, users[Role.ADMIN])
    page.wait_for_url("**/admin/")
    page.goto("/admin/upstream")
    row = page.locator("tr", has_text=event_id)
    assert "product UPSTREAM1 is not registered" in row.inner_text()
    reconciliation = page.locator("#reconciliation-heading + p + .table-wrap")
    assert "needs" in reconciliation.inner_text()
    assert "99" in reconciliation.inner_text()
    row.locator("button", has_text="重新排队").click()
    page.wait_for_url("**/admin/upstream?status=pending")
    assert page.locator("tr", has_text=event_id).count() == 1
    assert page.locator(".flash").count() == 1
    assert page.external_requests == []
