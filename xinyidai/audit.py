"""Writing the append-only audit log (DESIGN §8). Rows are only ever added."""

from __future__ import annotations

from models.audit import AuditEntry
from xinyidai.extensions import db


def record(action: str, **fields) -> AuditEntry:
    """Add one audit row to the current transaction; it commits (or rolls back) with the work it describes."""
    entry = AuditEntry(action=action, **fields)
    db.session.add(entry)
    return entry
