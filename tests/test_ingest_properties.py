"""Property tests of delivery rows (DESIGN §3): for any well-formed row the key and the exact amounts come
out as delivered; for any row with one damaged cell exactly that field is rejected with a reason; and in any
mix, rows in = rows accepted + rows rejected, with nothing ever raising."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from xinyidai.ingest.sources import SOURCES
from xinyidai.ingest.validation import validate_batch
from xinyidai.reference import SHANGHAI_DISTRICTS
from xinyidai.uscc import ALPHABET, make_uscc

TAX = SOURCES["tax"]
NAMES = ["uscc", "month", "invoiced_sales", "tax_paid", "in_arrears"]

organization_body = st.text(alphabet=ALPHABET, min_size=8, max_size=8)
uscc_codes = st.builds(lambda division, body: make_uscc("91", division, body),
                       st.sampled_from(sorted(SHANGHAI_DISTRICTS)), organization_body)
months = st.dates(min_value=date(2016, 1, 1), max_value=date.today()).map(lambda d: f"{d:%Y-%m}")
yuan = st.decimals(min_value=0, max_value=Decimal("99999999999.99"), places=2).map(lambda d: f"{d:.2f}")
flags = st.sampled_from(["0", "1", "true", "false", "是", "否", "yes", "no"])


@st.composite
def tax_rows(draw):
    return [draw(uscc_codes), draw(months), draw(yuan), draw(yuan), draw(flags)]


# A damaged value for each field: what a real delivery gets wrong.
DAMAGE = {
    "uscc": st.sampled_from(["", "91310115MA1", "91310115MA1K4XXXXO", "not a code"]),
    "month": st.sampled_from(["2024-13", "24-03", "2024/03", "", f"{date.today().year + 1}-01"]),
    "invoiced_sales": st.sampled_from(["-1.00", "1.234", "12,000", "abc", ""]),
    "tax_paid": st.sampled_from(["-0.01", "1e5", "NaN", " "]),
    "in_arrears": st.sampled_from(["maybe", "2", ""]),
}


def schema():
    return TAX.schema()


@given(tax_rows())
@settings(max_examples=150, deadline=None)
def test_a_well_formed_row_is_accepted_with_its_key_and_exact_amounts(row):
    good, bad = validate_batch(TAX, schema(), NAMES, [(2, row)])
    assert bad == []
    [(line, key, loaded)] = good
    assert line == 2
    assert key == (row[0], date(int(row[1][:4]), int(row[1][5:]), 1))
    assert loaded["invoiced_sales_fen"] == int(Decimal(row[2]) * 100)
    assert loaded["tax_paid_fen"] == int(Decimal(row[3]) * 100)


@given(tax_rows(), st.sampled_from(sorted(DAMAGE)), st.data())
@settings(max_examples=150, deadline=None)
def test_one_damaged_cell_rejects_the_row_naming_that_field(row, field, data):
    row = list(row)
    row[NAMES.index(field)] = data.draw(DAMAGE[field])
    good, bad = validate_batch(TAX, schema(), NAMES, [(7, row)])
    assert good == []
    assert {rejection.field for rejection in bad} == {field}
    assert all(rejection.line == 7 and rejection.reason for rejection in bad)


@given(st.lists(st.tuples(tax_rows(), st.one_of(st.none(), st.sampled_from(sorted(DAMAGE)))), max_size=30),
       st.data())
@settings(max_examples=60, deadline=None)
def test_rows_in_equal_rows_accepted_plus_rows_rejected(rows, data):
    batch = []
    for line, (row, damaged) in enumerate(rows, start=2):
        if damaged:
            row[NAMES.index(damaged)] = data.draw(DAMAGE[damaged])
        batch.append((line, row))
    good, bad = validate_batch(TAX, schema(), NAMES, batch)
    rejected_lines = {rejection.line for rejection in bad}
    assert len(good) + len(rejected_lines) == len(batch)
    assert rejected_lines == {line for line, (_row, damaged) in enumerate(rows, start=2) if damaged}


@given(st.lists(st.text(max_size=20), min_size=0, max_size=8))
@settings(max_examples=100, deadline=None)
def test_arbitrary_cells_never_raise_they_are_accepted_or_rejected(cells):
    names = NAMES[:len(cells)] if len(cells) <= len(NAMES) else [*NAMES, *(f"extra{i}" for i in range(len(cells) - 5))]
    good, bad = validate_batch(TAX, schema(), names, [(3, cells)])
    assert len(good) + len({r.line for r in bad}) == 1

