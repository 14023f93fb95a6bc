"""Logging in and out, lockout, CSRF, safe redirects, and changing the password (which ends other sessions)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.identity import Role
from tests.conftest import TEST_PASSWORD, csrf_token
from xinyidai.domain.passwords import verify_password
from xinyidai.domain.users import FREE_FAILURES

NEW_PASSWORD = "a much longer new passphrase"
FAILURE = "用户名或密码错误，或账户暂时被锁定。请稍后再试。"


@pytest.fixture
def new_client(app):
    """Another browser or device."""
    return app.test_client


def text(response) -> str:
    return response.get_data(as_text=True)


def post_login(client, username: str, password: str, path: str = "/login"):
    return client.post(path, data={"username": username, "password": password, "csrf_token": csrf_token(client)})


def is_logged_in(client) -> bool:
    return client.get("/home").status_code == 302 and "/login" not in client.get("/home").headers["Location"]


def flashes(page: str) -> list[str]:
    return re.findall(r'<p class="flash[^"]*"[^>]*>([^<]*)</p>', page)


# ---- logging in --------------------------------------------------------------------------------------


def test_wrong_password_and_unknown_user_get_the_same_answer(client, make_user):
    user = make_user(Role.BANK)
    wrong_password = post_login(client, user.username, "not the password")
    unknown_user = post_login(client, "nobody-by-this-name", "not the password")
    assert wrong_password.status_code == unknown_user.status_code == 200
    assert flashes(text(wrong_password)) == flashes(text(unknown_user)) == [FAILURE]
    assert not is_logged_in(client)


def test_failed_login_keeps_the_username_but_not_the_password(client, make_user):
    user = make_user(Role.BANK)
    page = text(post_login(client, user.username, "typed secret"))
    assert f'value="{user.username}"' in page
    assert "typed secret" not in page


def test_empty_form_shows_errors_next_to_each_field(client):
    page = text(client.post("/login", data={"csrf_token": csrf_token(client)}))
    field = re.search(r'<div class="field field--error">.*?</div>\s*</div>', page, re.S).group(0)
    assert '<label class="field__label" for="username">用户名</label>' in field
    assert 'aria-invalid="true"' in field
    assert 'aria-describedby="username-error"' in field
    assert '<div class="field__errors" id="username-error">' in field
    assert "请输入用户名" in field


def test_login_form_is_translated(client):
    page = text(client.get("/login?lang=en"))
    assert '<label class="field__label" for="username">Username</label>' in page
    assert '<label class="field__label" for="password">Password</label>' in page


def test_repeated_failures_make_that_address_wait_with_the_same_answer(client, make_user):
    user = make_user(Role.OFFICE)
    for _ in range(FREE_FAILURES + 1):
        assert flashes(text(post_login(client, user.username, "wrong"))) == [FAILURE]
    waiting = post_login(client, user.username, TEST_PASSWORD)
    assert waiting.status_code == 200
    assert flashes(text(waiting)) == [FAILURE]  # the same words: nobody learns the account exists
    assert not is_logged_in(client)


def test_an_outsider_cannot_lock_the_real_user_out(app, client, make_user):
    """Failures from one address make that address wait, never the account: the user elsewhere logs in."""
    user = make_user(Role.ADMIN)
    outsider = app.test_client()
    outsider.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for _ in range(FREE_FAILURES + 5):
        post_login(outsider, user.username, "wrong")
    assert post_login(client, user.username, TEST_PASSWORD).status_code == 302


def test_the_wait_grows_and_then_ends(client, make_user, monkeypatch):
    import time

    user = make_user(Role.OFFICE)
    for _ in range(FREE_FAILURES + 1):
        post_login(client, user.username, "wrong")
    assert post_login(client, user.username, TEST_PASSWORD).status_code == 200  # waiting (2 s)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 3)
    assert post_login(client, user.username, TEST_PASSWORD).status_code == 302


def test_a_successful_login_resets_the_failure_count(client, make_user, db_session):
    user = make_user(Role.ADMIN)
    for _ in range(FREE_FAILURES):
        post_login(client, user.username, "wrong")
    assert post_login(client, user.username, TEST_PASSWORD).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/password")})
    for _ in range(FREE_FAILURES):
        post_login(client, user.username, "wrong")
    assert post_login(client, user.username, TEST_PASSWORD).status_code == 302  # counting started again


def test_inactive_users_cannot_log_in(client, make_user):
    user = make_user(Role.BANK, is_active=False)
    assert flashes(text(post_login(client, user.username, TEST_PASSWORD))) == [FAILURE]


def test_login_without_csrf_token_is_rejected(app, client, make_user):
    assert app.config.get("WTF_CSRF_ENABLED", True) is True  # TESTING must not switch CSRF off
    user = make_user(Role.BANK)
    response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert not is_logged_in(client)


def test_login_with_a_forged_csrf_token_is_rejected(client, make_user):
    user = make_user(Role.BANK)
    client.get("/login")
    response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                           "csrf_token": "forged"})
    assert response.status_code == 400


def test_session_cookie_is_http_only_and_same_site(client, make_user):
    response = post_login(client, make_user(Role.BANK).username, TEST_PASSWORD)
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


# ---- where the login leads ---------------------------------------------------------------------------


def test_next_leads_back_to_the_page_asked_for(client, make_user):
    user = make_user(Role.BANK)
    first = client.get("/bank/")
    assert first.headers["Location"] == "/login?next=%2Fbank%2F"
    response = post_login(client, user.username, TEST_PASSWORD, path="/login?next=%2Fbank%2F")
    assert response.headers["Location"] == "/bank/"


@pytest.mark.parametrize("target", [
    "//evil.example", "//evil.example/bank/", "https://evil.example/", "http:evil.example", "/\\evil.example",
    "\\\\evil.example", "javascript:alert(1)", "evil.example", "/\r\nLocation: //evil.example", " //evil.example", "/\t/evil.example",
])
def test_next_pointing_off_site_is_ignored(client, make_user, target):
    user = make_user(Role.BANK)
    response = client.post("/login", query_string={"next": target},
                           data={"username": user.username, "password": TEST_PASSWORD, "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/home"


def test_logged_in_user_visiting_login_goes_home(client, make_user, login):
    login(make_user(Role.ENTERPRISE))
    assert client.get("/login").headers["Location"] == "/home"


# ---- logging out -------------------------------------------------------------------------------------


def test_logout_is_post_only(client, make_user, login):
    login(make_user(Role.BANK))
    response = client.get("/logout")
    assert response.status_code == 405
    assert client.get("/bank/").status_code == 200


def test_logout_without_csrf_token_is_rejected(client, make_user, login):
    login(make_user(Role.BANK))
    assert client.post("/logout").status_code == 400
    assert client.get("/bank/").status_code == 200


def test_logout_ends_the_session(client, make_user, login):
    login(make_user(Role.BANK))
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/bank/")})
    assert response.headers["Location"] == "/login"
    assert "您已退出登录。" in flashes(text(client.get("/login")))
    assert client.get("/bank/").headers["Location"].startswith("/login")


def test_language_choice_survives_logout(client, make_user, login):
    client.get("/?lang=en")
    login(make_user(Role.BANK))
    client.post("/logout", data={"csrf_token": csrf_token(client, "/bank/")})
    assert '<html lang="en">' in text(client.get("/login"))


# ---- changing the password ---------------------------------------------------------------------------


def change(client, current: str, new: str = NEW_PASSWORD, confirm: str | None = None):
    return client.post("/account/password", data={
        "current_password": current, "new_password": new, "confirm_password": new if confirm is None else confirm,
        "csrf_token": csrf_token(client, "/account/password"),
    })


def test_password_change_ends_the_other_sessions_but_keeps_this_one(client, new_client, make_user, login, db_session):
    user = make_user(Role.BANK)
    login(user)
    other_device = new_client()
    assert post_login(other_device, user.username, TEST_PASSWORD).status_code == 302
    assert other_device.get("/bank/").status_code == 200

    response = change(client, TEST_PASSWORD)
    assert response.status_code == 302
    assert "密码已修改，其他设备上的登录已失效。" in flashes(text(client.get(response.headers["Location"], follow_redirects=True)))
    assert client.get("/bank/").status_code == 200
    assert other_device.get("/bank/").headers["Location"].startswith("/login")

    db_session.refresh(user)
    assert verify_password(user.password_hash, NEW_PASSWORD)
    assert db_session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "password_changed",
                                                         AuditEntry.actor_user_id == user.id)) is not None


def test_new_password_works_and_old_one_does_not(client, new_client, make_user, login):
    user = make_user(Role.ENTERPRISE)
    login(user)
    change(client, TEST_PASSWORD)
    assert flashes(text(post_login(new_client(), user.username, TEST_PASSWORD))) == [FAILURE]
    assert post_login(new_client(), user.username, NEW_PASSWORD).status_code == 302


def test_wrong_current_password_is_refused_next_to_the_field(client, make_user, login, db_session):
    user = make_user(Role.OFFICE)
    login(user)
    response = change(client, "not my password")
    assert response.status_code == 200
    page = text(response)
    assert re.search(r'id="current_password-error">\s*<p>当前密码不正确。</p>', page)
    assert 'class="form-errors" role="alert"' in page
    db_session.refresh(user)
    assert verify_password(user.password_hash, TEST_PASSWORD)


@pytest.mark.parametrize(("new", "confirm", "message"), [
    ("short", "short", "新密码长度须在 10 到 256 个字符之间。"),
    ("aaaaaaaaaa", "aaaaaaaaaa", "新密码由重复的字符或片段组成"),
    ("qwertyuiop", "qwertyuiop", "新密码是常见密码或常见词语"),
    ("password2026", "password2026", "新密码是常见密码或常见词语"),
    (NEW_PASSWORD, NEW_PASSWORD + "x", "两次输入的新密码不一致。"),
    (TEST_PASSWORD, TEST_PASSWORD, "新密码不能与当前密码相同。"),
])
def test_unacceptable_new_passwords_are_refused(client, make_user, login, new, confirm, message):
    login(make_user(Role.OFFICE))
    response = change(client, TEST_PASSWORD, new, confirm)
    assert response.status_code == 200
    assert message in text(response)


def test_a_new_password_made_of_the_users_own_name_is_refused_in_english_too(client, make_user, login, db_session):
    user = make_user(Role.OFFICE)
    login(user)
    weak = user.username + "2026"
    client.get("/account/password?lang=en")
    response = change(client, TEST_PASSWORD, weak)
    assert response.status_code == 200
    assert "New password contains the username" in text(response)
    db_session.refresh(user)
    assert verify_password(user.password_hash, TEST_PASSWORD)


def test_password_page_in_english(client, make_user, login):
    login(make_user(Role.OFFICE))
    page = text(client.get("/account/password?lang=en"))
    assert "<h1 id=\"password-heading\">Change password</h1>" in page
    assert "At least 10 characters." in page
    assert 'autocomplete="new-password"' in page


def test_guessing_the_current_password_is_throttled_and_logs_out(client, make_user, login, db_session):
    user = make_user(Role.BANK)
    login(user)
    for _ in range(FREE_FAILURES):
        assert change(client, "guess").status_code == 200
    response = change(client, "guess")
    assert response.headers["Location"] == "/login"
    assert client.get("/bank/").headers["Location"].startswith("/login")


def test_must_change_password_users_are_held_on_the_password_page(client, make_user, db_session):
    user = make_user(Role.BANK, must_change_password=True)
    response = post_login(client, user.username, TEST_PASSWORD, path="/login?next=%2Fbank%2F")
    assert response.headers["Location"] == "/account/password"
    assert client.get("/bank/").headers["Location"] == "/account/password"
    assert client.get("/").headers["Location"] == "/account/password"
    page = text(client.get("/account/password"))
    assert "这是您首次登录或密码已被重置，请先设置新密码。" in page
    with client.get("/static/app.css") as stylesheet:
        assert stylesheet.status_code == 200  # the page still gets its stylesheet

    assert change(client, TEST_PASSWORD).status_code == 302
    assert client.get("/bank/").status_code == 200
    db_session.refresh(user)
    assert user.must_change_password is False


def test_must_change_password_users_can_still_log_out(client, make_user):
    user = make_user(Role.BANK, must_change_password=True)
    post_login(client, user.username, TEST_PASSWORD)
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/account/password")})
    assert response.headers["Location"] == "/login"


def test_login_attempts_are_rate_limited_per_address(tmp_path):
    from xinyidai import create_app
    from xinyidai.extensions import db

    app = create_app({"SECRET_KEY": "x", "XYD_INSTANCE_PATH": str(tmp_path), "WTF_CSRF_ENABLED": False,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                      "XYD_LOGIN_RATE_LIMIT": "3/minute"})
    with app.app_context():
        db.create_all()
    client = app.test_client()
    statuses = [client.post("/login", data={"username": "x", "password": "y"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get("/login").status_code == 200  # viewing the form is never limited
