"""The model store: one folder per version under `<instance>/models/<version>/` holding LightGBM's
`model.txt`, `card.json` (everything needed to score: features, categories, calibration, scaling, and the
model file's SHA-256) and a readable `card.md`; each version is a ModelVersion row, one of them active.

Promotion is explicit (`promote`), refuses a version whose files are missing or damaged, and records who
and when. `ActiveModel` is what each gunicorn worker holds: it loads lazily (so after the fork, never in
the master — a Booster and OpenMP do not survive fork), checks the active version in the database at most
every `check_every` seconds, and keeps serving the last good model when a newly promoted one fails to load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import lightgbm as lgb
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ml import card as card_text
from ml.baseline import WoeScorecard
from ml.train import Calibration, WhitelistModel
from models.base import utcnow
from models.scoring import ModelVersion

log = logging.getLogger(__name__)

STORE = "models"
MODEL_FILE, CARD_FILE, CARD_MD = "model.txt", "card.json", "card.md"
SCORECARD_FILE = "scorecard.json"  # a WOE scorecard version's model: its bins, WOE and coefficients


class ModelUnavailable(Exception):
    """No usable model: none is active, or its files are missing or damaged. str() says which."""


def store_path(instance_path: str | Path) -> Path:
    return Path(instance_path) / STORE


def folder_of(instance_path: str | Path, version: ModelVersion | str) -> Path:
    if isinstance(version, ModelVersion):
        path = Path(version.path)
        return path if path.is_absolute() else Path(instance_path) / path
    return store_path(instance_path) / version


def new_version_name(instance_path: str | Path) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name, n = stamp, 1
    while (store_path(instance_path) / name).exists():
        n += 1
        name = f"{stamp}-{n}"
    return name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_folder(folder: Path, model: WhitelistModel | WoeScorecard, version: str) -> dict:
    """Write a version's files into a new `folder` (card.json, card.md and the model: LightGBM's model.txt,
    or scorecard.json for a WOE scorecard; card.json says which); returns the card."""
    folder.mkdir(parents=True, exist_ok=False)
    if isinstance(model, WoeScorecard):
        model_file = SCORECARD_FILE
        _write_atomically(folder / model_file, json.dumps(model.to_dict(), ensure_ascii=False, indent=1))
        extra = {"model_kind": WoeScorecard.kind}
    else:
        model_file = MODEL_FILE
        _write_atomically(folder / model_file, model.booster.model_to_string(num_iteration=model.best_iteration))
        extra = {"model_kind": "lightgbm", "categories": model.categories, "calibration": model.calibration.to_dict()}
    card = {**model.card, "version": version, "features_in_order": model.features, **extra,
            "model_file": model_file, "model_sha256": _sha256(folder / model_file)}
    _write_atomically(folder / CARD_FILE, json.dumps(card, ensure_ascii=False, indent=2, default=str))
    _write_atomically(folder / CARD_MD, card_text.markdown(card))
    return json.loads(json.dumps(card, default=str))


def save(session: Session, instance_path: str | Path, model: WhitelistModel | WoeScorecard, *,
         version: str | None = None) -> ModelVersion:
    """Write the version's folder and add its ModelVersion row (inactive)."""
    version = version or new_version_name(instance_path)
    card = write_folder(store_path(instance_path) / version, model, version)
    row = ModelVersion(version=version, path=f"{STORE}/{version}", card=card, is_active=False)
    session.add(row)
    session.flush()
    return row


def is_scorecard(version: ModelVersion | dict | None) -> bool:
    card = version.card if isinstance(version, ModelVersion) else version
    return (card or {}).get("model_kind") == WoeScorecard.kind


def load(instance_path: str | Path, version: ModelVersion) -> WhitelistModel | WoeScorecard:
    """The version's model, checked against the SHA-256 its database row recorded; ModelUnavailable when
    a file is missing, altered or unreadable."""
    return load_folder(folder_of(instance_path, version), version.card or {}, version.version)


