"""Migration 0003 keeps what people had already read: the old "mark all read" markers in the audit log become
read marks, so nobody's old notifications turn unread after the upgrade."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from models.enterprise import EnterpriseStatus, SizeClass
from models.identity import Role
from models.lending import ApplicationState, Channel, GuaranteeType
from models.notification import NotificationRead
from tests.conftest import fresh_uscc
from tests.live_server import throwaway_database
from xinyidai import create_app
from xinyidai.extensions import db


@pytest.fixture
def app_on_empty_database(tmp_path):
    with throwaway_database(tmp_path) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "XYD_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                          "TESTING": True})
        with app.app_context():
            yield app
            db.engine.dispose()


def _world_before_0003(connection) -> dict:
    """The world as revision 0002 stored it, written through the tables reflected at 0002: today's models
    carry columns later migrations added, which an INSERT at 0002 cannot name."""
    tables = sa.MetaData()
    tables.reflect(connection)
    now = datetime.now(UTC)

    def insert(table: str, **values) -> int | None:
        result = connection.execute(tables.tables[table].insert().values(**values))
        return result.inserted_primary_key[0] if result.inserted_primary_key else None

    uscc = fresh_uscc()
    insert("enterprises", uscc=uscc, name="Latin Widgets Ltd", district_code="310115", industry_section="I",
           industry_division="65", established_on=date(2018, 5, 1), registered_capital_fen=1,
           status=EnterpriseStatus.OPERATING.value, size_class=SizeClass.SMALL.value)
    bank_id = insert("banks", code="MIG", name_zh="Harbour Bank", name_en="Harbour Bank", is_active=True,
                     joined_at=now)

    def user(username: str, role: Role, **tenant) -> int:
        return insert("users", username=username, display_name=username.title(), password_hash="x",
                      role=role.value, is_active=True, is_tenant_admin=False, must_change_password=False,
                      failed_logins=0, session_nonce=username, created_at=now, **tenant)

    owner, colleague = user("owner", Role.ENTERPRISE, enterprise_uscc=uscc), user("colleague", Role.ENTERPRISE,
                                                                                  enterprise_uscc=uscc)
    officer = user("officer", Role.BANK, bank_id=bank_id)
    product_id = insert("products", bank_id=bank_id, code="P", name_zh="Loan", name_en="Loan", min_amount_fen=1,
                        max_amount_fen=10**9, min_term_months=1, max_term_months=36, min_rate_bp=300,
                        max_rate_bp=480, fee_bp=0, guarantee_type=GuaranteeType.CREDIT.value,
                        eligible_districts=[], eligible_industries=[], min_years_operating=0,
                        whitelist_only=False, status="active", created_at=now, updated_at=now)
    need_id = insert("financing_needs", uscc=uscc, amount_fen=50_000_000, term_months=12, purpose="流动资金周转",
                     guarantee_types=["信用"], urgency="normal", open_to_all_banks=True, status="open",
                     published_at=now, updated_at=now)
    application_id = insert("applications", need_id=need_id, product_id=product_id, bank_id=bank_id, uscc=uscc,
                            state=ApplicationState.MATCHED.value, applied_by_enterprise=False, days_past_due=0,
                            created_at=now, updated_at=now)
    events = [insert("application_events", application_id=application_id, to_state=state.value,
                     channel=Channel.WEB.value, actor_user_id=officer, detail={}, occurred_at=now)
              for state in (ApplicationState.CLAIMED, ApplicationState.APPROVED)]
    # the owner had marked everything up to the claim read (the old way); the colleague never did
    insert("audit_log", action="notifications_read", actor_user_id=owner, subject_uscc=uscc, occurred_at=now,
           detail={"up_to_event_id": events[0]})
    return {"owner": owner, "colleague": colleague, "claim": events[0], "approval": events[1]}


def test_old_read_markers_become_read_marks(app_on_empty_database):
    # A session of its own on this database: the suite's db.session is bound to the shared test database.
    upgrade(revision="0002")
    with db.engine.begin() as connection:
        world = _world_before_0003(connection)
    upgrade()
    with db.engine.connect() as connection:
        reads = set(connection.execute(sa.select(NotificationRead.user_id, NotificationRead.event_id)))
    assert reads == {(world["owner"], world["claim"])}
