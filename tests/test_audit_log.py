"""The append-only audit log (DESIGN §8): what gets written, how the platform operator searches it, and
that nothing in the app can change or delete a row once written."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry, AuditLogIsAppendOnly
from models.base import utcnow
from models.identity import Role
from tests.conftest import TEST_PASSWORD, csrf_token, fresh_uscc
from xinyidai.audit import record
from xinyidai.extensions import db


def text(response) -> str:
    return response.get_data(as_text=True)


def listed_actions(page: str) -> list[str]:
    """The action column of the result table, in order."""
    return re.findall(r"<td><a href=\"[^\"]*\" title=\"([a-z_]+)\">", page)


@pytest.fixture
def admin_client(app, make_user):
    """A client logged in as a platform admin (its own login is in the log too)."""
    client = app.test_client()
    admin = make_user(Role.ADMIN)
    response = client.post("/login", data={"username": admin.username, "password": TEST_PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    client.admin = admin
    return client


# ---------------------------------------------------------------- searching

def test_admin_finds_entries_by_action_actor_enterprise_and_period(admin_client, make_user, db_session):
    officer = make_user(Role.BANK, username="officer-wang")
    target, other = fresh_uscc(), fresh_uscc()
    old = record(db_session, "view_credit_detail", actor_user_id=officer.id, subject_uscc=target, detail={"application_id": 1})
    old.occurred_at = utcnow() - timedelta(days=40)
    record(db_session, "view_credit_detail", actor_user_id=officer.id, subject_uscc=target, detail={"application_id": 2})
    record(db_session, "view_credit_detail", actor_user_id=officer.id, subject_uscc=other, detail={"application_id": 3})
    record(db_session, "export", actor_user_id=officer.id, detail={"what": "bank_dashboard"})
    db_session.commit()

    page = text(admin_client.get(f"/admin/audit?uscc={target.lower()}"))  # lower case is normalised
    assert listed_actions(page) == ["view_credit_detail", "view_credit_detail"]
    assert "application_id=2" in page
    assert "application_id=1" in page
    assert "application_id=3" not in page

    recent = (utcnow() - timedelta(days=7)).date().isoformat()
    page = text(admin_client.get(f"/admin/audit?uscc={target}&date_from={recent}"))
    assert listed_actions(page) == ["view_credit_detail"]
    assert "application_id=2" in page

    page = text(admin_client.get("/admin/audit?actor=officer-wang&action=export"))
    assert listed_actions(page) == ["export"]
    assert "officer-wang" in page

    by_id = text(admin_client.get(f"/admin/audit?actor={officer.id}"))
    assert len(listed_actions(by_id)) == 4


def test_audit_search_pages_newest_first(admin_client, db_session):
    uscc = fresh_uscc()
    for n in range(55):
        entry = record(db_session, "view_credit_detail", actor_label="pager", subject_uscc=uscc, detail={"n": n})
        entry.occurred_at = utcnow() - timedelta(minutes=100 - n)
    db_session.commit()
    first = text(admin_client.get(f"/admin/audit?uscc={uscc}"))
    assert len(listed_actions(first)) == 50
    assert first.index("n=54<") < first.index("n=53<") < first.index("n=5<")
    assert "n=4<" not in first
    assert "page=2" in first
    second = text(admin_client.get(f"/admin/audit?uscc={uscc}&page=2"))
    assert len(listed_actions(second)) == 5
    assert "n=0<" in second
    assert "page=3" not in second


def test_invalid_filters_are_refused_beside_their_field(admin_client):
    code = fresh_uscc()
    bad_check = code[:-1] + ("0" if code[-1] != "0" else "1")
    response = admin_client.get(f"/admin/audit?uscc={bad_check}")
    assert response.status_code == 422
    assert "第18位校验码错误" in text(response)  # the message names the part that failed
    assert "请更正筛选条件后再查询。" in text(response)

    response = admin_client.get("/admin/audit?date_from=2026-03-10&date_to=2026-03-01")
    assert response.status_code == 422
    assert "结束日期不能早于开始日期。" in text(response)

    response = admin_client.get("/admin/audit?action=DROP%20TABLE&lang=en")
    assert response.status_code == 422
    assert "date_from" in text(response)  # the form is shown again


def test_the_search_is_a_plain_get_without_csrf_and_changes_nothing(admin_client):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    response = admin_client.get("/admin/audit?action=login")
    assert response.status_code == 200
    assert 'method="get"' in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == before


# ---------------------------------------------------------------- what is recorded

def test_every_login_failure_is_recorded_and_searchable(app, admin_client, make_user):
    victim = make_user(Role.BANK)
    client = app.test_client()
    for username, password in ((victim.username, "wrong password"), ("nobody-here", "whatever")):
        client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(client)})
    page = text(admin_client.get(f"/admin/audit?action=login_failed&actor={victim.username}"))
    assert listed_actions(page) == ["login_failed"]
    assert "reason=bad_password" in page
    page = text(admin_client.get("/admin/audit?action=login_failed&actor=nobody-here"))
    assert listed_actions(page) == ["login_failed"]
    assert "reason=unknown_user" in page


def test_a_wrong_api_token_is_recorded_like_a_failed_login(app, admin_client):
    response = app.test_client().get("/api/v1/products", headers={"Authorization": "Bearer xyd_notarealtoken123"})
    assert response.status_code == 401
    page = text(admin_client.get("/admin/audit?action=api_auth_failed"))
    assert "xyd_notareal" in page
    assert "notarealtoken123" not in page


def test_authorization_changes_are_recorded(app, admin_client, make_user, make_bank, db_session):
    owner = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    bank = make_bank()
    db_session.commit()
    client = app.test_client()
    client.post("/login", data={"username": owner.username, "password": TEST_PASSWORD, "csrf_token": csrf_token(client)})
    token = csrf_token(client, "/enterprise/authorizations")
    expires = (utcnow() + timedelta(days=90)).date().isoformat()
    response = client.post("/enterprise/authorizations", data={
        "csrf_token": token, "sources": ["tax"], "scope": "chosen", "bank_ids": [str(bank.id)], "expires_on": expires})
    assert response.status_code == 302, text(response)[:2000]
    page = text(admin_client.get(f"/admin/audit?uscc={owner.enterprise_uscc}"))
    assert "authorization_granted" in listed_actions(page)
    authorization_id = db_session.scalar(sa.select(AuditEntry.authorization_id).where(
        AuditEntry.action == "authorization_granted", AuditEntry.subject_uscc == owner.enterprise_uscc))
    client.post(f"/enterprise/authorizations/{authorization_id}/revoke", data={"csrf_token": token})
    page = text(admin_client.get(f"/admin/audit?uscc={owner.enterprise_uscc}&action=authorization_revoked"))
    assert listed_actions(page) == ["authorization_revoked"]


def test_users_created_from_the_command_line_are_recorded(cli, admin_client, make_bank, db_session):
    bank = make_bank()
    db_session.commit()
    result = cli.invoke(args=["user", "create", "officer-li", "--role", "bank", "--bank", bank.code,
                              "--password-stdin"], input="a long enough password\n")
    assert result.exit_code == 0, result.output
    page = text(admin_client.get("/admin/audit?action=user_created"))
    assert "username=officer-li" in page
    assert "must_change_password=True" in page
    assert "role=bank" in page


# ---------------------------------------------------------------- append-only

def test_an_audit_row_joins_the_session_it_is_given_not_the_global_one(db_session):
    """The caller's unit of work carries its audit row: rolled back with it, whatever db.session holds."""
    other = sa.orm.Session(bind=db_session.get_bind(), join_transaction_mode="create_savepoint")
    try:
        entry = record(other, "export", actor_label="own unit of work", detail={"what": "x"})
        assert entry in other
        assert entry not in db_session
        other.rollback()
    finally:
        other.close()
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.actor_label == "own unit of work")) == 0



