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
    kind: str = "lightgbm"  # or "woe_scorecard"
    failed_bars: tuple[str, ...] | None = None  # of its recorded challenge; None when it has none


def _metric(card: dict | None, name: str) -> float | None:
    value = ((card or {}).get("metrics") or {}).get(name)
    return float(value) if isinstance(value, int | float) else None


def versions(session: Session) -> list[VersionRow]:
    """Newest first, as `xyd ml list` prints them."""
    rows = session.scalars(sa.select(ModelVersion).order_by(ModelVersion.trained_at.desc(), ModelVersion.version.desc()))
    return [VersionRow(r.version, r.trained_at, _metric(r.card, "auc"), _metric(r.card, "ece"), r.is_active,
                       r.promoted_at, r.promoted_by, (r.card or {}).get("model_kind") or "lightgbm", _failed(r.card))
            for r in rows]


def _failed(card: dict | None) -> tuple[str, ...] | None:
    challenge = (card or {}).get("challenge")
    if not isinstance(challenge, dict):
        return None
    return tuple(bar.get("name", "") for bar in challenge.get("bars", []) if not bar.get("met"))


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


def _audited(session: Session, action: str, by: User | str, channel: str, change, challenge=None) -> Promotion:
    previous = registry.active_version(session)
    name, actor = _who(by)
    row = change(name)
    detail = {"version": row.version, "previous": previous.version if previous else None, "channel": channel,
              "challenge": None if challenge is None else {
                  "passed": challenge.passed, "challenger": challenge.version, "auc": challenge.auc,
                  "failed": [bar.name for bar in challenge.failed]}}
    record(session, action, **actor, detail=detail)
    return Promotion(action, row, detail["previous"], channel)


def promote(session: Session, instance_path: str | Path, version: str, *, by: User | str,
            channel: str, challenge: Challenge | None = None) -> Promotion:
    """Make `version` the active model, audited as `model_promoted` with the version it replaced.

    `by` is the admin (a User) or the name a CLI run records; `channel` says through which door
    ("admin", "cli", "setup", "train", …). Raises registry.ModelUnavailable (nothing changed, nothing
    audited) for an unknown version or damaged files. The caller commits."""
    return _audited(session, "model_promoted", by, channel,
                    lambda name: registry.promote(session, instance_path, version, by=name), challenge)


def rollback(session: Session, instance_path: str | Path, *, by: User | str, channel: str) -> Promotion:
    """Make the previously promoted version active again, audited as `model_rolled_back`;
    registry.ModelUnavailable when there is none that loads."""
    return _audited(session, "model_rolled_back", by, channel,
                    lambda name: registry.rollback(session, instance_path, by=name))


# ---------------------------------------------------------------- champion–challenger (DESIGN §4)

ECE_BAR = 0.02  # a challenger this well calibrated passes the calibration bar whatever the champion's ECE


@dataclass(frozen=True)
class Bar:
    """One promotion bar: `name` is "scorecard" (AUC at least the WOE scorecard's), "active" (AUC at least
    the active version's) or "calibration" (ECE under ECE_BAR, or no worse than the active version's — the
    scorecard's when none is active)."""

    name: str
    met: bool
    challenger: float
    reference: float | None
    against: str | None  # the version compared with


@dataclass(frozen=True)
class Challenge:
    """A version measured against the active one and the WOE scorecard on the same out-of-time loans."""

    version: str
    window: tuple[str, str]
    loans: int
    defaults: int
    auc: dict[str, float]  # "challenger", "active", "scorecard" (when there is one)
    ece: dict[str, float]
    active: str | None
    scorecard: str | None
    bars: tuple[Bar, ...]

    @property
    def passed(self) -> bool:
        return all(bar.met for bar in self.bars)

    @property
    def failed(self) -> list[Bar]:
        return [bar for bar in self.bars if not bar.met]

    def best(self) -> str | None:
        """The version with the highest AUC of the three on these loans (the challenger only if it passed)."""
        if self.passed:
            return self.version
        others = [(self.auc[k], v) for k, v in (("active", self.active), ("scorecard", self.scorecard)) if v]
        return max(others)[1] if others else None

    def as_dict(self) -> dict:
        return {"version": self.version, "window": list(self.window), "loans": self.loans, "defaults": self.defaults,
                "auc": self.auc, "ece": self.ece, "active": self.active, "scorecard": self.scorecard,
                "passed": self.passed, "bars": [bar.__dict__ for bar in self.bars]}


class NoHoldout(Exception):
    """The version's card names no out-of-time window, or no labelled loan with both outcomes is in it."""


