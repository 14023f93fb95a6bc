"""Checking a login: one generic failure message so nobody learns which part was wrong, and the same work
(one scrypt verification) for every failure, whether the user exists, is stopped, throttled or typed a wrong
password.

Failures are throttled per (username, client address), never per account alone: after FREE_FAILURES wrong
passwords from one address for one username, that pair waits 2, 4, 8 … seconds (at most MAX_DELAY) before
it may try again. Someone elsewhere cannot lock the real user out, who logs in from their own address. The
counters live in the rate limiter's store (Redis when XYD_REDIS_URL is set: shared by every worker and host).
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa

from models.base import utcnow
from models.identity import User
from xinyidai.audit import record
from xinyidai.domain import inputs
from xinyidai.domain.passwords import hash_password, verify_password
from xinyidai.extensions import db

FREE_FAILURES = 3
MAX_DELAY_SECONDS = 900
FAILURE_WINDOW_SECONDS = 3600
# Verifying against a real hash when the user does not exist keeps the timing the same.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def _pair(username: str, remote_addr: str | None) -> str:
    return hashlib.sha256(f"{username.strip().lower()}\0{remote_addr or ''}".encode()).hexdigest()[:32]


def _store():
    from xinyidai.extensions import limiter

    return limiter.storage


def throttled(username: str, remote_addr: str | None) -> bool:
    """True while this (username, address) pair must wait before its next attempt."""
    return _store().get(f"xyd-login-wait:{_pair(username, remote_addr)}") > 0


def _note_failure(username: str, remote_addr: str | None) -> None:
    key = _pair(username, remote_addr)
    failures = _store().incr(f"xyd-login-failures:{key}", FAILURE_WINDOW_SECONDS)
    if failures > FREE_FAILURES:
        _store().incr(f"xyd-login-wait:{key}", min(2 ** (failures - FREE_FAILURES), MAX_DELAY_SECONDS))


def _forget_failures(username: str, remote_addr: str | None) -> None:
    key = _pair(username, remote_addr)
    for name in (f"xyd-login-failures:{key}", f"xyd-login-wait:{key}"):
        _store().clear(name)


def may_log_in(user: User) -> bool:
    """An active account, and for a bank officer (a guarantor's staff) a bank (guarantor) still on the platform."""
    if not user.is_active:
        return False
    if user.bank_id is not None:
        from models.lending import Bank

        bank = db.session.get(Bank, user.bank_id)
        return bank is not None and bank.is_active
    if user.guarantor_id is not None:
        from models.guarantee import Guarantor

        guarantor = db.session.get(Guarantor, user.guarantor_id)
        return guarantor is not None and guarantor.is_active
    return True


def authenticate(username: str, password: str, remote_addr: str | None = None) -> User | None:
    """The user when the password is right and the account is usable; None otherwise (and the failure is audited)."""
    if throttled(username, remote_addr):
        verify_password(_DUMMY_HASH, password)
        record(db.session, "login_failed", actor_label=username[:120], remote_addr=remote_addr, detail={"reason": "throttled"})
        return None
    user = db.session.scalar(sa.select(User).where(User.username == username.strip()))
    now = utcnow()
    if user is None:
        verify_password(_DUMMY_HASH, password)
        _note_failure(username, remote_addr)
        record(db.session, "login_failed", actor_label=username[:120], remote_addr=remote_addr, detail={"reason": "unknown_user"})
        return None
    if not verify_password(user.password_hash, password) or not may_log_in(user):
        _note_failure(username, remote_addr)
        reason = "inactive" if not may_log_in(user) else "bad_password"
        record(db.session, "login_failed", actor_user_id=user.id, remote_addr=remote_addr, detail={"reason": reason})
        return None
    _forget_failures(username, remote_addr)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    record(db.session, "login", actor_user_id=user.id, remote_addr=remote_addr)
    return user


def change_password(user: User, current: str, new: str, remote_addr: str | None = None) -> bool:
    """Set `new` when `current` is right; False otherwise.

    Wrong current passwords count towards the same throttle as failed logins, so a stolen session cannot
    be used to guess the password faster either.
    """
    if throttled(user.username, remote_addr) or not verify_password(user.password_hash, current):
        _note_failure(user.username, remote_addr)
        record(db.session, "password_change_failed", actor_user_id=user.id, remote_addr=remote_addr)
        return False
    set_password(user, new)
    user.failed_logins = 0
    record(db.session, "password_changed", actor_user_id=user.id, remote_addr=remote_addr)
    return True


def end_sessions(user: User) -> None:
    """Every session of this user ends, on every worker and host (their cookies carry the old nonce)."""
    user.session_nonce = secrets.token_hex(16)


def set_password(user: User, password: str) -> None:
    """New hash and a new session nonce, so every other session of this user ends."""
    user.password_hash = hash_password(password)
    end_sessions(user)
    user.must_change_password = False


def temporary_password() -> str:
    """A one-time password for a new login, shown once to whoever created it; the user must replace it."""
    return secrets.token_urlsafe(12)


class ResetRefused(Exception):
    """A password reset that may not happen (str() is Chinese; .en the English)."""

    def __init__(self, zh: str, en: str):
        super().__init__(zh)
        self.zh, self.en = zh, en


def reset_password(session, actor: User, username: str, remote_addr: str | None = None) -> tuple[User, str]:
    """"Forgot password", operator-driven: a new one-time password for `username`, which its holder must
    replace at the next login. Every session of the user ends and a lock-out is lifted. Nobody resets their
    own password this way (they change it). Audited as password_reset; the password itself is never stored
    or logged, only returned to be shown once."""
    name = (username or "").strip()
    # A name with a control character is no username (and PostgreSQL refuses a NUL in a query parameter).
    user = None if inputs.bad_character(name) else session.scalar(sa.select(User).where(User.username == name))
    if user is None:
        raise ResetRefused("没有这个用户名", "no such username")
    if user.id == actor.id:
        raise ResetRefused("不能重置自己的密码，请在“修改密码”页面修改", "you cannot reset your own password: change it instead")
    if not user.is_active:
        raise ResetRefused("该账户已停用", "that account is deactivated")
    password = temporary_password()
    set_password(user, password)
    user.must_change_password = True
    user.failed_logins, user.locked_until = 0, None
    record(session, "password_reset", actor_user_id=actor.id, remote_addr=remote_addr,
           detail={"user_id": user.id, "username": user.username, "role": user.role.value})
    return user, password


def new_user(**fields) -> User:
    """A user with a hashed password; `must_change_password=True` makes them choose their own at first login."""
    password = fields.pop("password")
    must_change_password = fields.pop("must_change_password", False)
    user = User(password_hash="", session_nonce="", **fields)
    set_password(user, password)
    user.must_change_password = must_change_password
    return user
