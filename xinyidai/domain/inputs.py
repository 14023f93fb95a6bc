"""What the platform accepts as a number, a date or a piece of free text, whichever channel it comes through
(web forms, CSV uploads and deliveries, JSON API bodies and query strings). One definition, so a value refused
on one channel is refused on every other, with the same message.

Numbers
    Plain decimal notation only — an optional sign, ASCII digits, an optional point and fraction — and at most
    ``MAX_NUMBER_CHARS`` characters, checked *before* the text becomes a number, so no input can cost a worker
    more than microseconds (``1e999000`` would take half a minute of arithmetic). Exponents, ``NaN``,
    ``Infinity``, ``1_000`` and digits of other scripts are refused. Full-width digits and signs
    (``１２３．５``, what a Chinese input method types) are normalised to ASCII first — on every channel.

Dates
    ``YYYY-MM-DD`` with a year between ``EARLIEST_YEAR`` and ``LATEST_YEAR``, so date arithmetic never
    overflows. A date that reports something which happened (a disbursement, a month-end balance) may be at
    most ``CLOCK_SKEW`` ahead of today and never before the event it follows (`reported_day`).

Free text
    `clean_text`: NFC, no control characters (tab and newline only in multi-line text), no invisible format
    characters (bidi overrides and isolates, zero-width spaces and joiners, BOM), no lone surrogates, trimmed.
    Text that is blank after that counts as not given.

Messages are Chinese source strings marked with `N_` (pages word them in their language; the API sends them
as they are, with the field named).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from decimal import Decimal

from marshmallow import ValidationError, fields

from xinyidai.i18n import N_

MAX_NUMBER_CHARS = 24
EARLIEST_YEAR = 1900
LATEST_YEAR = 2100
CLOCK_SKEW = timedelta(days=1)

_FULL_WIDTH = str.maketrans({**{chr(0xFF10 + d): str(d) for d in range(10)}, "．": ".", "－": "-", "＋": "+",
                             "\u3000": " "})
_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?", re.ASCII)
_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})", re.ASCII)

NOT_A_NUMBER = N_("请填写数字，例如 500 或 120.5。")
TOO_LONG_NUMBER = N_("数字过长。")
NOT_WHOLE = N_("请填写整数。")
NOT_A_DAY = N_("请填写有效日期，例如 2026-12-31。")
NOT_A_MONTH = N_("请填写有效月份，例如 2026-03。")
DAY_OUT_OF_RANGE = N_("日期超出可接受的范围。")
IN_THE_FUTURE = N_("日期不能晚于今天。")
BAD_CHARACTERS = N_("含有不可见或无法识别的字符（控制字符、方向控制符或零宽字符）。")


class InputError(ValueError):
    """A value that is not acceptable; `message` is a Chinese source string marked with N_."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------- numbers

def number_text(raw: str) -> str:
    """`raw` as plain ASCII decimal notation (full-width digits normalised, surrounding space trimmed), or
    InputError. The length is checked before anything else looks at the text."""
    if len(raw) > 4 * MAX_NUMBER_CHARS:
        raise InputError(TOO_LONG_NUMBER)
    text = raw.translate(_FULL_WIDTH).strip()
    if len(text) > MAX_NUMBER_CHARS:
        raise InputError(TOO_LONG_NUMBER)
    return text


def parse_decimal(raw: str) -> Decimal:
    """A finite Decimal from plain decimal notation (see the module docstring), or InputError."""
    text = number_text(raw)
    if not _DECIMAL.fullmatch(text):
        raise InputError(NOT_A_NUMBER)
    return Decimal(text)


def parse_whole(raw: str) -> int:
    """An int from plain whole-number notation, or InputError."""
    text = number_text(raw)
    if not _WHOLE.fullmatch(text):
        raise InputError(NOT_WHOLE)
    return int(text)


def bounded_decimal(value: Decimal) -> Decimal:
    """A Decimal that came from elsewhere (a JSON float, a form library) checked like typed text."""
    if not value.is_finite() or len(format(value, "f")) > MAX_NUMBER_CHARS:
        raise InputError(TOO_LONG_NUMBER if value.is_finite() else NOT_A_NUMBER)
    return value


# ---------------------------------------------------------------- dates

def parse_day(raw: str) -> date:
    """A date from ``YYYY-MM-DD`` (full-width digits normalised) within the accepted years, or InputError."""
    text = raw[:40].translate(_FULL_WIDTH).strip()
    match = _DAY.fullmatch(text)
    if not match:
        raise InputError(NOT_A_DAY)
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise InputError(NOT_A_DAY) from None
    return check_year(day)


