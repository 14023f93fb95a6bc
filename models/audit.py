"""The append-only audit log (DESIGN §8): who saw or exported what, when, under which authorization."""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import event, orm
from sqlalchemy.orm import Mapped, mapped_column

from models.base import USCC, Base, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(sa.String(48), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor_token_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_tokens.id"))
    actor_label: Mapped[str | None] = mapped_column(sa.String(120))
    subject_uscc: Mapped[str | None] = mapped_column(USCC, index=True)
    authorization_id: Mapped[int | None] = mapped_column(sa.ForeignKey("authorizations.id"))
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)


class AuditLogIsAppendOnly(Exception):
    """Raised when code tries to change or delete an audit row."""


@event.listens_for(orm.Session, "before_flush")
def _refuse_audit_changes(session, flush_context, instances):
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry):
            raise AuditLogIsAppendOnly("the audit log is append-only")


@event.listens_for(orm.Session, "do_orm_execute")
def _refuse_bulk_audit_changes(state):
    """Bulk UPDATE / DELETE through a session, on the mapped class or on its bare table."""
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if any(m.class_ is AuditEntry for m in state.all_mappers) or getattr(table, "name", None) == "audit_log":
        raise AuditLogIsAppendOnly("the audit log is append-only")


_CHANGES_AUDIT_ROWS = re.compile(r"^\s*(?:UPDATE|DELETE\s+FROM)\s+\"?audit_log\b", re.IGNORECASE)


@event.listens_for(sa.Engine, "before_cursor_execute")
def _refuse_sql_audit_changes(_connection, _cursor, statement, _parameters, _context, _executemany):
    """Plain SQL on any connection of the app (SQLite has no trigger; see below for PostgreSQL)."""
    if "audit_log" in statement and _CHANGES_AUDIT_ROWS.match(statement):
        raise AuditLogIsAppendOnly("the audit log is append-only")


# On PostgreSQL the database itself refuses too, so SQL that never passes through this code (a psql session
# or another program using the application's role) cannot rewrite history either. Migration 0004 creates the
# same function and trigger; these listeners give databases built by `create_all` (tests) the same guard.
APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only()
"""
event.listen(AuditEntry.__table__, "after_create", sa.DDL(APPEND_ONLY_FUNCTION).execute_if(dialect="postgresql"))
event.listen(AuditEntry.__table__, "after_create", sa.DDL(APPEND_ONLY_TRIGGER).execute_if(dialect="postgresql"))
