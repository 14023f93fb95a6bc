"""The model registry as the operator sees it (DESIGN §4): every version with its holdout quality, and
promotion or rollback through ml.registry, which refuses a version whose files are missing or damaged.

Each promotion and rollback is audited with the version it replaced, so the audit log alone tells which
model scored the enterprises at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ml import registry
from models.identity import User
from models.scoring import ModelVersion
from xinyidai.audit import record


@dataclass(frozen=True)
class VersionRow:
    version: str
    trained_at: datetime
    auc: float | None
    ece: float | None
    is_active: bool
    promoted_at: datetime | None
    promoted_by: str | None


def _metric(card: dict | None, name: str) -> float | None:
    value = ((card or {}).get("metrics") or {}).get(name)
    return float(value) if isinstance(value, int | float) else None


def versions(session: Session) -> list[VersionRow]:
    """Newest first, as `xyd ml list` prints them."""
    rows = session.scalars(sa.select(ModelVersion).order_by(ModelVersion.trained_at.desc(), ModelVersion.version.desc()))
    return [VersionRow(r.version, r.trained_at, _metric(r.card, "auc"), _metric(r.card, "ece"), r.is_active,
                       r.promoted_at, r.promoted_by) for r in rows]


def card_features(card: dict) -> list[dict]:
    """The card's features by gain; a card written before gains were recorded lists them in model order
    (as ml/card.py's card.md does)."""
    listed = card.get("features")
    if isinstance(listed, list) and all(isinstance(f, dict) and "name" in f for f in listed):
        return listed
    monotone = card.get("monotone_constraints") or {}
    return [{"name": name, "monotone": monotone.get(name, 0)} for name in card.get("features_in_order") or []
            if isinstance(name, str)]


def promote(session: Session, instance_path: str | Path, admin: User, version: str) -> ModelVersion:
    """Raises registry.ModelUnavailable (nothing changed) for an unknown version or damaged files."""
    previous = registry.active_version(session)
    row = registry.promote(session, instance_path, version, by=admin.username)
    record("model_promoted", actor_user_id=admin.id,
           detail={"version": row.version, "previous": previous.version if previous else None})
    return row


def rollback(session: Session, instance_path: str | Path, admin: User) -> ModelVersion:
    """Makes the previously promoted version active again; ModelUnavailable when there is none that loads."""
    previous = registry.active_version(session)
    row = registry.rollback(session, instance_path, by=admin.username)
    record("model_rolled_back", actor_user_id=admin.id,
           detail={"version": row.version, "previous": previous.version if previous else None})
    return row