def load_folder(folder: Path, card: dict, name: str) -> WhitelistModel | WoeScorecard:
    """The model in `folder`, checked against the SHA-256 `card` recorded (ModelUnavailable otherwise)."""
    model_file = folder / card.get("model_file", MODEL_FILE)
    expected = card.get("model_sha256")
    if not model_file.is_file():
        raise ModelUnavailable(f"model {name}: {model_file} is missing")
    if expected and _sha256(model_file) != expected:
        raise ModelUnavailable(f"model {name}: {model_file} does not match its recorded SHA-256 "
                               "(damaged or replaced)")
    if is_scorecard(card):
        try:
            return WoeScorecard.from_dict(json.loads(model_file.read_text(encoding="utf-8")), card)
        except (ValueError, KeyError) as error:
            raise ModelUnavailable(f"model {name}: cannot read {model_file}: {error}") from None
    try:
        booster = lgb.Booster(model_file=str(model_file))
    except lgb.basic.LightGBMError as error:
        raise ModelUnavailable(f"model {name}: LightGBM cannot read {model_file}: {error}") from None
    features = card.get("features_in_order") or booster.feature_name()
    if booster.feature_name() != features:
        raise ModelUnavailable(f"model {name}: the model file's features differ from its card")
    return WhitelistModel(booster, Calibration.from_dict(card["calibration"]), features,
                          card.get("categories") or {}, card)


def active_version(session: Session) -> ModelVersion | None:
    return session.scalar(sa.select(ModelVersion).where(ModelVersion.is_active))


def get_version(session: Session, version: str) -> ModelVersion:
    row = session.get(ModelVersion, version)
    if row is None:
        raise ModelUnavailable(f"no model version {version!r}")
    return row


def promote(session: Session, instance_path: str | Path, version: str, *, by: str) -> ModelVersion:
    """Make `version` the active model (after checking that it loads); the previous one stays on file."""
    row = get_version(session, version)
    load(instance_path, row)
    session.execute(sa.update(ModelVersion).where(ModelVersion.is_active, ModelVersion.version != version)
                    .values(is_active=False))
    session.flush()
    row.is_active, row.promoted_at, row.promoted_by = True, utcnow(), by
    session.flush()
    active_model.forget()  # this process sees its own promotion at once; others within check_every
    return row


def rollback(session: Session, instance_path: str | Path, *, by: str) -> ModelVersion:
    """Promote again the version that was active before the current one."""
    current = active_version(session)
    previous = session.scalar(
        sa.select(ModelVersion).where(ModelVersion.promoted_at.is_not(None),
                                      ModelVersion.version != (current.version if current else ""))
        .order_by(ModelVersion.promoted_at.desc()).limit(1))
    if previous is None:
        raise ModelUnavailable("no earlier promoted version to roll back to")
    return promote(session, instance_path, previous.version, by=by)


class ActiveModel:
    """The active model of this process, refreshed from the database at most every `check_every` s."""

    def __init__(self, check_every: float = 30.0):
        self.check_every = check_every
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._model: WhitelistModel | None = None
        self._version: str | None = None
        self._checked = float("-inf")
        self._failed: dict[str, str] = {}

    def get(self, session: Session, instance_path: str | Path) -> tuple[str, WhitelistModel]:
        with self._lock:
            if self._pid != os.getpid():  # forked: a Booster loaded in the parent is not ours to use
                self._reset()
            now = time.monotonic()
            if self._model is None or now - self._checked >= self.check_every:
                self._checked = now
                self._refresh(session, instance_path)
            if self._model is None:
                reason = next(iter(self._failed.values()), "no model version is active")
                raise ModelUnavailable(reason)
            return self._version, self._model

    def _refresh(self, session: Session, instance_path: str | Path) -> None:
        row = active_version(session)
        if row is None or row.version == self._version:
            return
        try:
            model = load(instance_path, row)
        except ModelUnavailable as error:
            if row.version not in self._failed:
                log.error("keeping model %s: %s", self._version or "(none)", error)
            self._failed[row.version] = str(error)
            return
        self._model, self._version = model, row.version
        self._failed.pop(row.version, None)
        log.info("scoring with model %s", row.version)

    def forget(self) -> None:
        with self._lock:
            self._reset()


active_model = ActiveModel(check_every=float(os.environ.get("XYD_MODEL_CHECK_SECONDS", "30")))
