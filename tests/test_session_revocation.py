"""Sessions end server-side (issue 13 item 5): a cookie copied before logout, a password change or a
deactivation opens nothing afterwards — the check is in the database, so it holds on every worker and host —
and every session has an idle and an absolute lifetime."""

from __future__ import annotations

import time

import pytest

from models.identity import Role
from tests.conftest import FreshContextClient, csrf_token


def saved_cookie(client) -> str:
    return client.get_cookie("session").value


def replayed(app, cookie: str, path: str = "/bank/"):
    """A second browser (another worker, another host) presenting a copy of the cookie."""
    other = FreshContextClient(app, app.response_class, use_cookies=True)
    other.set_cookie("session", cookie)
    return other.get(path)


def opens(response) -> bool:
    return response.status_code == 200


@pytest.fixture
def officer(make_user, login, client):
    user = make_user(Role.BANK)
    login(user)
    return user


def test_a_cookie_saved_before_logout_no_longer_opens_the_bank(app, client, officer):
    cookie = saved_cookie(client)
    assert opens(replayed(app, cookie))
    client.post("/logout", data={"csrf_token": csrf_token(client, "/bank/")})
    response = replayed(app, cookie)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_a_password_change_elsewhere_ends_a_saved_cookie(app, client, officer, db_session):
    from xinyidai.domain.users import set_password

    cookie = saved_cookie(client)
    set_password(officer, "a completely new passphrase 7")
    db_session.commit()
    assert not opens(replayed(app, cookie))


def test_deactivation_ends_a_saved_cookie(app, client, officer, db_session):
    cookie = saved_cookie(client)
    officer.is_active = False
    db_session.commit()
    assert not opens(replayed(app, cookie))


@pytest.mark.parametrize(("setting", "later"), [("XYD_SESSION_IDLE_MINUTES", 31 * 60), ("XYD_SESSION_MAX_HOURS", 13 * 3600)])
def test_a_session_ends_when_idle_or_old_past_its_lifetime(app, client, officer, monkeypatch, setting, later):
    assert app.config["XYD_SESSION_IDLE_MINUTES"] == 30
    assert app.config["XYD_SESSION_MAX_HOURS"] == 12
    if setting == "XYD_SESSION_MAX_HOURS":
        # Busy all day: a request every 20 minutes keeps it from going idle, but not past 12 hours.
        start = time.time()
        for step in range(1, 45):
            monkeypatch.setattr(time, "time", lambda s=step: start + s * 20 * 60)
            if step * 20 * 60 > 12 * 3600:  # the first request past the 12 hours
                break
            assert opens(client.get("/bank/")), step
    else:
        now = time.time()
        monkeypatch.setattr(time, "time", lambda: now + later)
    response = client.get("/bank/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_a_session_within_its_lifetime_stays_open(app, client, officer, monkeypatch):
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 29 * 60)
    assert opens(client.get("/bank/"))
