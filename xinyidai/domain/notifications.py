"""An enterprise user's notifications: what banks (and the platform) did to its enterprise's applications,
which of it the user has read, and what the navigation's 通知 counts."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models.base import utcnow
from models.identity import User
from models.lending import Application, ApplicationEvent, ApplicationState
from models.notification import NotificationRead

S = ApplicationState


@dataclass(frozen=True)
class Notification:
    event: ApplicationEvent
    application: Application
    unread: bool


def notification_query(user: User, *columns):
    """What banks (and the platform) did to the user's enterprise's applications; its own moves and plain
    matches are not news. Selects `columns` (the event and its application by default)."""
    own_users = own_user_ids_query(user.enterprise_uscc)
    return (sa.select(*(columns or (ApplicationEvent, Application))).select_from(ApplicationEvent)
            .join(Application, Application.id == ApplicationEvent.application_id)
            .where(Application.uscc == user.enterprise_uscc, ApplicationEvent.to_state != S.MATCHED,
                   sa.or_(ApplicationEvent.actor_user_id.is_(None), ApplicationEvent.actor_user_id.not_in(own_users))))


def own_user_ids_query(uscc: str):
    return sa.select(User.id).where(User.enterprise_uscc == uscc)


def _read_by(user: User):
    return sa.exists().where(NotificationRead.user_id == user.id, NotificationRead.event_id == ApplicationEvent.id)


def notifications(session: Session, user: User, limit: int = 50) -> list[Notification]:
    rows = session.execute(notification_query(user, ApplicationEvent, Application, _read_by(user))
                           .order_by(ApplicationEvent.id.desc()).limit(limit))
    return [Notification(event, application, not read) for event, application, read in rows]


def unread_query(user: User, *columns):
    return notification_query(user, *columns).where(~_read_by(user))


def unread_count(session: Session, user: User) -> int:
    return session.scalar(unread_query(user, sa.func.count()))


def waiting_count(session: Session, user: User) -> int:
    """What the navigation's 通知 counts: unread news, unread bank messages, authorization requests to answer and
    credit-repair outcomes not yet seen."""
    from xinyidai.domain import authorization_requests, credit_repair, messages

    return (unread_count(session, user) + len(messages.unread_for_enterprise(session, user.enterprise_uscc))
            + len(authorization_requests.pending_for_enterprise(session, user.enterprise_uscc))
            + credit_repair.unseen_outcomes(session, user.enterprise_uscc))


def mark_notifications_read(session: Session, user: User, *, up_to_event_id: int | None = None,
                            application: Application | None = None) -> int:
    """Mark the user's unread notifications read: those up to `up_to_event_id` (the newest one the page showed,
    so news that arrived meanwhile stays unread), or only those about `application`; returns how many.

    Reading is the user's own state, not a privacy event, so it is not written to the audit log.
    """
    unread = unread_query(user, ApplicationEvent.id, sa.literal(user.id),
                          sa.literal(utcnow(), NotificationRead.read_at.type))
    if up_to_event_id is not None:
        unread = unread.where(ApplicationEvent.id <= up_to_event_id)
    if application is not None:
        unread = unread.where(ApplicationEvent.application_id == application.id)
    # Two at once (a double click) select the same unread events; ON CONFLICT lets the second skip the rows
    # the first inserted instead of failing on the primary key.
    insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[session.get_bind().dialect.name]
    # RETURNING counts what was inserted: psycopg reports rowcount -1 for an INSERT … SELECT … ON CONFLICT,
    # which made an opened application look "nothing read" and skip its commit on PostgreSQL.
    statement = (insert(NotificationRead.__table__).from_select(["event_id", "user_id", "read_at"], unread)
                 .on_conflict_do_nothing().returning(NotificationRead.__table__.c.event_id))
    return len(session.execute(statement).all())
