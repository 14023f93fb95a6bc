"""Logins for the four roles: flask-login sessions, scrypt password hashes, role-guarded views."""

from __future__ import annotations

from xinyidai.auth.access import role_required
from xinyidai.domain.passwords import hash_password, verify_password

__all__ = ["hash_password", "init_app", "role_required", "verify_password"]


def init_app(app) -> None:
    from xinyidai.auth import session as login_session
    from xinyidai.auth.routes import bp

    login_session.init_app(app)
    app.register_blueprint(bp)
