"""What leaves the platform as a spreadsheet cell (CSV and XLSX exports, result files, rejection reports):
any content is written, none is executed.

* Text starting with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return, which spreadsheets skip before
  one of those) is prefixed with a quote ``'``, so Excel and LibreOffice show it as text instead of
  evaluating a formula (``=HYPERLINK(...)`` in a product name). Plain numbers written as text (``-12.5``,
  ``-3%``) and a lone ``-`` placeholder are left alone.
* Characters an XLSX file cannot hold (C0 controls other than tab and newline, lone surrogates) are replaced
  with U+FFFD, so an export never fails on what a tenant once typed.
"""

from __future__ import annotations

import csv
import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9][0-9,]*(\.[0-9]+)?%?", re.ASCII)
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def safe_cell(value):
    """`value` fit for a spreadsheet cell (non-text values are returned as they are)."""
    if not isinstance(value, str):
        return value
    text = _UNSTORABLE.sub("\ufffd", value)
    if len(text) > 1 and text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class SafeWriter:
    """`csv.writer` whose every cell goes through `safe_cell`."""

    def __init__(self, handle, **options):
        self._writer = csv.writer(handle, **options)

    def writerow(self, row):
        return self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def csv_writer(handle, **options) -> SafeWriter:
    return SafeWriter(handle, **options)
