"""Sessions and credentials under attack: cookie flags, strong session protection, sessions that end when
the password changes or the account is stopped, rate-limited API tokens, and first-login password change
for users an operator creates."""

from __future__ import annotations

import re

import pytest

from models.identity import Role
from tests.conftest import TEST_PASSWORD, app_with_schema, csrf_token
from xinyidai.domain.tokens import issue_token
from xinyidai.domain.users import new_user

NEW_PASSWORD = "another long passphrase 42"


def log_in(client, username: str, password: str = TEST_PASSWORD, **kwargs):
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(client)},
                       **kwargs)


def lands_on_login(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.fixture
def own_app(tmp_path, monkeypatch):
    """A separate app on its own SQLite file, for settings the shared test app switches off (rate limits,
    production cookies): make(env={...}, **config)."""

    def make(env: dict | None = None, **config):
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        return app_with_schema({"SECRET_KEY": "x", "XYD_INSTANCE_PATH": str(tmp_path), "TESTING": True,
                                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'own.sqlite3'}", **config})

    return make


def add_user(app, **fields):
    from xinyidai.extensions import db

    with app.app_context():
        user = new_user(password=TEST_PASSWORD, display_name="x", **fields)
        db.session.add(user)
        db.session.commit()
        return user.id


def add_bank_with_tokens(app, count: int) -> list[str]:
    from models.lending import Bank
    from xinyidai.extensions import db

    with app.app_context():
        bank = Bank(code="LIMITS", name_zh="限流银行", name_en="Limit Bank")
        db.session.add(bank)
        db.session.flush()
        tokens = [issue_token(db.session, bank, f"system {n}").token for n in range(count)]
        db.session.commit()
        return tokens


# ---------------------------------------------------------------- cookies and session binding

def test_production_session_cookie_is_secure_http_only_and_same_site(own_app):
    app = own_app(env={"XYD_SECURE_COOKIES": "1"})
    add_user(app, username="secure-admin", role=Role.ADMIN)
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    # Over HTTPS Flask-WTF also checks that the form was posted from this site (the Referer).
    response = client.post("/login", base_url="https://localhost", headers={"Referer": "https://localhost/login"},
                           data={"username": "secure-admin", "password": TEST_PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session="))
    assert "; Secure" in cookie
    assert "; HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_a_session_cookie_replayed_from_another_browser_is_refused(app, make_user):
    """Strong session protection: the session is bound to the browser (address and user agent) that logged in."""
    user = make_user(Role.BANK)
    victim = app.test_client()
    victim.environ_base["HTTP_USER_AGENT"] = "VictimBrowser/1.0"
    assert log_in(victim, user.username).status_code == 302
    assert victim.get("/bank/").status_code == 200
    stolen = victim.get_cookie("session").value

    attacker = app.test_client()
    attacker.environ_base["HTTP_USER_AGENT"] = "AttackerBrowser/2.0"
    attacker.set_cookie("session", stolen)
    assert lands_on_login(attacker.get("/bank/"))


def test_changing_the_password_ends_every_other_session_of_that_user(app, make_user):
    user = make_user(Role.OFFICE)
    laptop, phone = app.test_client(), app.test_client()
    for device in (laptop, phone):
        assert log_in(device, user.username).status_code == 302
    response = laptop.post("/account/password", data={
        "csrf_token": csrf_token(laptop, "/account/password"), "current_password": TEST_PASSWORD,
        "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302
    assert laptop.get("/office/").status_code == 200
    assert lands_on_login(phone.get("/office/"))
    # Logging in again on the phone needs the new password.
    assert log_in(phone, user.username).status_code == 200
    assert log_in(phone, user.username, NEW_PASSWORD).status_code == 302


def test_a_deactivated_staff_account_is_logged_out_at_once(app, make_user):
    admin = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    colleague = make_user(Role.ENTERPRISE, enterprise_uscc=admin.enterprise_uscc)
    theirs, mine = app.test_client(), app.test_client()
    assert log_in(theirs, colleague.username).status_code == 302
    assert log_in(mine, admin.username).status_code == 302
    response = mine.post(f"/enterprise/staff/{colleague.id}/deactivate",
                         data={"csrf_token": csrf_token(mine, "/enterprise/staff")})
    assert response.status_code == 302
    assert lands_on_login(theirs.get("/enterprise/needs"))


# ---------------------------------------------------------------- first login of operator-created users

def test_a_bank_officer_created_by_the_operator_must_choose_a_password_first(app, cli, make_bank, db_session):
    bank = make_bank()
    db_session.commit()
    result = cli.invoke(args=["user", "create", "new-officer", "--role", "bank", "--bank", bank.code,
                              "--password-stdin"], input="temporary password 1\n")
    assert result.exit_code == 0, result.output
    client = app.test_client()
    response = log_in(client, "new-officer", "temporary password 1")
    assert response.headers["Location"] == "/account/password"
    for path in ("/bank/", "/bank/pipeline", "/home"):
        assert client.get(path).headers["Location"] == "/account/password", path
    response = client.post("/account/password", data={
        "csrf_token": csrf_token(client, "/account/password"), "current_password": "temporary password 1",
        "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302
    assert client.get("/bank/pipeline").status_code == 200


# ---------------------------------------------------------------- API tokens

def test_wrong_api_tokens_are_throttled_per_address(own_app):
    app = own_app(XYD_API_AUTH_FAILURE_LIMIT="3/minute")
    [good] = add_bank_with_tokens(app, 1)
    client = app.test_client()
    wrong = {"Authorization": "Bearer xyd_guess"}
    assert [client.get("/api/v1/products", headers=wrong).status_code for _ in range(3)] == [401, 401, 401]
    refused = client.get("/api/v1/products", headers=wrong)
    assert refused.status_code == 429
    assert refused.content_type == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    # Another address is not affected, and good requests never counted towards the failures.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    for _ in range(5):
        assert other.get("/api/v1/products", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    assert other.get("/api/v1/products", headers=wrong).status_code == 401


def test_each_api_token_has_its_own_ceiling(own_app):
    app = own_app(XYD_API_RATE_LIMIT="2/minute")
    first, second = add_bank_with_tokens(app, 2)
    client = app.test_client()
    statuses = [client.get("/api/v1/products", headers={"Authorization": f"Bearer {first}"}).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.get("/api/v1/products", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_creating_tokens_in_the_workspace_is_rate_limited(own_app):
    """The page that mints API tokens is a token endpoint too: a hijacked session cannot mint thousands."""
    app = own_app(XYD_TOKEN_CREATE_RATE_LIMIT="2/hour", WTF_CSRF_ENABLED=False)
    add_bank_with_tokens(app, 0)
    from models.lending import Bank
    from xinyidai.extensions import db

    with app.app_context():
        bank_id = db.session.scalar(db.select(Bank.id))
    add_user(app, username="bank-admin", role=Role.BANK, bank_id=bank_id, is_tenant_admin=True)
    client = app.test_client()
    assert client.post("/login", data={"username": "bank-admin", "password": TEST_PASSWORD}).status_code == 302
    statuses = [client.post("/bank/tokens", data={"name": f"system {n}"}).status_code for n in range(3)]
    assert statuses == [200, 200, 429]
    assert client.get("/bank/tokens").status_code == 200  # seeing the list is never limited