def challenge(session: Session, instance_path: str | Path, version: str) -> Challenge:
    """Score `version`, the active version and the WOE scorecard trained with it (its card's
    `scorecard_version`) on the loans of its out-of-time window, read from the database now."""
    from ml import metrics
    from ml.features import features_for
    from ml.train import labelled_loans

    row = registry.get_version(session, version)
    challenger = registry.load(instance_path, row)  # damaged or missing files refuse first
    card = row.card or {}
    window = ((card.get("data_window") or {}).get("holdout")) or {}
    if not window.get("from"):
        raise NoHoldout(f"model {version}: its card names no out-of-time window")
    loans = labelled_loans(session)
    if not loans.empty:
        as_of = loans.as_of.astype(str)
        loans = loans[(as_of >= window["from"]) & (as_of <= window["to"])].reset_index(drop=True)
    if loans.empty or loans.defaulted.nunique() < 2:
        raise NoHoldout(f"model {version}: no labelled loans with both outcomes in {window['from']} … {window['to']}")
    features = features_for(session, loans)
    y = loans.defaulted.to_numpy()
    active = registry.active_version(session)
    if active is not None and active.version != version:
        try:  # an active version whose files are damaged is no champion: the challenger faces the scorecard
            registry.load(instance_path, active)
        except registry.ModelUnavailable:
            active = None
    scorecard = card.get("scorecard_version") if not registry.is_scorecard(card) else None
    if scorecard and session.get(ModelVersion, scorecard) is None:
        scorecard = None
    compared = {"challenger": version, "active": active.version if active and active.version != version else None,
                "scorecard": scorecard if scorecard != (active.version if active else None) else None}
    auc, ece = {}, {}
    for key, name in compared.items():
        if name is None:
            continue
        model = challenger if key == "challenger" else registry.load(instance_path, registry.get_version(session, name))
        p = model.predict_proba(features)
        auc[key], ece[key] = metrics.auc(y, p), metrics.ece(y, p)
    if scorecard and "scorecard" not in auc:  # the active version is this run's scorecard
        auc["scorecard"], ece["scorecard"] = auc["active"], ece["active"]
    bars = []
    if scorecard:
        bars.append(Bar("scorecard", auc["challenger"] >= auc["scorecard"], auc["challenger"], auc["scorecard"],
                        scorecard))
    if compared["active"]:
        bars.append(Bar("active", auc["challenger"] >= auc["active"], auc["challenger"], auc["active"],
                        compared["active"]))
    reference = ece.get("active", ece.get("scorecard"))
    bars.append(Bar("calibration", ece["challenger"] < ECE_BAR or (reference is not None and ece["challenger"] <= reference),
                    ece["challenger"], reference, compared["active"] or scorecard))
    return Challenge(version, (window["from"], window["to"]), len(y), int(y.sum()), auc, ece, compared["active"],
                     scorecard, tuple(bars))


def settle(session: Session, instance_path: str | Path, version: str, *, by: User | str,
           channel: str) -> tuple[Challenge, Promotion | None]:
    """Champion–challenger: promote `version` when it passes every bar; otherwise make the better of the
    active version and its WOE scorecard active (nothing changes when that is the active one already).
    The challenge is recorded on the version's card; a promotion is audited as every other."""
    result = challenge(session, instance_path, version)
    row = registry.get_version(session, version)
    row.card = {**(row.card or {}), "challenge": result.as_dict()}
    winner = result.best()
    active = registry.active_version(session)
    if winner is None or (active is not None and winner == active.version):
        return result, None
    return result, promote(session, instance_path, winner, by=by, channel=channel, challenge=result)


def promote_if_better(session: Session, instance_path: str | Path, version: str, *, by: User | str,
                      channel: str) -> tuple[Challenge, Promotion | None]:
    """An explicit promotion (admin page, `xyd ml promote`): done only when `version` passes its bars;
    otherwise nothing changes and the challenge says which bar failed."""
    result = challenge(session, instance_path, version)
    row = registry.get_version(session, version)
    row.card = {**(row.card or {}), "challenge": result.as_dict()}
    if not result.passed:
        return result, None
    return result, promote(session, instance_path, version, by=by, channel=channel, challenge=result)


BAR_TEXT = {"scorecard": "AUC at least the WOE scorecard's", "active": "AUC at least the active version's",
            "calibration": f"ECE under {ECE_BAR} or no worse than the champion's"}


def bar_lines(challenge: dict, *, failed_only: bool = False) -> list[str]:
    """The bars of a recorded challenge (Challenge.as_dict()) in plain English, for the CLI."""
    lines = []
    for bar in challenge.get("bars", []):
        if failed_only and bar["met"]:
            continue
        reference = "—" if bar["reference"] is None else f"{bar['reference']:.4f}"
        lines.append(f"{'met' if bar['met'] else 'FAILED'}: {BAR_TEXT.get(bar['name'], bar['name'])} "
                     f"({bar['challenger']:.4f} vs {reference}{' of ' + bar['against'] if bar['against'] else ''}; "
                     f"{challenge['loans']} out-of-time loans, {challenge['defaults']} defaults)")
    return lines


@dataclass(frozen=True)
class SignOff:
    at: datetime
    action: str  # model_promoted / model_rolled_back
    who: str
    channel: str
    replaced: str | None
    replaced_by_this: bool  # True: this version became active; False: it was replaced


def sign_off_log(session: Session, version: str) -> list[SignOff]:
    """Every audited promotion or rollback that made `version` active or replaced it, oldest first."""
    from models.audit import AuditEntry

    rows = session.execute(sa.select(AuditEntry, User.username).outerjoin(User, User.id == AuditEntry.actor_user_id)
                           .where(AuditEntry.action.in_(("model_promoted", "model_rolled_back")))
                           .order_by(AuditEntry.id)).all()
    out = []
    for entry, username in rows:
        detail = entry.detail or {}
        if version in (detail.get("version"), detail.get("previous")):
            out.append(SignOff(entry.occurred_at, entry.action, username or entry.actor_label or "—",
                               detail.get("channel") or "—", detail.get("previous"), detail.get("version") == version))
    return out
