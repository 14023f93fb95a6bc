"""A bank's administrator manages the bank's own staff under /bank/staff: invites with a one-time password,
roles, hand-over of an officer's applications, deactivation — scoped to the bank and audited."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.identity import Role, User
from models.lending import ApplicationState, Bank
from tests.conftest import csrf_token
from xinyidai.extensions import db

S = ApplicationState


@pytest.fixture
def bank_admin(make_user, make_bank, login):
    user = make_user(Role.BANK, bank_id=make_bank().id, is_tenant_admin=True, display_name="王管理")
    login(user)
    return user


def post(client, path, data=None):
    response = client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, "/bank/staff")})
    db.session.expire_all()
    return response


def audit_actions(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_the_administrator_invites_an_officer_who_must_choose_a_password(client, bank_admin, app):
    response = post(client, "/bank/staff", {"display_name": "李经理", "username": "li.officer", "email": "",
                                            "phone": ""})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = re.search(r'data-testid="temporary-password">([^<]+)<', response.get_data(as_text=True)).group(1)
    officer = db.session.scalar(sa.select(User).where(User.username == "li.officer"))
    assert (officer.role, officer.bank_id, officer.is_tenant_admin, officer.must_change_password) == \
        (Role.BANK, bank_admin.bank_id, False, True)
    assert any(e.detail["user_id"] == officer.id and e.actor_user_id == bank_admin.id
               for e in audit_actions("user_created"))
    assert password not in client.get("/bank/staff").get_data(as_text=True)  # shown once
    other = app.test_client()
    answer = other.post("/login", data={"username": "li.officer", "password": password,
                                        "csrf_token": csrf_token(other)})
    assert answer.status_code == 302
    assert "/account/password" in answer.headers["Location"]


def test_a_taken_username_keeps_the_input_and_says_so(client, bank_admin):
    response = post(client, "/bank/staff", {"display_name": "李经理", "username": bank_admin.username})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "该用户名已被使用" in body
    assert 'value="李经理"' in body


def test_an_officer_who_is_not_administrator_cannot_manage_staff(client, make_user, make_bank, login):
    officer = make_user(Role.BANK, bank_id=make_bank().id)
    login(officer)
    assert client.get("/bank/staff").status_code == 403
    assert "/bank/staff" not in client.get("/bank/").get_data(as_text=True)  # not in the navigation either


def test_an_officer_holding_applications_is_handed_over_before_deactivation(
        client, bank_admin, make_user, make_product, make_application, db_session, app):
    leaving = make_user(Role.BANK, bank_id=bank_admin.bank_id, display_name="赵离职")
    colleague = make_user(Role.BANK, bank_id=bank_admin.bank_id, display_name="钱同事")
    product = make_product(bank=db.session.get(Bank, bank_admin.bank_id))
    held = [make_application(product=product, state=S.CLAIMED, claimed_by_id=leaving.id) for _ in range(2)]
    done = make_application(product=product, state=S.DECLINED, claimed_by_id=leaving.id)
    db_session.commit()

    refused = post(client, f"/bank/staff/{leaving.id}/deactivate")
    assert refused.status_code == 302
    assert "名下还有 2 笔在办申请" in client.get("/bank/staff").get_data(as_text=True)
    assert db.session.get(User, leaving.id).is_active

    post(client, f"/bank/staff/{leaving.id}/hand-over", {"to_user_id": colleague.id})
    assert [db.session.get(type(a), a.id).claimed_by_id for a in held] == [colleague.id, colleague.id]
    assert db.session.get(type(done), done.id).claimed_by_id == leaving.id  # a finished one stays as it was
    assert {e.detail["application_id"] for e in audit_actions("application_reassigned")} == {a.id for a in held}

    post(client, f"/bank/staff/{leaving.id}/deactivate")
    assert not db.session.get(User, leaving.id).is_active
    assert [e.detail["user_id"] for e in audit_actions("user_deactivated")] == [leaving.id]
    other = app.test_client()
    assert other.post("/login", data={"username": leaving.username, "password": "correct horse battery staple",
                                      "csrf_token": csrf_token(other)}).status_code == 200  # refused login


def test_roles_change_but_the_bank_keeps_an_administrator(client, bank_admin, make_user):
    officer = make_user(Role.BANK, bank_id=bank_admin.bank_id)
    post(client, f"/bank/staff/{officer.id}/role", {"tenant_admin": "1"})
    assert db.session.get(User, officer.id).is_tenant_admin
    post(client, f"/bank/staff/{officer.id}/role", {"tenant_admin": "0"})
    assert not db.session.get(User, officer.id).is_tenant_admin
    post(client, f"/bank/staff/{bank_admin.id}/role", {"tenant_admin": "0"})
    assert db.session.get(User, bank_admin.id).is_tenant_admin  # the last administrator stays one
    assert "至少保留一名在职的管理员" in client.get("/bank/staff").get_data(as_text=True)
    assert [e.detail["tenant_admin"] for e in audit_actions("user_role_changed")] == [True, False]


def test_another_banks_staff_look_missing(client, bank_admin, make_user):
    stranger = make_user(Role.BANK)
    enterprise_user = make_user(Role.ENTERPRISE)
    for target in (stranger, enterprise_user):
        for action in ("deactivate", "role", "hand-over"):
            assert post(client, f"/bank/staff/{target.id}/{action}", {"to_user_id": bank_admin.id}).status_code == 404
    assert db.session.get(User, stranger.id).is_active
    assert stranger.username not in client.get("/bank/staff").get_data(as_text=True)
