"""What an office may look at: its district (the city office: all sixteen) and the filters of a view.

The district comes from the logged-in user, never from the URL; a district named in the query string
must lie inside the office's scope or the view answers 404 (`OutOfScope`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from models.base import SHANGHAI
from models.identity import CITY_CODE
from xinyidai.domain import inputs
from xinyidai.reference import INDUSTRY_SECTIONS, SHANGHAI_DISTRICTS

DEFAULT_MONTHS = 12
MAX_MONTHS = 120


class OutOfScope(LookupError):
    """A district, bank, version or alert outside what this office may see: answered as 404."""


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def shanghai_month(moment: datetime | None = None) -> date:
    moment = moment or datetime.now(UTC)
    return moment.astimezone(SHANGHAI).date().replace(day=1)


def parse_month(text: str | None) -> date | None:
    """"2026-03" → date(2026, 3, 1) (`inputs.parse_month`: years 1900–2100); anything else → None."""
    try:
        return inputs.parse_month(text or "")
    except inputs.InputError:
        return None


@dataclass(frozen=True)
class Scope:
    """The districts one office sees."""

    office_district: str
    districts: tuple[str, ...]

    @property
    def is_city(self) -> bool:
        return self.office_district == CITY_CODE

    def narrowed(self, district: str | None) -> Scope:
        """The scope limited to one of its districts (the city office comparing); OutOfScope otherwise."""
        if not district:
            return self
        if district not in self.districts:
            raise OutOfScope(district)
        return Scope(self.office_district, (district,))


def office_scope(district_code: str) -> Scope:
    if district_code == CITY_CODE:
        return Scope(CITY_CODE, tuple(SHANGHAI_DISTRICTS))
    if district_code not in SHANGHAI_DISTRICTS:
        raise OutOfScope(district_code)
    return Scope(district_code, (district_code,))


@dataclass(frozen=True)
class Filters:
    """A view's period (whole Shanghai months, both ends included), bank and industry section."""

    start: date
    end: date
    bank_id: int | None = None
    industry: str | None = None

    @property
    def months(self) -> list[date]:
        count = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
        return [add_months(self.start, i) for i in range(count)]

    @property
    def start_utc(self) -> datetime:
        return datetime(self.start.year, self.start.month, 1, tzinfo=SHANGHAI).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        """The first instant after the period (exclusive bound)."""
        after = add_months(self.end, 1)
        return datetime(after.year, after.month, 1, tzinfo=SHANGHAI).astimezone(UTC)

    @property
    def end_day(self) -> date:
        """The first day after the period (exclusive bound for date columns)."""
        return add_months(self.end, 1)

    def with_period(self, start: date, end: date) -> Filters:
        return replace(self, start=start, end=end)

    def query_args(self) -> dict[str, str]:
        args = {"from": f"{self.start:%Y-%m}", "to": f"{self.end:%Y-%m}"}
        if self.bank_id:
            args["bank"] = str(self.bank_id)
        if self.industry:
            args["industry"] = self.industry
        return args


def default_filters(today: datetime | None = None) -> Filters:
    end = shanghai_month(today)
    return Filters(add_months(end, -(DEFAULT_MONTHS - 1)), end)


class BadPeriod(ValueError):
    """A period that cannot be shown as given: said, never silently replaced. str() is Chinese."""

    def __init__(self, zh: str, en: str):
        self.zh, self.en = zh, en
        super().__init__(zh)


class ReversedPeriod(BadPeriod):
    """A period whose first month is after its last (never silently swapped)."""

    def __init__(self, start: date, end: date):
        super().__init__(f"起始月份 {start:%Y-%m} 晚于截止月份 {end:%Y-%m}，请重新选择统计期间。",
                         f"The first month {start:%Y-%m} is after the last month {end:%Y-%m}: choose the period again.")


class UnreadableMonth(BadPeriod):
    """A first or last month given that is not a month of the accepted years (``9999-12``, ``2026-13``)."""

    def __init__(self, text: str):
        shown = text[:20]
        super().__init__(f"“{shown}”不是有效月份（格式 YYYY-MM，{inputs.EARLIEST_YEAR}–{inputs.LATEST_YEAR} 年），请重新选择统计期间。",
                         f"“{shown}” is not a valid month (YYYY-MM, {inputs.EARLIEST_YEAR}–{inputs.LATEST_YEAR}): "
                         "choose the period again.")


def _month_arg(args, name: str, default: date) -> date:
    text = (args.get(name) or "").strip()
    if not text:
        return default
    month = parse_month(text)
    if month is None:
        raise UnreadableMonth(text)
    return month


def filters_from_args(args, today: datetime | None = None) -> Filters:
    """Filters from a query string; months not given are the defaults (last 12 months). UnreadableMonth when
    a month given is not one, ReversedPeriod when the first month given is after the last."""
    default = default_filters(today)
    start, end = _month_arg(args, "from", default.start), _month_arg(args, "to", default.end)
    if start > end:
        raise ReversedPeriod(start, end)
    if (end.year - start.year) * 12 + end.month - start.month >= MAX_MONTHS:
        start = add_months(end, -(MAX_MONTHS - 1))
    bank = args.get("bank", "")
    industry = args.get("industry") or None
    return Filters(start, end, inputs.parse_id(bank),
                   industry if industry in INDUSTRY_SECTIONS else None)
