"""Checking a login: one generic failure message so nobody learns which part was wrong."""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa

from models.base import utcnow
from models.identity import User
from xinyidai.audit import record
from xinyidai.domain.passwords import hash_password, verify_password
from xinyidai.extensions import db

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
# Verifying against a real hash when the user does not exist keeps the timing the same.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def authenticate(username: str, password: str, remote_addr: str | None = None) -> User | None:
    """The user when the password is right and the account is usable; None otherwise (and the failure is audited)."""
    user = db.session.scalar(sa.select(User).where(User.username == username.strip()))
    now = utcnow()
    if user is None:
        verify_password(_DUMMY_HASH, password)
        record("login_failed", actor_label=username[:120], remote_addr=remote_addr, detail={"reason": "unknown_user"})
        return None
    locked = is_locked(user)
    if locked or not user.is_active or not verify_password(user.password_hash, password):
        if not locked:
            _count_failure(user)
        reason = "locked" if locked else ("inactive" if not user.is_active else "bad_password")
        record("login_failed", actor_user_id=user.id, remote_addr=remote_addr, detail={"reason": reason})
        return None
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    record("login", actor_user_id=user.id, remote_addr=remote_addr)
    return user


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def _count_failure(user: User) -> None:
    user.failed_logins += 1
    if user.failed_logins >= MAX_FAILURES:
        user.locked_until, user.failed_logins = utcnow() + LOCKOUT, 0


def change_password(user: User, current: str, new: str, remote_addr: str | None = None) -> bool:
    """Set `new` when `current` is right; False otherwise.

    Wrong current passwords count towards the same lockout as failed logins, so a stolen session cannot
    be used to guess the password either.
    """
    if is_locked(user) or not verify_password(user.password_hash, current):
        if not is_locked(user):
            _count_failure(user)
        record("password_change_failed", actor_user_id=user.id, remote_addr=remote_addr)
        return False
    set_password(user, new)
    user.failed_logins = 0
    record("password_changed", actor_user_id=user.id, remote_addr=remote_addr)
    return True


def set_password(user: User, password: str) -> None:
    """New hash and a new session nonce, so every other session of this user ends."""
    user.password_hash = hash_password(password)
    user.session_nonce = secrets.token_hex(16)
    user.must_change_password = False


def temporary_password() -> str:
    """A one-time password for a new login, shown once to whoever created it; the user must replace it."""
    return secrets.token_urlsafe(12)


def new_user(**fields) -> User:
    """A user with a hashed password; `must_change_password=True` makes them choose their own at first login."""
    password = fields.pop("password")
    must_change_password = fields.pop("must_change_password", False)
    user = User(password_hash="", session_nonce="", **fields)
    set_password(user, password)
    user.must_change_password = must_change_password
    return user
