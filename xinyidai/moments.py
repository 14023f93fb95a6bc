"""The one way a moment or a day is shown to people: in Shanghai time, "YYYY-MM-DD HH:mm" / "YYYY-MM-DD".

Timestamps are stored in UTC (models.base.UTCDateTime); China has one time zone and no daylight saving,
so every page, export and message shows them in Asia/Shanghai — an enterprise and the bank looking at
the same match read the same clock. Templates use the filters (``{{ x.created_at | local_time }}``,
``| local_date``, ``| month``); Python code (exports, messages) calls the functions. A naive datetime
is refused rather than guessed at.
"""

from __future__ import annotations

from datetime import date, datetime

from models.base import SHANGHAI

DISPLAY_ZONE = SHANGHAI
TIME_FORMAT = "%Y-%m-%d %H:%M"
DATE_FORMAT = "%Y-%m-%d"
MISSING = "—"


def in_display_zone(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: timestamps are stored and handled in UTC")
    return moment.astimezone(DISPLAY_ZONE)


def _parsed(moment):
    """A moment handed on as ISO text (an API-shaped dict, an alert's evidence) is read back first."""
    return datetime.fromisoformat(moment) if isinstance(moment, str) else moment


def local_time(moment: datetime | str | None) -> str:
    """A moment as Shanghai wall-clock time; a plain date as itself."""
    if moment is None:
        return MISSING
    moment = _parsed(moment)
    if not isinstance(moment, datetime):
        return moment.strftime(DATE_FORMAT)
    return in_display_zone(moment).strftime(TIME_FORMAT)


def local_date(moment: datetime | date | str | None) -> str:
    """The Shanghai calendar day of a moment (or a date as it is)."""
    if moment is None:
        return MISSING
    moment = _parsed(moment)
    if isinstance(moment, datetime):
        moment = in_display_zone(moment).date()
    return moment.strftime(DATE_FORMAT)


def month(moment: datetime | date | None) -> str:
    """"YYYY-MM" of a day or of a moment's Shanghai day."""
    if moment is None:
        return MISSING
    if isinstance(moment, datetime):
        moment = in_display_zone(moment).date()
    return f"{moment:%Y-%m}"


def month_label(moment: datetime | date | str) -> str:
    """A month for people in the page's language: "2026年1月" in Chinese, "Jan 2026" in English (a chart axis
    or a picker left to the browser would say "Jan 2026" whatever the page's language)."""
    from xinyidai.i18n import locale_code

    day = date.fromisoformat(f"{moment}-01") if isinstance(moment, str) and len(moment) == 7 else _parsed(moment)
    if isinstance(day, datetime):
        day = in_display_zone(day).date()
    return day.strftime("%b %Y") if locale_code() == "en" else f"{day.year}年{day.month}月"


def stamped(moment: datetime) -> str:
    """A moment for a file's header, saying its zone (a file leaves the page that would explain it)."""
    return f"{local_time(moment)} (UTC+8)"


def init_app(app) -> None:
    app.jinja_env.filters.update(local_time=local_time, local_date=local_date, month=month, month_label=month_label)
