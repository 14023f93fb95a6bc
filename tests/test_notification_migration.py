"""Migration 0003 keeps what people had already read: the old "mark all read" markers in the audit log become
read marks, so nobody's old notifications turn unread after the upgrade."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy import orm

from models.audit import AuditEntry
from models.enterprise import Enterprise, EnterpriseStatus, SizeClass
from models.identity import Role
from models.lending import (
    Application,
    ApplicationEvent,
    ApplicationState,
    Bank,
    Channel,
    FinancingNeed,
    GuaranteeType,
    Product,
)
from models.notification import NotificationRead
from tests.conftest import fresh_uscc
from tests.live_server import throwaway_database
from xinyidai import create_app
from xinyidai.domain.users import new_user
from xinyidai.extensions import db


@pytest.fixture
def app_on_empty_database(tmp_path):
    with throwaway_database(tmp_path) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "XYD_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                          "TESTING": True})
        with app.app_context():
            yield app
            db.engine.dispose()


def _world_before_0003(session) -> dict:
    uscc = fresh_uscc()
    session.add(Enterprise(uscc=uscc, name="Latin Widgets Ltd", district_code="310115", industry_section="I",
                           industry_division="65", established_on=date(2018, 5, 1), registered_capital_fen=1,
                           status=EnterpriseStatus.OPERATING, size_class=SizeClass.SMALL))
    bank = Bank(code="MIG", name_zh="Harbour Bank", name_en="Harbour Bank")
    session.add(bank)
    session.flush()
    owner = new_user(username="owner", display_name="Owner", role=Role.ENTERPRISE, password="x" * 12,
                     enterprise_uscc=uscc)
    colleague = new_user(username="colleague", display_name="Colleague", role=Role.ENTERPRISE, password="x" * 12,
                         enterprise_uscc=uscc)
    officer = new_user(username="officer", display_name="Officer", role=Role.BANK, password="x" * 12, bank_id=bank.id)
    product = Product(bank_id=bank.id, code="P", name_zh="Loan", name_en="Loan", min_amount_fen=1, max_amount_fen=10**9,
                      min_term_months=1, max_term_months=36, min_rate_bp=300, max_rate_bp=480,
                      guarantee_type=GuaranteeType.CREDIT)
    session.add_all([owner, colleague, officer, product])
    session.flush()
    need = FinancingNeed(uscc=uscc, amount_fen=50_000_000, term_months=12, purpose="流动资金周转", guarantee_types=["信用"])
    session.add(need)
    session.flush()
    application = Application(need_id=need.id, product_id=product.id, bank_id=bank.id, uscc=uscc)
    session.add(application)
    session.flush()
    events = []
    for state in (ApplicationState.CLAIMED, ApplicationState.APPROVED):
        events.append(ApplicationEvent(application_id=application.id, to_state=state, channel=Channel.WEB,
                                       actor_user_id=officer.id))
        session.add(events[-1])
        session.flush()
    # the owner had marked everything up to the claim read (the old way); the colleague never did
    session.add(AuditEntry(action="notifications_read", actor_user_id=owner.id, subject_uscc=uscc,
                           detail={"up_to_event_id": events[0].id}))
    session.commit()
    return {"owner": owner.id, "colleague": colleague.id, "claim": events[0].id, "approval": events[1].id}


def test_old_read_markers_become_read_marks(app_on_empty_database):
    # A session of its own on this database: the suite's db.session is bound to the shared test database.
    upgrade(revision="0002")
    with orm.Session(db.engine) as session:
        world = _world_before_0003(session)
    upgrade()
    with db.engine.connect() as connection:
        reads = set(connection.execute(sa.select(NotificationRead.user_id, NotificationRead.event_id)))
    assert reads == {(world["owner"], world["claim"])}
