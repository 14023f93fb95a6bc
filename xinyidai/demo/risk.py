"""The hidden truth: each enterprise's probability of default within 12 months, as a function of
what the providers had delivered by a given month.

Only data a lender could have seen counts: the 12 months before the as-of month, events decided
before it, ratings published by then; of the later sources the certificates valid, the patents granted,
the environmental rating published and the recognitions live on the day (`later_sources.visible`). A model
trained on the delivered data can therefore at best match `true_pd`; its AUC against the drawn outcomes is
the ceiling `truth.csv` lets you measure.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from xinyidai.demo import clock, later_sources
from xinyidai.demo.activity import History
from xinyidai.demo.records import rating_as_of

WINDOW = 12
INTERCEPT = -4.1
RATING_EFFECT = {"A": -0.7, "B": 0.0, "M": 0.25, "C": 0.9, "D": 1.6, "": 0.3}
SIZE_EFFECT = np.array([-0.6, -0.3, 0.0, 0.35])  # 大, 中, 小, 微
INDUSTRY_EFFECT = {"E": 0.3, "H": 0.35, "F": 0.1, "K": 0.2, "I": -0.1, "M": -0.1}
SERIOUS_KINDS = ("失信被执行人", "严重违法失信名单")
EVENT_WEIGHT = {("行政处罚", "轻微"): 0.1, ("行政处罚", "一般"): 0.3, ("行政处罚", "严重"): 0.6,
                ("经营异常名录", "一般"): 0.5, ("失信被执行人", "严重"): 1.6, ("严重违法失信名单", "严重"): 2.0}


def features_as_of(firms: pd.DataFrame, history: History, events: pd.DataFrame, ratings: pd.DataFrame,
                   firm: np.ndarray, as_of: np.ndarray) -> pd.DataFrame:
    """One row per (firm, as_of): `as_of` is a history-month index; months before it are visible."""
    window = as_of[:, None] - WINDOW + np.arange(WINDOW)[None, :]

    def take(values: np.ndarray) -> np.ndarray:
        picked = values[firm[:, None], np.clip(window, 0, clock.HISTORY_MONTHS - 1)]
        return np.where(window >= 0, picked, np.nan)

    sales = take(history.sales)
    log_sales = np.log(sales + 1000)
    headcount = take(history.headcount)
    electricity = {k: take(v) for k, v in history.utilities["electricity"].items()}
    unpaid = np.zeros(sales.shape)
    for kind in history.utilities.values():
        unpaid += np.nan_to_num(take(kind["paid"]) < take(kind["billed"]) - 0.005)
    expected_months = np.clip(as_of - _first_month(firms)[firm], 0, WINDOW)
    # An all-NaN window (a firm not founded yet) is expected; its nanmean warning is noise.
    with np.errstate(all="ignore"), warnings.catch_warnings(action="ignore", category=RuntimeWarning):
        features = pd.DataFrame({
            "sales_trend": np.nan_to_num(np.nanmean(log_sales[:, 6:], 1) - np.nanmean(log_sales[:, :6], 1)),
            "sales_volatility": np.nan_to_num(np.nanstd(np.diff(log_sales, axis=1), 1)),
            "zero_sales_months": np.nansum(sales == 0, 1),
            "tax_arrears_months": np.nansum(take(history.tax_arrears), 1),
            "si_arrears_max": np.nan_to_num(np.nanmax(take(history.si_arrears_months), 1)),
            "hf_arrears_months": np.nansum(take(history.hf_arrears), 1),
            "utility_days_late": np.nan_to_num(np.nanmean(electricity["days_late"][:, 6:], 1)),
            "utility_unpaid_months": unpaid.sum(1),
            "headcount_trend": np.nan_to_num(np.log((np.nanmean(headcount[:, -3:], 1) + 1)
                                                    / (np.nanmean(headcount[:, :3], 1) + 1))),
            "missing_share": np.where(expected_months > 0,
                                      1 - np.isfinite(sales).sum(1) / np.maximum(expected_months, 1), 1.0),
        })
    features["event_burden"], features["serious_records"] = _event_burden(events, firm, as_of)
    features["tax_rating"] = rating_as_of(ratings, firm, as_of)
    as_of_day = np.array([clock.add_months(clock.FIRST_MONTH, int(a)) for a in as_of])
    established = firms.established_on.to_numpy()[firm]
    features["age_years"] = [(d - e).days / 365.25 for d, e in zip(as_of_day, established, strict=True)]
    features["size_index"] = firms.size_index.to_numpy()[firm]
    if "high_tech_from" in firms:  # the later sources (xinyidai.demo.later_sources), as visible on the day
        days = np.array([d.isoformat() for d in as_of_day], dtype="datetime64[D]")
        features = pd.concat([features, later_sources.visible(firms, firm, days)], axis=1)
    features["industry_section"] = firms.industry_section.to_numpy()[firm]
    return features


def true_pd(features: pd.DataFrame) -> np.ndarray:
    """The generating model (a logit with hinges and one interaction; not what a bank would fit)."""
    trend = np.clip(features.sales_trend, -3, 2)
    decline = np.clip(-trend - 0.25, 0, None)
    arrears = np.clip(features.tax_arrears_months, 0, 6)
    logit = (
        INTERCEPT
        - 0.5 * trend + 1.1 * decline
        + 1.2 * np.clip(features.sales_volatility - 0.15, 0, 1.5)
        + 0.12 * np.clip(features.zero_sales_months, 0, 12)
        + 0.35 * arrears + 0.25 * arrears * decline
        + 0.3 * np.clip(features.si_arrears_max, 0, 6)
        + 0.15 * np.clip(features.hf_arrears_months, 0, 6)
        + 0.035 * np.clip(features.utility_days_late, 0, 60)
        + 0.25 * np.clip(features.utility_unpaid_months, 0, 6)
        - 0.9 * np.clip(features.headcount_trend, -2, 0.3) + 0.8 * (features.headcount_trend < -0.5)
        + np.clip(features.event_burden, 0, 4)
        + features.tax_rating.map(RATING_EFFECT).to_numpy()
        + 0.7 * np.exp(-features.age_years / 1.5) - 0.15 * np.log1p(np.clip(features.age_years, 0, 30))
        + SIZE_EFFECT[features.size_index.to_numpy()]
        + features.industry_section.map(INDUSTRY_EFFECT).fillna(0).to_numpy()
        + 1.0 * np.clip(features.missing_share, 0, 1)
    )
    if "qual_high_tech" in features:
        logit = logit + later_sources.effect(features)
    return 1 / (1 + np.exp(-logit.to_numpy(dtype=float)))


def _first_month(firms: pd.DataFrame) -> np.ndarray:
    return np.array([max(0, clock.month_index(d) + 1) for d in firms.established_on])


def _event_burden(events: pd.DataFrame, firm: np.ndarray, as_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted count of records decided before the as-of month and not repaired by then (a force-majeure
    record does not count: 宽容审慎; a repaired one leaves a small trace), and how many of the live ones
    are 失信被执行人 / 严重违法失信 (the whitelist gates)."""
    if events.empty:
        return np.zeros(len(firm)), np.zeros(len(firm), dtype=int)
    pairs = pd.DataFrame({"row": np.arange(len(firm)), "firm": firm,
                          "day": [clock.add_months(clock.FIRST_MONTH, int(a)) for a in as_of]})
    joined = pairs.merge(events[["firm", "kind", "severity", "decided_on", "repaired_on", "force_majeure"]], on="firm")
    joined = joined[(joined.decided_on < joined.day) & ~joined.force_majeure.astype(bool)]
    live = (joined.repaired_on.isna() | (joined.repaired_on.fillna(joined.day) >= joined.day)).to_numpy()
    weight = pd.Series(list(zip(joined.kind, joined.severity, strict=True)), index=joined.index).map(EVENT_WEIGHT)
    weight = np.where(live, weight, 0.05)
    serious = live & joined.kind.isin(SERIOUS_KINDS).to_numpy()
    sums = pd.DataFrame({"weight": weight, "serious": serious}, index=joined.index).groupby(joined.row.to_numpy()).sum()
    sums = sums.reindex(range(len(firm)), fill_value=0)
    return sums.weight.to_numpy(dtype=float), sums.serious.to_numpy(dtype=int)
