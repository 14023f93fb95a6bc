"""Public-credit events (公共信用) and yearly tax credit ratings (纳税信用等级), drawn from the same
hidden stress as the monthly data so that trouble shows up in several sources at once."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from xinyidai.demo import clock
from xinyidai.demo.activity import History, Latent

EVENTS_FROM = date(2019, 1, 1)
LOCKDOWN = (date(2022, 4, 1), date(2022, 5, 1))  # the Shanghai lockdown months: penalties often forgiven
PENALTY_RATE = {"H": 0.16, "E": 0.11, "C": 0.08, "G": 0.07, "Q": 0.08, "F": 0.05}  # 行政处罚 per year
DISTRICT_ABBREVIATIONS = {
    "310101": "黄", "310104": "徐", "310105": "长", "310106": "静", "310107": "普", "310109": "虹", "310110": "杨",
    "310112": "闵", "310113": "宝", "310114": "嘉", "310115": "浦", "310116": "金", "310117": "松", "310118": "青",
    "310120": "奉", "310151": "崇",
}
# (kind, severity) → chance the record is repaired (信用修复) and the lag in days before it can be.
REPAIR = {
    ("行政处罚", "轻微"): (0.65, 30, 200), ("行政处罚", "一般"): (0.45, 90, 400), ("行政处罚", "严重"): (0.15, 365, 730),
    ("经营异常名录", "一般"): (0.70, 20, 300), ("失信被执行人", "严重"): (0.35, 60, 600),
    ("严重违法失信名单", "严重"): (0.10, 365, 1000),
}
RATING_PUBLISHED_MONTH = 5  # a year's rating is published in April of the next year


def event_months() -> list[date]:
    months, month = [], EVENTS_FROM
    while month <= clock.DATA_END:
        months.append(month)
        month = clock.add_months(month, 1)
    return months


def draw_events(rng: np.random.Generator, firms: pd.DataFrame, latent: Latent) -> pd.DataFrame:
    """Events decided 2019-01 … 2026-10 (not yet numbered: see `number_events`)."""
    months = event_months()
    first = clock.month_index(months[0])
    index = np.arange(len(months)) + first  # history-month index, negative before the window
    stress = np.concatenate(
        [np.repeat(-0.7 * firms.health.to_numpy()[:, None], -first, axis=1), latent.stress], axis=1)
    born = np.array([clock.month_index(d) for d in firms.established_on])
    alive = (index[None, :] >= born[:, None]) & (index[None, :] < latent.end[:, None])
    dormant = firms.dormant.to_numpy()[:, None]
    july = np.array([m.month == 7 for m in months])[None, :]
    lockdown = np.array([LOCKDOWN[0] <= m <= LOCKDOWN[1] for m in months])[None, :]
    penalty = firms.industry_section.map(PENALTY_RATE).fillna(0.04).to_numpy()[:, None]
    rates = {  # chance per firm-month
        "行政处罚": penalty / 12 * np.exp(0.5 * stress) * np.where(lockdown, 2.5, 1.0),
        # Missing the 30 June annual-report deadline puts a firm on the list in July.
        "经营异常名录": np.where(july, 0.02 * np.exp(0.7 * stress) + 0.35 * dormant, 0.002 * np.exp(0.7 * stress)),
        "失信被执行人": 0.003 / 12 * np.exp(1.0 * stress),
        "严重违法失信名单": (0.001 * np.exp(1.0 * stress) + 0.01 * dormant) / 12,
    }
    frames = []
    for kind, rate in rates.items():
        firm, month = np.nonzero(alive & (rng.random(rate.shape) < np.clip(rate, 0, 0.9)))
        frames.append(pd.DataFrame({"firm": firm, "month": month, "kind": kind}))
    frames.append(_revocation_listings(latent, first))
    events = pd.concat(frames, ignore_index=True).sort_values(["firm", "month", "kind"], ignore_index=True)
    stress_then = stress[events.firm, events.month]
    events["decided_on"] = [clock.working_day(months[m].replace(day=int(d)))
                            for m, d in zip(events.month, rng.integers(1, 27, len(events)), strict=True)]
    events["severity"] = _severity(rng, events.kind.to_numpy(), stress_then)
    events["force_majeure"] = (events.decided_on.map(lambda d: LOCKDOWN[0] <= d < date(2022, 6, 1))
                               & (events.kind == "行政处罚") & (rng.random(len(events)) < 0.6))
    events["repaired_on"] = _repairs(rng, events, firms.health.to_numpy())
    return events.drop(columns="month")


def _revocation_listings(latent: Latent, first: int) -> pd.DataFrame:
    """An abandoned firm is listed as unreachable soon after it goes quiet (before its licence is revoked)."""
    firm = np.flatnonzero((latent.closure == "吊销") & (latent.end + 2 < clock.HISTORY_MONTHS))
    return pd.DataFrame({"firm": firm, "month": latent.end[firm] + 2 - first, "kind": "经营异常名录"})


def _severity(rng, kinds: np.ndarray, stress: np.ndarray) -> np.ndarray:
    u = rng.random(len(kinds)) - 0.08 * np.clip(stress, -2, 3)
    penalty = np.where(u < 0.5, "轻微", np.where(u < 0.92, "一般", "严重"))
    return np.select([kinds == "行政处罚", kinds == "经营异常名录"], [penalty, "一般"], "严重")


def _repairs(rng, events: pd.DataFrame, health: np.ndarray) -> list[date | None]:
    last = clock.month_end(clock.DATA_END)
    chance = rng.random(len(events))
    lag = rng.random(len(events))
    out = []
    for i, (kind, severity, decided, firm) in enumerate(
            zip(events.kind, events.severity, events.decided_on, events.firm, strict=True)):
        share, low, high = REPAIR[(kind, severity)]
        share *= 1.25 if health[firm] > 0 else 0.75
        repaired = decided + timedelta(days=int(low + lag[i] * (high - low)))
        out.append(repaired if chance[i] < share and repaired <= last else None)
    return out


def number_events(events: pd.DataFrame, firms: pd.DataFrame) -> pd.DataFrame:
    """Give each event its document number, in decision order: 沪市监浦处〔2024〕000123号,（2025）沪0115执000045号 …"""
    events = events.sort_values(["decided_on", "firm", "kind"], ignore_index=True)
    year = events.decided_on.map(lambda d: d.year)
    serial = events.groupby([events.kind, year]).cumcount() + 1
    district = firms.district_code.to_numpy()[events.firm]
    ids = []
    for kind, y, n, code in zip(events.kind, year, serial, district, strict=True):
        abbreviation = DISTRICT_ABBREVIATIONS[code]
        ids.append({
            "行政处罚": f"沪市监{abbreviation}处〔{y}〕{n:06d}号",
            "经营异常名录": f"沪市监{abbreviation}异〔{y}〕{n:06d}号",
            "失信被执行人": f"（{y}）沪{code[2:]}执{n:06d}号",
            "严重违法失信名单": f"沪市监{abbreviation}严〔{y}〕{n:06d}号",
        }[kind])
    events.insert(0, "record_id", ids)
    events["uscc"] = firms.uscc.to_numpy()[events.firm]
    return events


def tax_ratings(rng_noise: np.ndarray, firms: pd.DataFrame, latent: Latent, history: History,
                events: pd.DataFrame) -> pd.DataFrame:
    """纳税信用等级 for 2022–2025: M in the year a firm is founded or when it had no sales; D with a
    serious unrepaired record; otherwise A/B/C by conduct. `rng_noise` is (firms × 4), drawn once."""
    rows = []
    health = firms.health.to_numpy()
    born = np.array([d.year for d in firms.established_on])
    serious = events[events.kind.isin(["失信被执行人", "严重违法失信名单"])]
    for j, year in enumerate(range(2022, 2026)):
        in_year = np.array([m.year == year for m in clock.MONTHS])
        closed_by = np.array([clock.MONTHS[min(e, clock.HISTORY_MONTHS - 1)] for e in latent.end])
        rated = (born <= year) & ((latent.end == clock.HISTORY_MONTHS) | (closed_by > date(year + 1, 4, 1)))
        score = 0.8 * health + 0.6 * rng_noise[:, j]
        if in_year.any():
            score -= 0.3 * latent.stress[:, in_year].mean(axis=1)
            score -= 0.3 * np.nansum(history.tax_arrears[:, in_year], axis=1)
            score -= 0.15 * np.nansum(history.si_arrears_months[:, in_year] > 0, axis=1)
            no_sales = np.nansum(history.sales[:, in_year], axis=1) == 0
        else:
            no_sales = firms.dormant.to_numpy() & (rng_noise[:, j] > 0)
        grade = np.where(score > 0.9, "A", np.where(score > -1.4, "B", np.where(score > -3.0, "C", "D")))
        grade = np.where((born == year) | no_sales, "M", grade)
        year_end = date(year, 12, 31)
        live = serious.repaired_on.isna() | (serious.repaired_on.fillna(year_end) > year_end)
        flagged = serious[(serious.decided_on.map(lambda d: d.year) == year) & live].firm.unique()
        grade[flagged] = "D"
        firm = np.flatnonzero(rated)
        rows.append(pd.DataFrame({"firm": firm, "year": year, "rating": grade[firm]}))
    return pd.concat(rows, ignore_index=True)


def rating_as_of(ratings: pd.DataFrame, firm: np.ndarray, as_of: np.ndarray) -> np.ndarray:
    """The latest published rating for each (firm, as-of history-month index); "" when none."""
    out = np.full(len(firm), "", dtype=object)
    for year in range(2022, 2026):
        published = clock.month_index(date(year + 1, RATING_PUBLISHED_MONTH, 1))
        lookup = ratings[ratings.year == year].set_index("firm").rating
        visible = as_of >= published
        found = pd.Series(firm[visible]).map(lookup).to_numpy()
        out[np.flatnonzero(visible)] = np.where(pd.isna(found), out[visible], found)
    return out
