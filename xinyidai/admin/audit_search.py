"""Searching the audit log (DESIGN §8) for the platform operator: by actor, action, enterprise and period.

Reading only: nothing here writes, so the search is a plain GET that a link or a bookmark can repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.audit import AuditEntry
from models.base import SHANGHAI
from models.identity import ApiToken, User

PER_PAGE = 50


@dataclass(frozen=True)
class AuditFilters:
    """Every filter is optional; `actor` is a username (exact) or a user id."""

    actor: str | None = None
    action: str | None = None
    uscc: str | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    actor_username: str | None
    token_prefix: str | None


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    page: int
    has_more: bool


def shanghai_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI).astimezone(UTC)


def _conditions(filters: AuditFilters) -> list:
    conditions = []
    if filters.actor:
        actor_ids = sa.select(User.id).where(User.username == filters.actor)
        if filters.actor.isdigit() and len(filters.actor) < 10:
            conditions.append(sa.or_(AuditEntry.actor_user_id.in_(actor_ids),
                                     AuditEntry.actor_user_id == int(filters.actor)))
        else:
            # A failed login by an unknown name has no user row: its label is the name that was typed.
            conditions.append(sa.or_(AuditEntry.actor_user_id.in_(actor_ids), AuditEntry.actor_label == filters.actor))
    if filters.action:
        conditions.append(AuditEntry.action == filters.action)
    if filters.uscc:
        conditions.append(AuditEntry.subject_uscc == filters.uscc)
    if filters.date_from:
        conditions.append(AuditEntry.occurred_at >= shanghai_day_start(filters.date_from))
    if filters.date_to:
        conditions.append(AuditEntry.occurred_at < shanghai_day_start(filters.date_to + timedelta(days=1)))
    return conditions


def search_audit(session: Session, filters: AuditFilters, *, page: int = 1, per_page: int = PER_PAGE) -> AuditPage:
    """Newest first; one row more than a page is read to know whether there is a next page (no COUNT over
    a table that only grows)."""
    page = max(page, 1)
    statement = (
        sa.select(AuditEntry, User.username, ApiToken.prefix)
        .outerjoin(User, User.id == AuditEntry.actor_user_id)
        .outerjoin(ApiToken, ApiToken.id == AuditEntry.actor_token_id)
        .where(*_conditions(filters))
        .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
        .offset((page - 1) * per_page).limit(per_page + 1)
    )
    found = [AuditRow(entry, username, prefix) for entry, username, prefix in session.execute(statement)]
    return AuditPage(found[:per_page], page, len(found) > per_page)
