"""The API's JSON reader (webargs treats a decode error with an empty document as "no body", so ours name one): what `json.loads` would accept, bounded before any number is built.

* a number literal longer than `inputs.MAX_NUMBER_CHARS`, a non-finite one (``1e999``) and ``NaN`` /
  ``Infinity`` become `Refused`, which no schema field accepts: the answer is a 422 naming the field, and no
  5,000-digit integer is ever converted (Python refuses those with an error, and big ones cost time);
* nesting deeper than `MAX_DEPTH` and strings with lone surrogates (``"\\ud800"``, which no database or
  encoder takes) make the body invalid JSON: a 400.
"""

from __future__ import annotations

import json
import math

from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from xinyidai.domain.inputs import MAX_NUMBER_CHARS

MAX_DEPTH = 20


class Refused:
    """A number the API does not read (too long, not finite); every schema field refuses it."""

    def __init__(self, literal: str):
        self.literal = literal[:MAX_NUMBER_CHARS] + ("…" if len(literal) > MAX_NUMBER_CHARS else "")

    def __repr__(self) -> str:
        return f"Refused({self.literal!r})"


def _integer(literal: str):
    return int(literal) if len(literal) <= MAX_NUMBER_CHARS else Refused(literal)


def _float(literal: str):
    if len(literal) > MAX_NUMBER_CHARS:
        return Refused(literal)
    value = float(literal)
    return value if math.isfinite(value) else Refused(literal)


def _check(value, depth: int = 0) -> None:
    """Depth and surrogates, without recursion limits of its own (MAX_DEPTH is far below Python's)."""
    if depth > MAX_DEPTH:
        raise json.JSONDecodeError(f"nested deeper than {MAX_DEPTH}", "(body)", 0)
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise json.JSONDecodeError("a lone surrogate in a string", "(body)", 0) from None


def loads(text: str):
    """`json.loads` with the bounds above; raises json.JSONDecodeError for a body that breaks them."""
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=Refused)
    except RecursionError:
        raise json.JSONDecodeError(f"nested deeper than {MAX_DEPTH}", "(body)", 0) from None
    _check(value)
    return value


class BoundedParser(FlaskParser):
    """webargs' Flask parser reading JSON bodies with `loads`."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return core.missing
        data = req.get_data(cache=True)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise json.JSONDecodeError(f"Bytes decoding error : {error.reason}", "(body)", 0) from None
        return loads(text)
