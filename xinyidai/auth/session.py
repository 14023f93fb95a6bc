"""flask-login wiring. Sessions end server-side, on every worker and host, because each request checks the
database and the session's own clock:

* the session id is "<user id>:<nonce>"; logging out, changing the password and being deactivated change the
  user's nonce or active flag in the database, so every cookie issued before no longer loads a user;
* a session idle longer than XYD_SESSION_IDLE_MINUTES, or older than XYD_SESSION_MAX_HOURS since its login,
  no longer loads a user either (the times are in the signed session cookie, set at login).
"""

from __future__ import annotations

import time

from flask import current_app, session
from flask_babel import lazy_gettext as _l
from flask_login import login_user

from models.identity import User
from xinyidai.domain.users import may_log_in
from xinyidai.extensions import db, login_manager


class LoginUser:
    """Adapter giving a `User` row the flask-login interface without tying the model to Flask."""

    def __init__(self, user: User):
        self.user = user

    def __getattr__(self, name):
        return getattr(self.user, name)

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.user.is_active

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_nonce}"


def start_session(user: User) -> None:
    """A fresh session for a new login (sign-in or registration); only the language choice survives from
    before, so nothing planted in the session before login outlives it."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session["_login_at"] = session["_seen_at"] = int(time.time())
    login_user(LoginUser(user))


# The session's "last seen" is rewritten at most this often, so not every response sets a new cookie.
_SEEN_RESOLUTION_SECONDS = 60


def within_lifetime() -> bool:
    """True while the current session is neither idle nor old past its configured lifetimes (and notes it seen)."""
    login_at, seen_at, now = session.get("_login_at"), session.get("_seen_at"), int(time.time())
    if not isinstance(login_at, int) or not isinstance(seen_at, int):
        return False  # a session from before these limits, or one not started by a login
    config = current_app.config
    if now - login_at > config["XYD_SESSION_MAX_HOURS"] * 3600 or now - seen_at > config["XYD_SESSION_IDLE_MINUTES"] * 60:
        return False
    if now - seen_at >= _SEEN_RESOLUTION_SECONDS:
        session["_seen_at"] = now
    return True


def load_user(session_id: str) -> LoginUser | None:
    user_id, _, nonce = session_id.partition(":")
    if not user_id.isdigit():
        return None
    if not within_lifetime():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not may_log_in(user) or user.session_nonce != nonce:
        return None
    return LoginUser(user)


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("请先登录。")
    login_manager.login_message_category = "info"
    login_manager.user_loader(load_user)
