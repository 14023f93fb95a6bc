"""The append-only audit log (DESIGN §8): who saw or exported what, when, under which authorization."""

from __future__ import annotations

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
    if (state.is_update or state.is_delete) and any(m.class_ is AuditEntry for m in state.all_mappers):
        raise AuditLogIsAppendOnly("the audit log is append-only")
