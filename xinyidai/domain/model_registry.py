"""The model registry (DESIGN §4, §14): every version with its holdout quality, and the one audited
promotion and rollback — `xyd ml promote|rollback|train`, `xyd setup` and /admin/models all call these,
and ml.registry (which refuses a version whose files are missing or damaged) only through them.

Each promotion and rollback is audited with the version it replaced and the channel it came through, so
the audit log alone tells which model scored the enterprises at any time.
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
class Promotion:
    """What a promotion or rollback did: `model` is now active, `previous` was (None: no model was)."""

    action: str  # the audit action: "model_promoted" or "model_rolled_back"
    model: ModelVersion
    previous: str | None
    channel: str


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


def _who(by: User | str) -> tuple[str, dict]:
    """The name ModelVersion.promoted_by records and the audit row's actor fields."""
    if isinstance(by, str):
        return by, {"actor_label": by[:120]}
    return by.username, {"actor_user_id": by.id}


def _audited(session: Session, action: str, by: User | str, channel: str, change) -> Promotion:
    previous = registry.active_version(session)
    name, actor = _who(by)
    row = change(name)
    detail = {"version": row.version, "previous": previous.version if previous else None, "channel": channel}
    record(action, **actor, detail=detail)
    return Promotion(action, row, detail["previous"], channel)


def promote(session: Session, instance_path: str | Path, version: str, *, by: User | str,
            channel: str) -> Promotion:
    """Make `version` the active model, audited as `model_promoted` with the version it replaced.

    `by` is the admin (a User) or the name a CLI run records; `channel` says through which door
    ("admin", "cli", "setup", "train", …). Raises registry.ModelUnavailable (nothing changed, nothing
    audited) for an unknown version or damaged files. The caller commits."""
    return _audited(session, "model_promoted", by, channel,
                    lambda name: registry.promote(session, instance_path, version, by=name))


def rollback(session: Session, instance_path: str | Path, *, by: User | str, channel: str) -> Promotion:
    """Make the previously promoted version active again, audited as `model_rolled_back`;
    registry.ModelUnavailable when there is none that loads."""
    return _audited(session, "model_rolled_back", by, channel,
                    lambda name: registry.rollback(session, instance_path, by=name))
