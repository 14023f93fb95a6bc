"""Forgot password (issue 14): the operator issues a one-time password; the user must change it at the next
login; the page showing it is never cached; the reset is audited and ends the user's other sessions."""

from __future__ import annotations

import re

import sqlalchemy as sa

from models.audit import AuditEntry
from models.identity import Role
from tests.conftest import TEST_PASSWORD, csrf_token
from tests.test_every_page import logged_in


def test_an_operator_resets_a_forgotten_password_with_a_one_time_password(app, client, login, make_user, db_session):
    admin = make_user(Role.ADMIN)
    officer = make_user(Role.BANK, is_tenant_admin=True)
    elsewhere = logged_in(app, officer)  # the officer's own session, on another device
    assert "忘记密码？" in client.get("/login").get_data(as_text=True)
    login(admin)
    response = client.post("/admin/users/reset-password",
                           data={"username": officer.username, "csrf_token": csrf_token(client, "/admin/")})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    one_time = re.search(r"data-one-time-password>([^<]+)<", response.get_data(as_text=True)).group(1)
    entry = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "password_reset")).one()
    assert entry.actor_user_id == admin.id
    assert entry.detail["username"] == officer.username
    assert one_time not in str(entry.detail)
    assert elsewhere.get("/bank/").status_code == 302  # the other session has ended
    stranger = logged_in(app, None)
    assert stranger.post("/login", data={"username": officer.username, "password": TEST_PASSWORD,
                                         "csrf_token": csrf_token(stranger)}).status_code != 302  # the old one is gone
    fresh = logged_in(app, None)
    response = fresh.post("/login", data={"username": officer.username, "password": one_time,
                                          "csrf_token": csrf_token(fresh)})
    assert response.status_code == 302
    assert fresh.get("/bank/").headers["Location"].startswith("/account/password")  # must change it first


def test_nobody_resets_their_own_password_or_an_unknown_one(client, login, make_user, db_session):
    admin = make_user(Role.ADMIN)
    login(admin)
    for username in (admin.username, "nobody-at-all"):
        response = client.post("/admin/users/reset-password",
                               data={"username": username, "csrf_token": csrf_token(client, "/admin/")})
        assert response.status_code == 302
    assert db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "password_reset")).all() == []
