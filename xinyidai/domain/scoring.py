"""Scoring operations the app, the CLI and `make run` call.

- `train_and_register`: train on the labelled loans, store the version, promote it when asked (or when
  no model is active yet).
- `ensure_model`: what `xyd setup` / `make run` needs — an active model (trained if there is none) and
  scores for every enterprise.
- `score_everyone` / `rescore`: batch and on-demand scoring with the active model.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ml import card as card_text
from ml import registry
from ml.features import data_end_as_of
from ml.score import Scored, as_json, scaling_card, score_and_store
from ml.train import NotEnoughLabels, train
from ml.truth import demo_quality, truth_file
from models.scoring import ModelVersion, Score
from xinyidai.domain import in_principle, model_registry
from xinyidai.domain.matching import latest_grades, rematch_enterprises
from xinyidai.domain.whitelist import whitelisted

FEATURE_THREADS = 2  # a batch run's feature queries side by side (the machine has two cores)
DATA_END_MAX_AGE = 300.0  # seconds an on-demand rescore reuses the data end found by an earlier one


def train_and_register(session: Session, instance_path: str | Path, *, promote: bool | None = None,
                       by: str = "xyd ml train", channel: str = "train", client=None,
                       progress=None) -> ModelVersion:
    """Train, write the new LightGBM version and the WOE scorecard fitted on the same rows (a version of
    its own), and — if `promote`, or when none is active (None) — settle champion–challenger: the new
    version is promoted when it passes its bars, otherwise the better of the active version and the
    scorecard is active (`model_registry.settle`, audited through `channel`). Returns the new version."""
    run = train(session, client=client, progress=progress)
    run.model.card["scaling"] = scaling_card()
    run.model.card["committee"] = card_text.committee(run.model, run.loans, run.features, scaling_card())
    if (truth := truth_file(instance_path)).exists() and (quality := demo_quality(run, truth)) is not None:
        run.model.card["demo_quality"] = quality
    version = registry.save(session, instance_path, run.model)
    run.scorecard.card["scaling"] = scaling_card()
    run.scorecard.card["committee"] = card_text.committee(run.scorecard, run.loans, run.features, scaling_card())
    scorecard = registry.save(session, instance_path, run.scorecard, version=f"{version.version}-woe")
    version.card = {**version.card, "scorecard_version": scorecard.version}
    if promote or (promote is None and registry.active_version(session) is None):
        model_registry.settle(session, instance_path, version.version, by=by, channel=channel)
    session.commit()
    return version


def active(session: Session, instance_path: str | Path):
    """(version, model) of the active model; ModelUnavailable if there is none that loads."""
    return registry.active_model.get(session, instance_path)


def score_everyone(session: Session, instance_path: str | Path, *, as_of: date | None = None,
                   progress=None) -> Scored:
    version, model = active(session, instance_path)
    before = latest_grades(session)
    session.commit()  # the feature queries run on their own connections and see committed data only
    scored = score_and_store(session, model, version, as_of=as_of, progress=progress, threads=FEATURE_THREADS)
    rematch_changed_grades(session, scored, before)
    in_principle.refresh_enterprises(session, in_principle.answered_usccs(session), instance_path=instance_path)
    session.commit()
    return scored


def rematch_changed_grades(session: Session, scored: Scored, before: dict[str, str],
                           usccs: list[str] | None = None) -> int:
    """Matching re-runs when a score changes (issue 5): the open needs of enterprises whose grade moved.
    `before` is `latest_grades(session, usccs)` read before scoring `usccs` (None: everyone)."""
    grades = scored.frame.grade
    now = latest_grades(session, usccs)
    changed = [uscc for uscc, grade in now.items() if uscc in grades.index and before.get(uscc) != grade]
    return rematch_enterprises(session, changed)


def rescore(session: Session, instance_path: str | Path, uscc: str, *, as_of: date | None = None) -> dict:
    """Score one enterprise now, store the score, and return it as `xyd ml score USCC --json` prints it.
    KeyError when the registry does not know the USCC."""
    version, model = active(session, instance_path)
    as_of = as_of or data_end_as_of(session, max_age=DATA_END_MAX_AGE)
    before = latest_grades(session, [uscc])
    scored = score_and_store(session, model, version, as_of=as_of, usccs=[uscc])
    if scored.frame.empty:
        raise KeyError(uscc)
    rematch_changed_grades(session, scored, before, [uscc])
    in_principle.refresh_enterprises(session, [uscc], instance_path=instance_path)  # the score changed (预授信)
    session.commit()
    return results_json(session, scored)[0]


def results_json(session: Session, scored: Scored) -> list[dict]:
    listed = whitelisted(session, scored.frame)
    return [as_json(uscc, row, whitelisted=listed[uscc], model_version=scored.model_version, as_of=scored.as_of)
            for uscc, row in scored.frame.iterrows()]


def ensure_model(session: Session, instance_path: str | Path, *, score: bool = True, progress=None) -> ModelVersion | None:
    """An active model that loads — trained and promoted if there is none — and, with `score`, scores for
    every enterprise under it if it has none yet. None when the data hold too few labelled loans."""
    current = registry.active_version(session)
    if current is not None:
        try:
            registry.load(instance_path, current)
        except registry.ModelUnavailable:
            current = None
    if current is None:
        try:
            train_and_register(session, instance_path, promote=True, by="xyd setup", channel="setup",
                               progress=progress)
        except NotEnoughLabels:
            return None
        current = registry.active_version(session)
    if score and not session.scalar(sa.select(sa.func.count()).select_from(Score)
                                    .where(Score.model_version == current.version)):
        score_everyone(session, instance_path, progress=progress)
    return current
