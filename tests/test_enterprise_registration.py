"""Registration by USCC, name and contact: one account per enterprise, staff invited by its administrator,
refusals that do not say which part was wrong, rate-limited."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.enterprise import EnterpriseStatus
from models.identity import Role, User
from tests.conftest import TEST_PASSWORD, count_rows, csrf_token, fresh_uscc

GENERIC_REFUSAL = "无法完成注册：请核对统一社会信用代码和企业名称是否与营业执照一致。"


def text(response) -> str:
    return response.get_data(as_text=True)


def form(enterprise=None, **overrides) -> dict:
    values = {"uscc": enterprise.uscc if enterprise else fresh_uscc(), "name": enterprise.name if enterprise else "无名",
              "contact_name": "李娜", "contact_phone": "13912345678", "contact_email": "li.na@example.com",
              "username": "lina-finance", "password": TEST_PASSWORD, "confirm_password": TEST_PASSWORD,
              "acting_for": "y"}
    values.update(overrides)
    return values


def register(client, data: dict):
    return client.post("/register", data={**data, "csrf_token": csrf_token(client, "/register")})


def registry_enterprise(make_enterprise, **fields):
    return make_enterprise(name=fields.pop("name", "上海浦江精密机械（集团）有限公司"), **fields)


def test_registration_creates_the_administrator_sets_contacts_and_logs_in(client, db_session, make_enterprise):
    enterprise = registry_enterprise(make_enterprise)
    # full-width brackets and a lower-case code are the same name and the same code
    response = register(client, form(enterprise, uscc=enterprise.uscc.lower(), name="上海浦江精密机械(集团)有限公司"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/enterprise/authorizations"
    user = db_session.scalar(sa.select(User).where(User.username == "lina-finance"))
    assert user.role is Role.ENTERPRISE
    assert user.enterprise_uscc == enterprise.uscc
    assert user.is_tenant_admin
    assert user.password_hash.startswith("scrypt:")
    db_session.refresh(enterprise)
    assert (enterprise.contact_name, enterprise.contact_phone) == ("李娜", "13912345678")
    assert enterprise.registered_at is not None
    assert db_session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "enterprise_registered",
                                                         AuditEntry.subject_uscc == enterprise.uscc))
    assert client.get("/enterprise/authorizations").status_code == 200  # logged in


def test_an_invalid_code_says_which_part_is_wrong_and_keeps_what_was_typed(client, db_session, make_enterprise):
    enterprise = registry_enterprise(make_enterprise)
    bad = enterprise.uscc[:-1] + ("0" if enterprise.uscc[-1] != "0" else "1")
    response = register(client, form(enterprise, uscc=bad, contact_phone="12345"))
    assert response.status_code == 422
    page = text(response)
    assert "校验码" in page
    assert "请填写有效的手机号或座机号" in page
    assert f'value="{bad}"' in page
    assert 'value="李娜"' in page
    assert 'value="correct horse' not in page  # passwords are never echoed
    assert count_rows(User) == 0


def test_unknown_code_wrong_name_closed_firm_and_second_account_get_one_message(client, db_session, make_enterprise,
                                                                                make_user):
    open_firm = registry_enterprise(make_enterprise)
    closed = registry_enterprise(make_enterprise, status=EnterpriseStatus.CANCELLED)
    taken = registry_enterprise(make_enterprise)
    make_user(Role.ENTERPRISE, enterprise_uscc=taken.uscc)
    attempts = [form(uscc=fresh_uscc(), name="不存在的公司", username="user-1"),
                form(open_firm, name="上海别的公司", username="user-2"),
                form(closed, username="user-3"),
                form(taken, username="user-4")]
    before = count_rows(User)
    for attempt in attempts:
        response = register(client, attempt)
        assert response.status_code == 422
        assert GENERIC_REFUSAL in text(response)
        assert "已注册" not in text(response)
        assert "不存在" not in re.sub(r'value="[^"]*"', "", text(response))
    assert count_rows(User) == before
    db_session.refresh(open_firm)
    assert open_firm.registered_at is None
    assert open_firm.contact_name is None
    reasons = db_session.scalars(sa.select(AuditEntry.detail).where(AuditEntry.action == "registration_refused")).all()
    assert sorted(r["reason"] for r in reasons) == ["already_registered", "name_mismatch", "not_operating", "unknown_uscc"]


def test_a_taken_username_is_named_and_nothing_is_saved(client, db_session, make_enterprise, make_user):
    make_user(Role.ADMIN, username="lina-finance")
    enterprise = registry_enterprise(make_enterprise)
    response = register(client, form(enterprise))
    assert response.status_code == 422
    assert "该用户名已被使用" in text(response)
    db_session.refresh(enterprise)
    assert enterprise.registered_at is None


def test_every_field_is_checked_and_english_on_request(client, db_session):
    client.get("/register?lang=en")
    response = register(client, {"uscc": "", "name": "", "contact_name": "", "contact_phone": "", "username": "a",
                                 "password": "short", "confirm_password": "other"})
    assert response.status_code == 422
    page = text(response)
    for message in ("This field is required.", "Username must be 3–64 letters", "between 10 and 256",
                    "The passwords do not match.", "Please confirm you may act for the enterprise."):
        assert message in page, message
    assert count_rows(User) == 0


@pytest.mark.parametrize(("password", "zh", "en"), [
    ("aaaaaaaaaaaa", "密码由重复的字符或片段组成", "Password is made of repeated characters"),
    ("1234567890", "密码是常见密码或常见词语", "Password is a common password"),
    ("woaini1314520", "密码是常见密码或常见词语", "Password is a common password"),
    ("lina-finance2026", "密码包含用户名、姓名、企业名称或平台名称", "Password contains the username"),
])
def test_a_guessable_password_is_refused_beside_its_field_in_both_languages(client, db_session, make_enterprise,
                                                                           password, zh, en):
    enterprise = registry_enterprise(make_enterprise)
    response = register(client, form(enterprise, password=password, confirm_password=password))
    assert response.status_code == 422
    assert re.search(r'id="password-error">\s*<p>' + re.escape(zh), text(response))
    client.get("/register?lang=en")
    english = text(register(client, form(enterprise, password=password, confirm_password=password)))
    assert en in english
    assert count_rows(User) == 0


def test_registration_needs_a_csrf_token(client, make_enterprise):
    response = client.post("/register", data=form(registry_enterprise(make_enterprise)))
    assert response.status_code == 400


def test_registration_is_rate_limited_per_address(tmp_path):
    from xinyidai import create_app
    from xinyidai.extensions import db

    app = create_app({"SECRET_KEY": "x", "XYD_INSTANCE_PATH": str(tmp_path), "WTF_CSRF_ENABLED": False,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                      "XYD_REGISTER_RATE_LIMIT": "3/minute"})
    with app.app_context():
        db.create_all()
    client = app.test_client()
    statuses = [client.post("/register", data={"uscc": "x"}).status_code for _ in range(4)]
    assert statuses == [422, 422, 422, 429]
    assert client.get("/register").status_code == 200  # viewing the form is never limited


def test_administrator_invites_staff_who_must_choose_a_password(client, db_session, make_enterprise, make_user, login):
    enterprise = registry_enterprise(make_enterprise)
    admin = make_user(Role.ENTERPRISE, enterprise_uscc=enterprise.uscc, is_tenant_admin=True)
    login(admin)
    response = client.post("/enterprise/staff", data={"display_name": "王会计", "username": "wang-acct",
                                                      "csrf_token": csrf_token(client, "/enterprise/staff")})
    assert response.status_code == 200
    password = re.search(r'<code class="ent-secret">([^<]+)</code>', text(response)).group(1)
    staff = db_session.scalar(sa.select(User).where(User.username == "wang-acct"))
    assert staff.enterprise_uscc == enterprise.uscc
    assert not staff.is_tenant_admin
    assert staff.must_change_password
    assert password not in str(db_session.scalars(sa.select(AuditEntry.detail)).all())

    bad = client.post("/enterprise/staff", data={"display_name": "", "username": "wang-acct",
                                                 "csrf_token": csrf_token(client, "/enterprise/staff")})
    assert bad.status_code == 422
    assert "请填写此项" in text(bad)
    assert count_rows(User) == 2


def test_staff_cannot_invite_and_nobody_deactivates_another_enterprises_user(client, db_session, make_user, login):
    admin = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    colleague = make_user(Role.ENTERPRISE, enterprise_uscc=admin.enterprise_uscc)
    stranger = make_user(Role.ENTERPRISE)
    login(colleague)
    token = csrf_token(client, "/enterprise/staff")
    assert client.post("/enterprise/staff", data={"display_name": "x", "username": "xyz", "csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    login(admin)
    token = csrf_token(client, "/enterprise/staff")
    assert client.post(f"/enterprise/staff/{stranger.id}/deactivate", data={"csrf_token": token}).status_code == 404
    client.post(f"/enterprise/staff/{colleague.id}/deactivate", data={"csrf_token": token})
    db_session.refresh(colleague)
    db_session.refresh(stranger)
    assert not colleague.is_active
    assert stranger.is_active


def test_a_taken_username_is_not_revealed_before_the_registry_check(client, make_user):
    """Without a real, unregistered enterprise and its exact name, the form answers the same whether the
    username exists or not: it is no oracle for usernames (issue 13 item 6)."""
    make_user(Role.ADMIN, username="demo-admin-probe")
    taken = text(register(client, form(uscc=fresh_uscc(), name="不存在的公司", username="demo-admin-probe")))
    free = text(register(client, form(uscc=fresh_uscc(), name="不存在的公司", username="nobody-has-this")))
    assert "该用户名已被使用" not in taken
    assert GENERIC_REFUSAL in taken
    assert GENERIC_REFUSAL in free
