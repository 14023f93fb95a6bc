"""The operator onboards banks and office staff through /admin/banks and /admin/offices: new logins get a
one-time password shown once and must replace it at first login; bad input is refused beside its field and
saves nothing; deactivation ends a login; everything lands in the audit log."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.identity import Role, User
from models.lending import Bank
from tests.conftest import TEST_PASSWORD, count_rows, csrf_token


@pytest.fixture
def admin(make_user, login):
    user = make_user(Role.ADMIN)
    login(user)
    return user


def bank_form(client, **changes) -> dict:
    form = {"code": "nbk-sh", "name_zh": "新合作银行上海分行", "name_en": "New Partner Bank Shanghai",
            "officer_display_name": "王经理", "officer_username": "nbk.wang", "officer_email": "wang@nbk.example",
            "officer_phone": "021-12345678", "csrf_token": csrf_token(client, "/admin/banks")}
    return {**form, **changes}


def one_time_password(page: str) -> str:
    match = re.search(r'<code class="admin-secret">([^<]+)</code>', page)
    assert match, "no temporary password on the page"
    return match.group(1)


def audit_actions(actor: User) -> list[str]:
    from xinyidai.extensions import db

    return list(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.actor_user_id == actor.id)
                                   .order_by(AuditEntry.id)))


def test_admin_adds_a_bank_whose_first_administrator_must_change_the_shown_password(client, admin, db_session):
    response = client.post("/admin/banks", data=bank_form(client))
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    bank = db_session.scalar(sa.select(Bank).where(Bank.code == "NBK-SH"))
    assert bank is not None
    assert bank.name_en == "New Partner Bank Shanghai"
    officer = db_session.scalar(sa.select(User).where(User.username == "nbk.wang"))
    assert (officer.role, officer.bank_id, officer.is_tenant_admin, officer.must_change_password) == \
        (Role.BANK, bank.id, True, True)
    password = one_time_password(page)
    assert password not in client.get("/admin/banks").get_data(as_text=True)  # shown once only
    assert "NBK-SH" in client.get("/admin/banks").get_data(as_text=True)
    assert audit_actions(admin)[-2:] == ["bank_onboarded", "user_created"]

    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/banks")})
    login = client.post("/login", data={"username": "nbk.wang", "password": password, "csrf_token": csrf_token(client)})
    assert login.headers["Location"] == "/account/password"
    assert client.get("/bank/").headers["Location"] == "/account/password"


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"code": ""}, "银行代码", "请填写此项。"),
    ({"code": "中文代码"}, "银行代码", "银行代码须为 2–32 个字母、数字或连字符"),
    ({"name_en": "x" * 101}, "英文名称", "不能超过 100 个字符。"),
    ({"officer_username": "a b"}, "管理员用户名", "用户名须为 3–64 个字母、数字或 . _ -。"),
    ({"officer_phone": "12"}, "管理员联系电话", "请填写有效的手机号或座机号"),
    ({"officer_email": "not-an-address"}, "管理员电子邮箱", "请填写有效的电子邮箱。"),
])
def test_bad_bank_input_names_the_field_and_saves_nothing(client, admin, changes, field, message):
    banks, users = count_rows(Bank), count_rows(User)
    response = client.post("/admin/banks", data=bank_form(client, **changes))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf">{re.escape(field)}</a> <span>{re.escape(message)}", page), page[:3000]
    assert (count_rows(Bank), count_rows(User)) == (banks, users)


def test_a_taken_bank_code_or_username_is_refused_and_nothing_is_half_saved(client, admin, make_bank, make_user):
    make_bank(code="TAKEN-SH")
    make_user(Role.OFFICE, username="taken.name")
    banks, users = count_rows(Bank), count_rows(User)
    response = client.post("/admin/banks", data=bank_form(client, code="taken-sh"))
    assert response.status_code == 422
    assert "该银行代码已被使用。" in response.get_data(as_text=True)
    response = client.post("/admin/banks", data=bank_form(client, officer_username="Taken.Name"))
    assert response.status_code == 422
    assert "该用户名已被使用，请换一个。" in response.get_data(as_text=True)
    assert (count_rows(Bank), count_rows(User)) == (banks, users)


def test_a_form_without_its_csrf_token_is_refused(client, admin):
    banks = count_rows(Bank)
    response = client.post("/admin/banks", data={**bank_form(client), "csrf_token": ""})
    assert response.status_code == 400
    assert count_rows(Bank) == banks


def test_only_the_operator_may_onboard(client, make_user, login):
    login(make_user(Role.BANK, is_tenant_admin=True))
    banks = count_rows(Bank)
    response = client.post("/admin/banks", data={"code": "X-SH", "name_zh": "x", "name_en": "x",
                                                 "csrf_token": csrf_token(client, "/bank/")})
    assert response.status_code == 403
    assert count_rows(Bank) == banks


def test_admin_adds_a_district_office_user_listed_under_that_district_only(client, admin, db_session):
    form = {"district": "310104", "display_name": "徐汇金融办李", "username": "xh.li", "email": "", "phone": "",
            "csrf_token": csrf_token(client, "/admin/offices")}
    response = client.post("/admin/offices", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    user = db_session.scalar(sa.select(User).where(User.username == "xh.li"))
    assert (user.role, user.district_code, user.is_tenant_admin, user.must_change_password) == \
        (Role.OFFICE, "310104", False, True)
    assert one_time_password(page)
    assert "xh.li" in client.get("/admin/offices?district=310104").get_data(as_text=True)
    assert "xh.li" not in client.get("/admin/offices?district=310000").get_data(as_text=True)
    entry = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user_created",
                                                          AuditEntry.actor_user_id == admin.id))
    assert entry.detail["district_code"] == "310104"
    assert entry.detail["role"] == "office"


def test_the_city_office_is_the_default_and_an_unknown_district_is_refused(client, admin):
    assert "310000" in client.get("/admin/offices").get_data(as_text=True)
    assert client.get("/admin/offices?district=999999").status_code == 404
    users = count_rows(User)
    response = client.post("/admin/offices", data={"district": "999999", "display_name": "某人", "username": "nobody.x",
                                                   "csrf_token": csrf_token(client, "/admin/offices")})
    assert response.status_code == 422
    assert "请选择一个区或市级金融办。" in response.get_data(as_text=True)
    assert count_rows(User) == users


def test_deactivating_an_officer_ends_their_login_and_is_audited(app, client, admin, make_user, db_session):
    officer = make_user(Role.BANK)
    other = app.test_client()
    other.post("/login", data={"username": officer.username, "password": TEST_PASSWORD, "csrf_token": csrf_token(other)})
    assert other.get("/bank/").status_code == 200
    page = client.get(f"/admin/banks/{officer.bank_id}").get_data(as_text=True)
    assert f"/admin/users/{officer.id}/deactivate" in page
    response = client.post(f"/admin/users/{officer.id}/deactivate",
                           data={"csrf_token": csrf_token(client, f"/admin/banks/{officer.bank_id}")})
    assert response.headers["Location"] == f"/admin/banks/{officer.bank_id}"
    db_session.refresh(officer)
    assert officer.is_active is False
    assert other.get("/bank/").headers["Location"].startswith("/login")  # the open session ended too
    assert audit_actions(admin)[-1] == "user_deactivated"


def test_the_operator_cannot_deactivate_himself_or_a_missing_user(client, admin, db_session):
    token = csrf_token(client, "/admin/offices")
    client.post(f"/admin/users/{admin.id}/deactivate", data={"csrf_token": token})
    db_session.refresh(admin)
    assert admin.is_active is True
    assert "不能停用您自己的账户。" in client.get("/admin/").get_data(as_text=True)
    assert client.post("/admin/users/987654321/deactivate", data={"csrf_token": token}).status_code == 404
    assert client.post("/admin/users/99999999999/deactivate", data={"csrf_token": token}).status_code == 404



def test_every_operator_page_renders_in_english_on_request(client, admin, make_user):
    officer = make_user(Role.BANK)
    for path in ("/admin/", "/admin/banks", f"/admin/banks/{officer.bank_id}", "/admin/offices?district=310104",
                 "/admin/models", "/admin/deliveries"):
        response = client.get(path + ("&" if "?" in path else "?") + "lang=en")
        assert response.status_code == 200, path
        assert '<html lang="en"' in response.get_data(as_text=True), path


def test_field_errors_are_worded_in_english_on_request(client, admin, make_bank):
    make_bank(code="USED-SH")
    client.get("/admin/banks?lang=en")
    response = client.post("/admin/banks", data=bank_form(client, code="used-sh"))
    assert response.status_code == 422
    assert ">Bank code</a> <span>This bank code is already in use." in response.get_data(as_text=True)
    response = client.post("/admin/banks", data=bank_form(client, code=""))
    assert ">Bank code</a> <span>This field is required." in response.get_data(as_text=True)
