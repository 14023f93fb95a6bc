"""Working days for the claim SLA clock: Monday–Friday, less China's public holidays, plus the official
make-up working days (调休) on which offices work a Saturday or Sunday.

The holidays and 调休 days come from the maintained `holidays` package (its China calendar follows each
year's State Council notice). The State Council publishes next year's arrangement in November, and a
district may close on a day of its own, so two settings override the package, each a comma-separated list
of ISO dates: XYD_EXTRA_DAYS_OFF (no work that day) and XYD_EXTRA_WORKING_DAYS (offices open that day).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import holidays

from models.base import SHANGHAI

CONFIG_DAYS_OFF = "XYD_EXTRA_DAYS_OFF"
CONFIG_WORKING_DAYS = "XYD_EXTRA_WORKING_DAYS"


def parse_dates(setting: str, value: str | Iterable | None) -> frozenset[date]:
    """The dates of one override setting; a malformed date is an error naming the setting and the value."""
    if not value:
        return frozenset()
    items = value.split(",") if isinstance(value, str) else value
    days = set()
    for item in items:
        if isinstance(item, date):
            days.add(item)
            continue
        text = str(item).strip()
        if not text:
            continue
        try:
            days.add(date.fromisoformat(text))
        except ValueError:
            raise ValueError(f"{setting}: {text!r} is not a date (write 2027-02-05, comma-separated)") from None
    return frozenset(days)


class WorkingCalendar:
    """Which Shanghai dates are working days; answers are cached per date (the SLA clock asks often)."""

    def __init__(self, extra_days_off: Iterable[date] = (), extra_working_days: Iterable[date] = ()):
        self.extra_days_off = frozenset(extra_days_off)
        self.extra_working_days = frozenset(extra_working_days)
        clash = self.extra_days_off & self.extra_working_days
        if clash:
            raise ValueError(f"{CONFIG_DAYS_OFF} and {CONFIG_WORKING_DAYS} both name {min(clash).isoformat()}")
        self._china = holidays.country_holidays("CN")
        self._known: dict[date, bool] = {}

    def is_working_day(self, day: date) -> bool:
        known = self._known.get(day)
        if known is None:
            if day in self.extra_working_days:
                known = True
            elif day in self.extra_days_off:
                known = False
            else:
                known = self._china.is_working_day(day)
            self._known[day] = known
        return known

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The moment `days` working days after `start` (before it when negative), at the same time of day."""
        moment = start.astimezone(SHANGHAI)
        step = 1 if days >= 0 else -1
        remaining = abs(days)
        while remaining:
            moment += timedelta(days=step)
            if self.is_working_day(moment.date()):
                remaining -= 1
        return moment

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days after `start`'s date up to and including `end`'s date (claimed the same day: 0)."""
        first, last = start.astimezone(SHANGHAI).date(), end.astimezone(SHANGHAI).date()
        return sum(self.is_working_day(first + timedelta(days=offset)) for offset in range(1, (last - first).days + 1))


_PLAIN = WorkingCalendar()


def calendar_from_config(config) -> WorkingCalendar:
    """The calendar with the district's overrides from `config` (a Flask config or any mapping)."""
    return WorkingCalendar(parse_dates(CONFIG_DAYS_OFF, config.get(CONFIG_DAYS_OFF)),
                           parse_dates(CONFIG_WORKING_DAYS, config.get(CONFIG_WORKING_DAYS)))


def init_app(app) -> None:
    """Build the app's calendar once, so a malformed override stops start-up instead of a page."""
    app.extensions["xyd_working_calendar"] = calendar_from_config(app.config)


def current_calendar() -> WorkingCalendar:
    """The running app's calendar (with its overrides); outside an app, the package's calendar alone."""
    from flask import current_app, has_app_context

    if has_app_context():
        calendar = current_app.extensions.get("xyd_working_calendar")
        if calendar is None:
            calendar = current_app.extensions["xyd_working_calendar"] = calendar_from_config(current_app.config)
        return calendar
    return _PLAIN


def add_working_days(start: datetime, days: int, calendar: WorkingCalendar | None = None) -> datetime:
    return (calendar or current_calendar()).add_working_days(start, days)


def working_days_between(start: datetime, end: datetime, calendar: WorkingCalendar | None = None) -> int:
    return (calendar or current_calendar()).working_days_between(start, end)
