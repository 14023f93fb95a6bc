"""The score as an SME reads it (issue 15): where it sits on the scale (the grade bands with their point
ranges and the district's whitelist threshold), what raises it and what holds it down (both signs, plain
words, never praising what the advice below asks to repair), and concrete what-ifs from the model itself —
the enterprise's features with one problem cleared, scored again by the active model.

No version codes or feature names reach the page: every text here is worded for people.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from ml import registry
from ml.features import FEATURE_BY_NAME, features_as_of
from ml.reasons import FAMILIES
from ml.score import GRADE_FLOORS, SCALING, points
from models.scoring import Score
from xinyidai.domain.whitelist import threshold

SCALE_LOW, SCALE_HIGH = 400, 760  # the ends of the drawn scale (points beyond sit at its ends)
REASONS_PER_SIDE = 3
MIN_POINTS = 1  # a what-if or reason worth fewer points is not shown


@dataclass(frozen=True)
class Band:
    grade: str
    low: int | None  # None: open below
    high: int | None  # None: open above
    meets_threshold: bool

    def share(self, low_end: int = SCALE_LOW, high_end: int = SCALE_HIGH) -> tuple[float, float]:
        """Where the band starts and how wide it is on the drawn scale, in percent."""
        low = self.low if self.low is not None else low_end
        high = (self.high + 1) if self.high is not None else high_end
        return _percent(low), _percent(high) - _percent(low)


@dataclass(frozen=True)
class Reason:
    raises: bool
    points: int  # how many points it moves the score, estimated (positive)
    zh: str
    en: str


@dataclass(frozen=True)
class WhatIf:
    zh: str
    en: str
    points: int  # the change in score (positive: up)
    grade: str  # the grade it would give


@dataclass(frozen=True)
class Explanation:
    points: int
    grade: str
    bands: list[Band]
    threshold_grade: str
    threshold_points: int
    position: float  # percent along the drawn scale
    threshold_position: float
    next_grade: str | None
    points_to_next: int | None
    raising: list[Reason]
    lowering: list[Reason]
    what_ifs: list[WhatIf]


def _percent(value: float) -> float:
    return round(100 * (min(max(value, SCALE_LOW), SCALE_HIGH) - SCALE_LOW) / (SCALE_HIGH - SCALE_LOW), 2)


def bands(threshold_grade: str) -> list[Band]:
    """The grades best first with their point ranges; `meets_threshold` for the grades the whitelist takes."""
    out, upper = [], None
    meets = True
    for grade, floor in GRADE_FLOORS:
        out.append(Band(grade, floor, upper, meets))
        if grade == threshold_grade:
            meets = False
        upper = None if floor is None else floor - 1
    return out


def _floor(grade: str) -> int:
    return dict(GRADE_FLOORS)[grade] or SCALE_LOW


def _grade_of(score_points: int) -> str:
    for grade, floor in GRADE_FLOORS:
        if floor is None or score_points >= floor:
            return grade
    return GRADE_FLOORS[-1][0]


# ---------------------------------------------------------------- what-ifs: one problem cleared at a time

def _remedies(row: pd.Series) -> list[tuple[str, str, dict]]:
    """(zh, en, changed features) for each problem the enterprise's features show that it can clear."""
    out = []

    def count(name: str) -> int:
        value = row.get(name)
        return 0 if value is None or (isinstance(value, float) and math.isnan(value)) else int(round(value))

    if (n := count("si_arrears_months")) > 0:
        out.append((f"补缴 {n} 个月社保欠费", f"clearing {n} month{'s' if n > 1 else ''} of social-insurance arrears",
                    {"si_arrears_months": 0, "si_arrears_max": 0, "si_arrears_recency": np.nan}))
    if (n := count("tax_arrears_months")) > 0:
        out.append((f"结清 {n} 个月欠税", f"paying off {n} month{'s' if n > 1 else ''} of tax arrears",
                    {"tax_arrears_months": 0, "tax_arrears_recency": np.nan}))
    if (n := count("hf_arrears_months")) > 0:
        out.append((f"补缴 {n} 个月公积金欠缴", f"clearing {n} month{'s' if n > 1 else ''} of housing-fund arrears",
                    {"hf_arrears_months": 0, "hf_arrears_recency": np.nan}))
    if (n := count("utility_unpaid_months")) > 0 or count("utility_days_late_max") > 0:
        n = max(n, 1)
        out.append((f"结清 {n} 个月水电气欠费并按时缴纳",
                    f"paying {n} month{'s' if n > 1 else ''} of unpaid utility bills and paying on time",
                    {"utility_unpaid_months": 0, "utility_days_late_max": 0, "electricity_days_late": 0,
                     "utility_unpaid_recency": np.nan}))
    records = count("pc_minor_penalties") + count("pc_penalties") + count("pc_abnormal_listings")
    if records > 0:
        out.append((f"完成 {records} 条行政处罚或经营异常记录的信用修复",
                    f"having {records} penalty or abnormal-operation record{'s' if records > 1 else ''} repaired",
                    {"pc_minor_penalties": 0, "pc_penalties": 0, "pc_serious_penalties": 0, "pc_abnormal_listings": 0,
                     "pc_repaired": count("pc_repaired") + records,
                     **({"pc_record_recency": np.nan} if not count("pc_dishonest_debtor")
                        and not count("pc_serious_violation") else {})}))
    return out