def test_an_audit_row_cannot_be_edited_or_deleted_through_the_orm(db_session):
    entry = record(db_session, "export", actor_label="someone", detail={"what": "x"})
    db_session.commit()
    entry.action = "nothing_happened"
    with pytest.raises(AuditLogIsAppendOnly):
        db_session.flush()
    db_session.rollback()
    db_session.delete(db_session.get(AuditEntry, entry.id))
    with pytest.raises(AuditLogIsAppendOnly):
        db_session.flush()
    db_session.rollback()


@pytest.mark.parametrize("statement", [
    sa.update(AuditEntry).values(action="nothing_happened"),
    sa.delete(AuditEntry),
    sa.update(AuditEntry.__table__).values(action="nothing_happened"),
    sa.delete(AuditEntry.__table__),
], ids=["orm-update", "orm-delete", "core-update", "core-delete"])
def test_bulk_statements_cannot_change_the_audit_log(db_session, statement):
    entry = record(db_session, "export", actor_label="someone", detail={"what": "x"})
    db_session.commit()
    with pytest.raises(AuditLogIsAppendOnly):
        db_session.execute(statement)
    db_session.rollback()
    assert db_session.get(AuditEntry, entry.id).action == "export"


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET action = 'x'", "delete from audit_log",
                                 '  DELETE FROM "audit_log" WHERE id > 0'])
