"""Scoring: calibrated PD → scorecard points → grade, the whitelist gates of DESIGN §4 with repair advice
and lenient (宽容审慎) treatment, and the reasons behind each score — for every enterprise at once or for one.

Everything is computed on whole columns; results go to Score / ScoreReason in bulk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from ml.features import FEATURE_BY_NAME, data_end_as_of, features_as_of
from ml.gates import GATES, evaluate_gates
from ml.reasons import FAMILIES, reason_text
from ml.train import WhitelistModel
from models.base import utcnow
from models.scoring import GRADE_SCALE, Score, ScoreReason

# Scorecard scaling: BASE_POINTS at good:bad odds of BASE_ODDS, PDO more points per doubling of the odds.
SCALING = {"base_points": 600, "base_odds": 50, "pdo": 40}
# Lowest points of each grade, best first (AAA: PD under about 0.5%; BBB: under about 2.3%).
GRADE_FLOORS = (("AAA", 680), ("AA", 650), ("A", 620), ("BBB", 590), ("BB", 560), ("B", 530),
                ("CCC", 500), ("CC", 470), ("C", None))
MAX_REASONS = 4
MIN_REASON = 0.01  # log-odds; smaller moves are not worth saying


def scaling_of(model: WhitelistModel) -> dict:
    return model.card.get("scaling") or scaling_card()


def scaling_card() -> dict:
    return {**SCALING, "grades": [[g, p] for g, p in GRADE_FLOORS]}


def points(pd_12m: np.ndarray, scaling: dict | None = None) -> np.ndarray:
    scaling = scaling or SCALING
    p = np.clip(np.asarray(pd_12m, dtype=float), 1e-6, 1 - 1e-6)
    factor = scaling["pdo"] / np.log(2)
    return np.rint(scaling["base_points"] + factor * (np.log((1 - p) / p) - np.log(scaling["base_odds"]))).astype(int)


def grades(score_points: np.ndarray, scaling: dict | None = None) -> np.ndarray:
    bands = (scaling or scaling_card())["grades"]
    floors = np.array([p for _, p in bands if p is not None], dtype=float)[::-1]  # ascending
    labels = np.array([g for g, _ in bands])[::-1]
    assert tuple(labels[::-1]) == GRADE_SCALE
    return labels[np.searchsorted(floors, np.asarray(score_points, dtype=float), side="right")]


@dataclass
class Scored:
    """One scoring run: a frame indexed by USCC (pd_12m, points, grade, gates_passed, failed_gates,
    lenient, reasons) plus what produced it."""

    frame: pd.DataFrame
    model_version: str
    as_of: date
    scored_at: datetime | None = None
    score_ids: np.ndarray | None = None


def family_reasons(model: WhitelistModel, contrib: np.ndarray) -> list[list[dict]]:
    """Up to MAX_REASONS per row from LightGBM's pred_contrib (n × features, log-odds of default):
    contributions summed per family, the families that moved the score most (either way), each named by
    its strongest feature."""
    names = model.features
    family_of = [FEATURE_BY_NAME[n].family if n in FEATURE_BY_NAME else "age_size" for n in names]
    families = list(FAMILIES)
    member = np.zeros((len(names), len(families)))
    for i, family in enumerate(family_of):
        member[i, families.index(family)] = 1.0
    totals = contrib @ member  # n × families
    strongest = np.empty(totals.shape, dtype=int)
    magnitude = np.abs(contrib)
    for j in range(len(families)):
        inside = member[:, j].astype(bool)
        masked = np.where(inside[None, :], magnitude, -1.0)
        strongest[:, j] = masked.argmax(axis=1)
    order = np.argsort(-np.abs(totals), axis=1, kind="stable")[:, :MAX_REASONS]
    out = []
    for row in range(len(contrib)):
        reasons = []
        for j in order[row]:
            value = float(totals[row, j])
            if abs(value) < MIN_REASON:
                break
            reasons.append({"family": families[j], "feature": names[strongest[row, j]], "contribution": value})
        out.append(reasons)
    return out


def score_frame(session: Session, model: WhitelistModel, *, as_of: date | None = None,
                usccs=None, features: pd.DataFrame | None = None, progress=None, threads: int = 1) -> pd.DataFrame:
    """PD, points, grade, gates and reasons for every enterprise (or those in `usccs`), not yet stored."""
    step = progress or (lambda _label: None)
    as_of = as_of or data_end_as_of(session)
    if features is None:
        step("features")
        features = features_as_of(session, as_of, usccs, threads=threads)
    if features.empty:
        return pd.DataFrame(columns=["pd_12m", "points", "grade", "failed_gates", "gates_passed", "lenient",
                                     "reasons"], index=features.index)
    step("scores")
    pd_12m, contrib = model.explain(features)
    frame = _graded(model, features.index, pd_12m)
    step("gates")
    gates = evaluate_gates(session, features.index, as_of, tax_rating=features.get("tax_rating"))
    frame = frame.join(gates)
    step("reasons")
    frame["reasons"] = family_reasons(model, contrib)
    return frame


def predict_frame(model: WhitelistModel, features: pd.DataFrame) -> pd.DataFrame:
    """The scoring step alone: calibrated PD, points and grade for each row."""
    return _graded(model, features.index, model.predict_proba(features))


def _graded(model: WhitelistModel, index: pd.Index, pd_12m: np.ndarray) -> pd.DataFrame:
    scaling = scaling_of(model)
    score_points = points(pd_12m, scaling)
    return pd.DataFrame({"pd_12m": pd_12m, "points": score_points, "grade": grades(score_points, scaling)},
                        index=index)


def store(session: Session, frame: pd.DataFrame, model_version: str, as_of: date,
          scored_at: datetime | None = None) -> np.ndarray:
    """Insert one Score per row and its reasons; returns the new score ids in row order."""
    if frame.empty:
        return np.array([], dtype=int)
    scored_at = scored_at or utcnow()
    score_table, reason_table = Score.__table__, ScoreReason.__table__
    rows = [{"uscc": u, "model_version": model_version, "as_of": as_of, "pd_12m": float(p), "points": int(s),
             "grade": g, "gates_passed": bool(ok), "failed_gates": failed, "scored_at": scored_at}
            for u, p, s, g, ok, failed in zip(frame.index, frame.pd_12m, frame.points, frame.grade,
                                              frame.gates_passed, frame.failed_gates, strict=True)]
    connection = session.connection()
    result = connection.execute(score_table.insert().returning(score_table.c.id, sort_by_parameter_order=True), rows)
    ids = np.fromiter((r[0] for r in result), dtype=np.int64, count=len(rows))
    reasons = [{"score_id": int(i), "rank": rank, "family": r["family"], "feature": r["feature"],
                "contribution": r["contribution"]}
               for i, listed in zip(ids, frame.reasons, strict=True) for rank, r in enumerate(listed, start=1)]
    if reasons:
        connection.execute(reason_table.insert(), reasons)
    return ids


def score_and_store(session: Session, model: WhitelistModel, model_version: str, *, as_of: date | None = None,
                    usccs=None, progress=None, threads: int = 1) -> Scored:
    as_of = as_of or data_end_as_of(session)
    frame = score_frame(session, model, as_of=as_of, usccs=usccs, progress=progress, threads=threads)
    (progress or (lambda _label: None))("store")
    scored_at = utcnow()
    ids = store(session, frame, model_version, as_of, scored_at)
    return Scored(frame, model_version, as_of, scored_at, ids)


def as_json(uscc: str, row, *, whitelisted: bool, model_version: str, as_of: date) -> dict:
    """The JSON object `xyd ml score --json` prints for one enterprise."""
    return {
        "uscc": uscc, "model_version": model_version, "as_of": as_of.isoformat(),
        "pd": round(float(row.pd_12m), 6), "score": int(row.points), "grade": row.grade,
        "whitelisted": bool(whitelisted),
        "gates": {"passed": bool(row.gates_passed), "failed": [describe_gate(g) for g in row.failed_gates],
                  "lenient": row.lenient},
        "reasons": [{**r, "contribution": round(r["contribution"], 4), **reason_text(r)} for r in row.reasons],
    }


def describe_gate(failed: dict) -> dict:
    gate = GATES[failed["gate"]]
    return {**failed, "zh": gate.zh, "en": gate.en, "advice_zh": gate.advice_zh, "advice_en": gate.advice_en}
