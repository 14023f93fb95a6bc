"""The demo's fixed clock: every date is relative to the last data month (2026-10), never to today,
so the same seed gives the same population whenever it is generated."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

DATA_END = date(2026, 10, 1)  # the last month any provider delivers
HISTORY_MONTHS = 36  # 2023-11 … 2026-10
# Platform activity (claims, monthly performance reports for October) runs a few weeks past the data.
DEMO_NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
# 春节 (first day): the month it falls in, and the one after, are the quiet months of the Chinese year.
SPRING_FESTIVAL = (date(2023, 1, 22), date(2024, 2, 10), date(2025, 1, 29), date(2026, 2, 17))
# Shanghai is UTC+8; office hours 09:00–18:00 are 01:00–10:00 UTC.
OFFICE_START_UTC_HOUR = 1
OFFICE_HOURS = 9


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


FIRST_MONTH = add_months(DATA_END, -(HISTORY_MONTHS - 1))
MONTHS: tuple[date, ...] = tuple(add_months(FIRST_MONTH, i) for i in range(HISTORY_MONTHS))


def month_index(day: date) -> int:
    """Index of the month holding `day` in MONTHS (negative before, ≥ HISTORY_MONTHS after)."""
    return (day.year - FIRST_MONTH.year) * 12 + day.month - FIRST_MONTH.month


def month_end(month: date) -> date:
    return add_months(month, 1) - timedelta(days=1)


def month_labels() -> np.ndarray:
    return np.array([m.strftime("%Y-%m") for m in MONTHS])


def calendar_month(offset: int = 0) -> np.ndarray:
    """Calendar month number (1–12) of every history month, shifted by `offset` months."""
    return np.array([add_months(m, offset).month for m in MONTHS])


def spring_festival_weight() -> np.ndarray:
    """Share of a normal month's activity lost to the Spring Festival, per history month (0 … ~0.35).

    About a week off plus slow days around it; a late festival spills into the next month."""
    lost = np.zeros(HISTORY_MONTHS)
    for festival in SPRING_FESTIVAL:
        late = festival.day >= 20
        for offset, share in ((0, 0.22 if late else 0.32), (1, 0.18 if late else 0.08)):
            i = month_index(add_months(festival.replace(day=1), offset))
            if 0 <= i < HISTORY_MONTHS:
                lost[i] += share
    return lost


def working_day(day: date) -> date:
    """The same day, or the next Monday when it falls on a weekend."""
    return day + timedelta(days=max(0, 7 - day.weekday()) if day.weekday() >= 5 else 0)


def previous_working_day(day: date) -> date:
    """The same day, or the Friday before when it falls on a weekend."""
    return day - timedelta(days=day.weekday() - 4 if day.weekday() >= 5 else 0)


def office_time(day: date, fraction: float) -> datetime:
    """A moment during Shanghai office hours on `day`; `fraction` in [0, 1) picks when."""
    minutes = int(fraction * OFFICE_HOURS * 60)
    return datetime(day.year, day.month, day.day, OFFICE_START_UTC_HOUR, tzinfo=UTC) + timedelta(minutes=minutes)
