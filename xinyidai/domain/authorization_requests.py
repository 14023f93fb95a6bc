"""请求授权: a bank that has claimed (受理) an enterprise's need, and that no live authorization names, asks the
enterprise for one. The enterprise answers in one step: granting makes an ordinary authorization naming that
bank (the one rule for what a bank may see, DESIGN §8), refusing records the refusal. Both are audited.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from models.base import utcnow
from models.consent import AuthorizationRequest, AuthorizationRequestStatus
from models.identity import User
from models.lending import Application, ApplicationState
from models.sources import Source
from xinyidai.audit import record
from xinyidai.database import by_id
from xinyidai.domain.authorizations import live_authorization
from xinyidai.domain.errors import Invalid, NotFound, Refused
from xinyidai.domain.lifecycle import IN_PROGRESS
from xinyidai.domain.needs import Grant, grant_authorization, shanghai_today

S = ApplicationState
Status = AuthorizationRequestStatus
# A bank may ask while it holds the need and the loan is not over.
MAY_ASK = tuple(IN_PROGRESS)
# What a bank asks for unless it says otherwise: every source a bank may be authorized to see.
DEFAULT_SOURCES = tuple(s.value for s in Source)
GRANTED_FOR_DAYS = 180  # a granted request runs for this long, as the authorization form proposes
MAX_NOTE = 500


def pending_request(session: Session, application: Application) -> AuthorizationRequest | None:
    return session.scalar(sa.select(AuthorizationRequest).where(
        AuthorizationRequest.application_id == application.id, AuthorizationRequest.status == Status.PENDING))


def latest_request(session: Session, application: Application) -> AuthorizationRequest | None:
    return session.scalar(sa.select(AuthorizationRequest).where(AuthorizationRequest.application_id == application.id)
                          .order_by(AuthorizationRequest.id.desc()).limit(1))


def may_request(session: Session, application: Application, now: datetime | None = None) -> bool:
    """Whether the bank can ask now (the page offers the button only then)."""
    return (application.state in MAY_ASK and pending_request(session, application) is None
            and live_authorization(session, application.uscc, application.bank_id, now) is None)


def request_authorization(session: Session, application: Application, officer: User, *, note: str | None = None,
                          sources: list[str] | None = None, now: datetime | None = None) -> AuthorizationRequest:
    """Ask the enterprise behind `application` (the officer's bank's own) to authorize the bank."""
    now = now or utcnow()
    if application.state not in MAY_ASK:
        raise Refused(_l("受理需求后才能请求企业授权；申请结束后不能再请求。"))
    if live_authorization(session, application.uscc, application.bank_id, now) is not None:
        raise Refused(_l("企业已授权本行查看，无需再请求。"))
    if pending_request(session, application) is not None:
        raise Refused(_l("已向企业发出授权请求，正在等待企业答复。"))
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise Invalid({"note": [_l("说明不能超过 500 个字。")]})
    wanted = sorted(set(sources or DEFAULT_SOURCES))
    if not set(wanted) <= set(DEFAULT_SOURCES):
        raise Invalid({"sources": [_l("请至少选择一项数据来源。")]})
    request = AuthorizationRequest(application_id=application.id, bank_id=application.bank_id, uscc=application.uscc,
                                   sources=wanted, note=note, requested_by_id=officer.id, requested_at=now)
    session.add(request)
    session.flush()
    record(session, "authorization_requested", actor_user_id=officer.id, subject_uscc=application.uscc,
           detail={"request_id": request.id, "application_id": application.id, "bank_id": application.bank_id,
                   "sources": wanted})
    return request


def pending_for_enterprise(session: Session, uscc: str) -> list[AuthorizationRequest]:
    return list(session.scalars(sa.select(AuthorizationRequest).where(
        AuthorizationRequest.uscc == uscc, AuthorizationRequest.status == Status.PENDING)
        .order_by(AuthorizationRequest.requested_at.desc(), AuthorizationRequest.id.desc())))


def own_request(session: Session, user: User, request_id: int) -> AuthorizationRequest:
    """A request made to the user's own enterprise, or NotFound (another enterprise's looks missing)."""
    request = by_id(session, AuthorizationRequest, request_id)
    if request is None or request.uscc != user.enterprise_uscc:
        raise NotFound(f"authorization request {request_id}")
    return request


def grant_until(today: date | None = None) -> date:
    """The last day a granted request's authorization runs (shown beside the button before granting)."""
    return (today or shanghai_today()) + timedelta(days=GRANTED_FOR_DAYS)


def answer(session: Session, user: User, request_id: int, *, grant: bool, now: datetime | None = None
           ) -> AuthorizationRequest:
    """Grant (an authorization naming only the asking bank, for the asked sources, until `grant_until`) or
    refuse. A request is answered once."""
    now = now or utcnow()
    request = own_request(session, user, request_id)
    if request.status is not Status.PENDING:
        raise Refused(_l("该授权请求已经答复过。"))
    if grant:
        authorization = grant_authorization(session, user, Grant(
            sources=list(request.sources), all_banks=False, bank_ids=[request.bank_id],
            expires_on=grant_until(shanghai_today(now))), now=now)
        request.authorization_id = authorization.id
    request.status = Status.GRANTED if grant else Status.REFUSED
    request.answered_by_id, request.answered_at = user.id, now
    record(session, "authorization_request_answered", actor_user_id=user.id, subject_uscc=request.uscc,
           authorization_id=request.authorization_id,
           detail={"request_id": request.id, "application_id": request.application_id, "bank_id": request.bank_id,
                   "granted": grant})
    return request


def answered_for_bank(session: Session, bank_id: int, since: datetime, limit: int = 50) -> list[AuthorizationRequest]:
    """The bank's requests the enterprises answered since `since` (the bank's inbox)."""
    return list(session.scalars(sa.select(AuthorizationRequest).where(
        AuthorizationRequest.bank_id == bank_id, AuthorizationRequest.status != Status.PENDING,
        AuthorizationRequest.answered_at >= since)
        .order_by(AuthorizationRequest.answered_at.desc()).limit(limit)))
