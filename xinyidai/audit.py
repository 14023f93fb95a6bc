"""Writing the append-only audit log (DESIGN §8). Rows are only ever added."""

from __future__ import annotations

from sqlalchemy.orm import Session

from models.audit import AuditEntry


def record(session: Session, action: str, **fields) -> AuditEntry:
    """Add one audit row to `session`'s transaction (the caller's unit of work): it commits or rolls back with the
    work it describes."""
    entry = AuditEntry(action=action, **fields)
    session.add(entry)
    return entry
