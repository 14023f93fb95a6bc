"""Bank API tokens: shown once, stored as SHA-256 only, scoped to one bank, revocable.

A token is "xyd_" + 43 URL-safe characters (256 bits); its first 12 characters are kept as a prefix so
people can tell their tokens apart without the platform keeping anything that would authenticate.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import utcnow
from models.identity import ApiToken
from models.lending import Bank
from xinyidai.audit import record
from xinyidai.database import by_id
from xinyidai.domain.errors import Invalid, NotFound
from xinyidai.i18n import N_

TOKEN_PREFIX = "xyd_"  # noqa: S105 -- a public marker, not a secret


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    record: ApiToken
    token: str  # the only time the plain token exists; never stored


def issue_token(session: Session, bank: Bank, name: str, *, created_by_id: int | None = None) -> IssuedToken:
    name = (name or "").strip()
    if not name or len(name) > 64 or "\x00" in name:
        raise Invalid({"name": [N_("请填写 1–64 个字符的名称")]})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(bank_id=bank.id, name=name, prefix=token[:12], token_hash=token_hash(token), created_by_id=created_by_id)
    session.add(row)
    session.flush()
    record(session, "api_token_created", actor_user_id=created_by_id, detail={"bank_id": bank.id, "token_id": row.id,
                                                                     "prefix": row.prefix})
    return IssuedToken(row, token)


def revoke_token(session: Session, bank_id: int, token_id: int, *, revoked_by_id: int | None = None) -> ApiToken:
    row = by_id(session, ApiToken, token_id)
    if row is None or row.bank_id != bank_id:
        raise NotFound(f"token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(session, "api_token_revoked", actor_user_id=revoked_by_id, detail={"bank_id": bank_id, "token_id": row.id})
    return row


def bank_tokens(session: Session, bank_id: int) -> list[ApiToken]:
    return list(session.scalars(sa.select(ApiToken).where(ApiToken.bank_id == bank_id)
                                .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())))


def authenticate_token(session: Session, presented: str) -> ApiToken | None:
    """The live token of an active bank matching `presented`, or None. Marks when it was last used."""
    if not presented.startswith(TOKEN_PREFIX) or len(presented) > 128:
        return None
    digest = token_hash(presented)
    row = session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == digest))
    # The look-up is by hash, so the comparison below only guards against a partial index match.
    if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked_at is not None:
        return None
    bank = session.get(Bank, row.bank_id)
    if bank is None or not bank.is_active:
        return None
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now  # at most once a minute, so reads do not each write
    return row
