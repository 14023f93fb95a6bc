"""flask-login wiring. The session id is "<user id>:<nonce>": a new nonce (password change) ends old sessions."""

from __future__ import annotations

from flask import session
from flask_babel import lazy_gettext as _l
from flask_login import login_user

from models.identity import User
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
    login_user(LoginUser(user))


def load_user(session_id: str) -> LoginUser | None:
    user_id, _, nonce = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or user.session_nonce != nonce:
        return None
    return LoginUser(user)


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("请先登录。")
    login_manager.login_message_category = "info"
    login_manager.user_loader(load_user)
