"""The `<int:...>` of every route: an id read like every other number the platform accepts
(`xinyidai.domain.inputs`): ASCII or full-width digits (normalised), at most 10 of them, within the id columns'
range. Anything else matches no route (404) — werkzeug's own converter would try to convert 5,000 digits
and fail with a server error, and accepted digits of any script."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter, ValidationError

from xinyidai.domain import inputs


class IdConverter(IntegerConverter):
    regex = r"[0-9０-９]{1,10}"

    def to_python(self, value: str) -> int:
        number = inputs.parse_id(value)
        if number is None:
            raise ValidationError()
        return number