def test_plain_sql_on_a_connection_cannot_change_the_audit_log(db_session, sql):
    record(db_session, "export", actor_label="someone", detail={"what": "x"})
    db_session.commit()
    with pytest.raises(AuditLogIsAppendOnly):
        db_session.connection().exec_driver_sql(sql)
    db_session.rollback()


def test_postgresql_itself_refuses_changes_to_the_audit_log(db_session):
    """The trigger holds even for SQL that never passes through the app's guards."""
    connection = db_session.connection()
    if connection.dialect.name != "postgresql":
        pytest.skip("the database trigger exists on PostgreSQL only (SQLite relies on the app's guards)")
    record(db_session, "export", actor_label="someone", detail={"what": "x"})
    db_session.flush()
    raw = connection.connection.dbapi_connection.cursor()  # below SQLAlchemy: no event sees this
    import psycopg

    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        raw.execute("SAVEPOINT raw_attempt; UPDATE audit_log SET action = 'x'")
    raw.execute("ROLLBACK TO SAVEPOINT raw_attempt")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        raw.execute("DELETE FROM audit_log")
    raw.execute("ROLLBACK TO SAVEPOINT raw_attempt")


def test_actions_read_as_words_with_a_select_filter_and_the_log_exports_audited(admin_client, make_user, db_session):
    officer = make_user(Role.BANK, username="officer-li")
    record(db_session, "view_credit_detail", actor_user_id=officer.id, subject_uscc=fresh_uscc(), detail={"application_id": 9})
    db_session.commit()
    page = text(admin_client.get("/admin/audit?action=view_credit_detail"))
    assert ">查看企业信用明细</a>" in page
    assert '<select class="field__input" id="action" name="action"' in page or '<select id="action" name="action"' in page
    assert '<option selected value="view_credit_detail">查看企业信用明细</option>' in page
    english = text(admin_client.get("/admin/audit?action=view_credit_detail&lang=en"))
    assert "Viewed credit detail" in english
    export = admin_client.get("/admin/audit/export.csv?action=view_credit_detail&lang=zh")
    assert export.status_code == 200
    assert export.headers["Cache-Control"] == "no-store"
    lines = export.get_data(as_text=True).splitlines()
    assert lines[1].startswith("时间,操作类型,操作代码")
    assert any("查看企业信用明细,view_credit_detail,officer-li" in line for line in lines[2:])
    exported = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "export")).all()
    assert [e.detail["what"] for e in exported] == ["audit_log"]
    assert exported[0].detail["filters"] == {"action": "view_credit_detail"}


def test_deliveries_are_in_the_admins_navigation(admin_client):
    page = text(admin_client.get("/admin/"))
    assert 'href="/admin/deliveries"' in page
