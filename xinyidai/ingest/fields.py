"""marshmallow fields for provider data.

Messages are bilingual ("中文（English）") because a delivery report is read by operators of either
language; each states the reason, and the report's column names the field.
"""

from __future__ import annotations

import re
from datetime import date

from marshmallow import ValidationError, fields
from marshmallow.utils import missing as missing_

from xinyidai.domain.inputs import InputError, clean_text, number_text
from xinyidai.uscc import InvalidUSCC, validate_uscc

# ASCII digits only (re.ASCII): full-width ones are normalised first by `_number`, other scripts refused.
_MONTH = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_AMOUNT = re.compile(r"^-?\d{1,14}(\.\d{1,2})?$", re.ASCII)
_DECIMAL = re.compile(r"^\d{1,12}(\.\d{1,4})?$", re.ASCII)
_COUNT = re.compile(r"^\d{1,12}$", re.ASCII)
_TRUE = frozenset({"1", "true", "t", "yes", "y", "是"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "否"})
EARLIEST_YEAR = 1949
LATEST_YEAR = 2100


def fail(zh: str, en: str) -> ValidationError:
    return ValidationError(f"{zh}（{en}）")


def _text(value) -> str:
    if type(value) is str:
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail("类型错误", "wrong type")
    return str(value)


def _number(value) -> str:
    """A numeric cell as the platform reads every number (`inputs.number_text`): bounded length, full-width
    digits normalised."""
    try:
        return number_text(_text(value))
    except InputError:
        raise fail("数字过长", "number too long") from None


class DeliveryField(fields.Field):
    """A field whose whole job is in `_deserialize`.

    marshmallow's generic `Field.deserialize` also runs validator lists and None handling that these
    fields never use; skipping them roughly halves the cost per cell, which is what keeps a delivery of
    millions of rows fast. Missing values still follow `required` / `load_default` as in marshmallow.
    """

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is missing_:
            if self.required:
                raise self.make_error("required")
            return self.load_default() if callable(self.load_default) else self.load_default
        if value is None and self.allow_none:
            return None
        return self._deserialize(value, attr, data, **kwargs)


class USCCField(DeliveryField):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return validate_uscc(_text(value))
        except InvalidUSCC as error:
            raise fail(error.zh, error.en) from None


class MonthField(DeliveryField):
    """"YYYY-MM", stored as the first day of that month."""

    def _deserialize(self, value, attr, data, **kwargs):
        match = _MONTH.match(_number(value))
        if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < EARLIEST_YEAR:
            raise fail("月份格式应为 YYYY-MM", "month must be YYYY-MM")
        month = date(int(match[1]), int(match[2]), 1)
        if month > date.today():
            raise fail("月份不能晚于当前月份", "month is in the future")
        return month


class DayField(DeliveryField):
    """"YYYY-MM-DD", not in the future unless `allow_future` (an expiry date), and at most year 2100 then."""

    def __init__(self, *, allow_future: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.allow_future = allow_future

    def _deserialize(self, value, attr, data, **kwargs):
        match = _DATE.match(_number(value))
        try:
            day = date(int(match[1]), int(match[2]), int(match[3])) if match else None
        except ValueError:
            day = None
        if day is None or day.year < EARLIEST_YEAR or day.year > LATEST_YEAR:
            raise fail("日期格式应为 YYYY-MM-DD", "date must be YYYY-MM-DD")
        if day > date.today() and not self.allow_future:
            raise fail("日期不能晚于今天", "date is in the future")
        return day


class YearField(DeliveryField):
    def _deserialize(self, value, attr, data, **kwargs):
        text = _number(value)
        if not (_COUNT.match(text) and len(text) == 4 and EARLIEST_YEAR <= int(text) <= date.today().year):
            raise fail("年度应为四位年份且不晚于今年", "year must be four digits and not in the future")
        return int(text)


class FenField(DeliveryField):
    """An amount in yuan with at most two decimals, stored exactly as integer fen."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = _number(value)
        if not _AMOUNT.match(text):
            raise fail("金额应以元为单位，最多两位小数", "amount must be in yuan with at most two decimals")
        if text.startswith("-"):
            raise fail("金额不能为负", "amount must not be negative")
        whole, _, cents = text.partition(".")
        return int(whole) * 100 + int(cents.ljust(2, "0") or 0)


class CountField(DeliveryField):
    """A whole number, 0 or more (headcounts, days, months)."""

    def __init__(self, *, maximum: int = 10_000_000, **kwargs):
        super().__init__(**kwargs)
        self.maximum = maximum

    def _deserialize(self, value, attr, data, **kwargs):
        text = _number(value)
        if not _COUNT.match(text):
            raise fail("应为非负整数", "must be a whole number, 0 or more")
        number = int(text)
        if number > self.maximum:
            raise fail(f"不能大于 {self.maximum}", f"must not exceed {self.maximum}")
        return number


class QuantityField(DeliveryField):
    """A non-negative quantity such as kWh or m³."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = _number(value)
        if not _DECIMAL.match(text):
            raise fail("应为非负数，最多四位小数", "must be a non-negative number with at most four decimals")
        return float(text)


class FlagField(DeliveryField):
    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return value
        text = _text(value).lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise fail("应为 0/1、true/false 或 是/否", "must be 0/1, true/false or 是/否")


class ChoiceField(DeliveryField):
    """One of a fixed set of values; `aliases` are documented alternative spellings (e.g. English)."""

    def __init__(self, choices, *, aliases: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.choices = {str(c): c for c in choices}
        self.aliases = {k.lower(): v for k, v in (aliases or {}).items()}

    def _deserialize(self, value, attr, data, **kwargs):
        text = _text(value)
        if text in self.choices:
            return self.choices[text]
        if text.lower() in self.aliases:
            return self.aliases[text.lower()]
        raise fail(f"取值应为：{'、'.join(self.choices)}", f"must be one of: {', '.join(self.choices)}")


class TextField(DeliveryField):
    def __init__(self, *, max_length: int, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            text = clean_text(_text(value))
        except InputError:
            raise fail("含有控制字符、方向控制符或零宽字符", "contains control, bidi or zero-width characters") from None
        if not text:
            raise fail("不能为空", "must not be empty")
        if len(text) > self.max_length:
            raise fail(f"长度不能超过 {self.max_length}", f"must be at most {self.max_length} characters")
        return text