def parse_month(raw: str) -> date:
    """The first day of a month from ``YYYY-MM`` (full-width digits normalised) within the accepted years, or
    InputError: report months and dashboard periods obey the same years as every date."""
    match = _MONTH.fullmatch(raw[:40].translate(_FULL_WIDTH).strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise InputError(NOT_A_MONTH)
    return check_year(date(int(match[1]), int(match[2]), 1))


def check_year(day: date) -> date:
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise InputError(DAY_OUT_OF_RANGE)
    return day


def latest_reportable_day(today: date | None = None) -> date:
    """The last date a report of something that happened may carry: today plus a day of clock skew."""
    return (today or date.today()) + CLOCK_SKEW


def reported_day(day: date, *, not_before: date | None = None, before_message: str | None = None,
                 today: date | None = None) -> date:
    """A date reporting an event: not in the future (beyond CLOCK_SKEW), not before `not_before` (the event it
    follows). Raises InputError with `before_message` for the latter."""
    check_year(day)
    if day > latest_reportable_day(today):
        raise InputError(IN_THE_FUTURE)
    if not_before is not None and day < not_before:
        raise InputError(before_message or DAY_OUT_OF_RANGE)
    return day


# ---------------------------------------------------------------- text

_ALLOWED_IN_MULTILINE = frozenset("\n\t")


def bad_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character free text may not carry, or None."""
    for char in text:
        if char in _ALLOWED_IN_MULTILINE and multiline:
            continue
        # Cc control, Cf format (bidi overrides/isolates, zero-width, BOM), Cs lone surrogates,
        # Zl / Zp line and paragraph separators.
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            return char
    return None


def clean_text(raw: str, *, multiline: bool = False) -> str:
    """Free text normalised (NFC, trimmed, CRLF → LF), or InputError when it carries a control, format or
    surrogate character. Blank text comes back as "" (callers treat it as not given)."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n") if multiline else raw
    if bad_character(text, multiline=multiline) is not None:
        raise InputError(BAD_CHARACTERS)
    return unicodedata.normalize("NFC", text).strip()


# ---------------------------------------------------------------- marshmallow fields (API bodies, query strings, CSV rows)

def _invalid(error: InputError) -> ValidationError:
    return ValidationError(error.message)


class Whole(fields.Integer):
    """An integer. From JSON a number (no bool, no float, digits bounded by the API's JSON reader); from text
    (query strings, CSV cells; ``strict=False``) plain whole-number notation via `parse_whole`."""

    def _validated(self, value):
        if isinstance(value, str):
            if self.strict:
                raise self.make_error("invalid", input=value)
            try:
                value = parse_whole(value)
            except InputError as error:
                raise _invalid(error) from None
        elif isinstance(value, float) and not self.strict:
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class Amount(fields.Decimal):
    """A decimal number from text or a JSON number, through `parse_decimal` (plain notation, bounded length)."""

    def _validated(self, value):
        if value is True or value is False or not isinstance(value, str | int | float | Decimal):
            raise self.make_error("invalid", input=value)
        try:
            number = parse_decimal(value if isinstance(value, str) else str(value))
        except InputError as error:
            raise _invalid(error) from None
        return super()._validated(number)


class Day(fields.Date):
    """``YYYY-MM-DD`` through `parse_day` (the accepted years; full-width digits normalised)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return parse_day(value)
        except InputError as error:
            raise _invalid(error) from None


class Text(fields.String):
    """Free text through `clean_text`; blank is "not given" (None where allowed, else "required")."""

    def __init__(self, *, multiline: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.multiline = multiline

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text = clean_text(text, multiline=self.multiline)
        except InputError as error:
            raise _invalid(error) from None
        if not text:
            if self.allow_none:
                return None
            raise self.make_error("required")
        return text

    def _validate(self, value):
        if value is not None:  # blank sent where allowed is "not given": no length or pattern to check
            super()._validate(value)


# ---------------------------------------------------------------- ids and page numbers from query strings and forms

MAX_ID = 2**31 - 1  # the id columns' range (INTEGER)
MAX_PAGE = 100_000


def parse_id(raw: str | None) -> int | None:
    """A row id typed or sent as text (a filter, a checkbox value), or None when it is not one."""
    try:
        value = parse_whole(raw or "")
    except InputError:
        return None
    return value if 0 < value <= MAX_ID else None


def page_number(raw: str | None) -> int:
    """A page number from a query string: 1 for anything that is not one, at most MAX_PAGE."""
    try:
        value = parse_whole(raw or "1")
    except InputError:
        return 1
    return min(max(value, 1), MAX_PAGE)