def _problem_families(row: pd.Series) -> set[str]:
    """Families where the data show something to repair — never praised as raising the score."""
    def positive(*names):
        return any((v := row.get(n)) is not None and not (isinstance(v, float) and math.isnan(v)) and v > 0
                   for n in names)

    problems = set()
    if positive("tax_arrears_months") or (row.get("tax_rating") is not None and row.get("tax_rating") >= 3):
        problems.add("tax")
    if positive("si_arrears_months", "hf_arrears_months"):
        problems.add("employment")
    if positive("utility_unpaid_months", "utility_days_late_max"):
        problems.add("utilities")
    if positive("pc_minor_penalties", "pc_penalties", "pc_abnormal_listings", "pc_dishonest_debtor",
                "pc_serious_violation"):
        problems.add("public_credit")
    return problems


def _reasons(model, row: pd.DataFrame, contributions: np.ndarray, problems: set[str]) -> tuple[list, list]:
    """The families that raise the score and those that hold it down, each by its strongest feature,
    with the points it moves (contributions in log-odds × points per unit of log-odds)."""
    per_log_odds = SCALING["pdo"] / math.log(2)
    family_of = [getattr(FEATURE_BY_NAME.get(n), "family", "age_size") for n in model.features]
    totals: dict[str, float] = {}
    strongest: dict[str, tuple[float, str]] = {}
    for name, family, value in zip(model.features, family_of, contributions, strict=True):
        totals[family] = totals.get(family, 0.0) + float(value)
        if abs(value) > strongest.get(family, (0.0, ""))[0]:
            strongest[family] = (abs(float(value)), name)
    raising, lowering = [], []
    for family, total in sorted(totals.items(), key=lambda item: -abs(item[1])):
        moved = int(round(abs(total) * per_log_odds))
        if moved < MIN_POINTS or family not in strongest:
            continue
        feature = FEATURE_BY_NAME.get(strongest[family][1])
        family_zh, family_en = FAMILIES.get(family, (family, family))
        what_zh, what_en = (feature.zh, feature.en) if feature else (family_zh, family_en.lower())
        if total < 0 and family not in problems:
            raising.append(Reason(True, moved, f"{family_zh}：{what_zh}情况良好", f"{family_en}: good {what_en}"))
        elif total > 0:
            lowering.append(Reason(False, moved, f"{family_zh}：{what_zh}拉低了评分",
                                   f"{family_en}: {what_en} holds the score down"))
    return raising[:REASONS_PER_SIDE], lowering[:REASONS_PER_SIDE]


def explain(session: Session, instance_path: str | Path, score: Score, district_code: str) -> Explanation | None:
    """The enterprise's latest score explained with the active model on the features as of that score's
    date; None when no model loads or the registry has no features for it."""
    try:
        _, model = registry.active_model.get(session, instance_path)
    except registry.ModelUnavailable:
        return None
    frame = features_as_of(session, score.as_of, [score.uscc])
    if frame.empty:
        return None
    row = frame.iloc[0]
    remedies = _remedies(row)
    variants = pd.concat([frame] + [frame.assign(**changes) for _, _, changes in remedies], ignore_index=True)
    pd_all, contributions = model.explain(variants)
    scored = points(pd_all)
    now = int(scored[0])
    what_ifs = sorted((WhatIf(zh, en, int(p) - now, _grade_of(int(p)))
                       for (zh, en, _), p in zip(remedies, scored[1:], strict=True) if int(p) - now >= MIN_POINTS),
                      key=lambda w: -w.points)
    raising, lowering = _reasons(model, frame, contributions[0], _problem_families(row))
    threshold_grade = threshold(session, district_code)
    grades = [g for g, _ in GRADE_FLOORS]
    shown = score.points
    current = _grade_of(shown)
    better = grades[grades.index(current) - 1] if grades.index(current) > 0 else None
    return Explanation(
        points=shown, grade=current, bands=bands(threshold_grade), threshold_grade=threshold_grade,
        threshold_points=_floor(threshold_grade), position=_percent(shown),
        threshold_position=_percent(_floor(threshold_grade)), next_grade=better,
        points_to_next=(_floor(better) - shown) if better else None,
        raising=raising, lowering=lowering, what_ifs=what_ifs)
