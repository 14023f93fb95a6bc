"""Disclosure control (issue 14): one rule for every aggregate — no suppressed figure can be read off, or
worked out from, what a table shows."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from models.enterprise import SizeClass
from models.identity import Role
from tests.test_office_metrics import PERIOD, TODAY, lend  # noqa: F401 - the fixture
from xinyidai.domain.disclosure import MIN_ENTERPRISES, suppress
from xinyidai.domain.figures.metrics import Dimension, build_table
from xinyidai.domain.scope import office_scope


@dataclass
class Cell:
    value: int
    enterprises: int
    suppressed: bool = False


# Two groups as in the office's tables: a count with an amount derived from the same records, and a
# count standing next to an average computed from a related family.
GROUPS = (("loans", "amount"), ("approved", "decision_days"))
KEYS = [key for group in GROUPS for key in group]


@st.composite
def tables(draw):
    """Rows of random small and large cells; each cell's value is its records, at least its enterprises."""
    size = draw(st.integers(min_value=1, max_value=8))
    rows = []
    for _ in range(size):
        cells = {}
        for group in GROUPS:
            enterprises = draw(st.one_of(st.just(0), st.integers(1, 4), st.integers(5, 40)))
            for key in group:
                n = enterprises if key == group[0] else draw(st.integers(0, enterprises + 3)) if enterprises else 0
                cells[key] = Cell(value=n * draw(st.integers(1, 5)), enterprises=n)
        rows.append(cells)
    total = {key: Cell(sum(r[key].value for r in rows), sum(r[key].enterprises for r in rows)) for key in KEYS}
    return rows, total


def worked_out(rows, total) -> set[tuple[int, str]]:
    """What a reader recovers exactly: a hidden cell that is the only hidden one of its column, as the
    total minus the rows shown; or a group of hidden cells that, together, covers too few enterprises."""
    found = set()
    for key in total:
        if total[key].suppressed:
            continue
        hidden = [i for i, row in enumerate(rows) if row[key].suppressed and row[key].enterprises]
        if len(hidden) == 1 or (hidden and sum(rows[i][key].enterprises for i in hidden) < MIN_ENTERPRISES):
            found.update((i, key) for i in hidden)
    return found


@settings(max_examples=400, deadline=None)
@given(tables())
def test_no_suppressed_value_can_be_recomputed_from_what_is_shown(table):
    rows, total = table
    suppress(rows, total, GROUPS)
    for cells in [*rows, total]:
        for group in GROUPS:
            shown = [cells[key] for key in group if not cells[key].suppressed]
            # nothing about 1–4 enterprises is shown, and a group is shown or hidden as a whole
            assert all(not 0 < cell.enterprises < MIN_ENTERPRISES for cell in shown)
            assert len(shown) in (0, len(group))
    assert worked_out(rows, total) == set()
    # and nothing is hidden for no reason: a table of only large cells shows everything
    if all(not 0 < cell.enterprises < MIN_ENTERPRISES for cells in [*rows, total] for cell in cells.values()):
        assert not any(cell.suppressed for cells in [*rows, total] for cell in cells.values())


def test_the_attack_finds_what_the_old_rule_let_through():
    """Two hidden size classes adding up to 3 enterprises: the total gave their sum away (the old rule
    only protected a lone hidden cell), so the check above has teeth."""
    rows = [{"loans": Cell(2, 2, True), "amount": Cell(9, 2, True)}, {"loans": Cell(1, 1, True), "amount": Cell(9, 1, True)},
            {"loans": Cell(30, 30), "amount": Cell(90, 30)}]
    total = {"loans": Cell(33, 33), "amount": Cell(108, 33)}
    assert worked_out(rows, total) == {(0, "loans"), (1, "loans"), (0, "amount"), (1, "amount")}
    suppress(rows, total, [("loans", "amount")])
    assert worked_out(rows, total) == set()


# ---------------------------------------------------------------- the office's own tables

def test_an_average_time_to_decision_is_hidden_with_the_approvals_it_belongs_to(
        db_session, make_enterprise, make_bank, make_product, lend):  # noqa: F811
    """By bank: 3 approvals of a small bank with 6 decisions (3 declines) — the approvals are "*" and so is
    its average time to a decision (the issue's "*" next to 10.4 days)."""
    big, small = make_bank(code="BIGBANK2"), make_bank(code="SMALLBANK2")
    big_product, small_product = make_product(big), make_product(small)
    when = datetime(2026, 2, 10, 3, tzinfo=UTC)
    for outcome in ["approved"] * 3 + ["declined"] * 3:
        lend(make_enterprise(district_code="310116"), small_product, when, outcome)
    for _ in range(8):
        lend(make_enterprise(district_code="310116"), big_product, when, "approved")
    for _ in range(6):
        lend(make_enterprise(district_code="310116"), make_product(make_bank()), when, "approved")
    table = build_table(db_session, office_scope("310116"), PERIOD, Dimension.BANK, today=TODAY)
    row = next(row for row in table.rows if row.key == small.id)
    assert row.cells["approved"].suppressed
    assert row.cells["decision_days"].enterprises == 6  # enough on its own, but derived from the approvals
    assert row.cells["decision_days"].suppressed


def test_two_hidden_size_classes_are_not_given_away_by_the_total(
        db_session, make_enterprise, make_product, lend):  # noqa: F811
    """By size: one large and two medium borrowers (both rows hidden) next to small and micro ones — the total
    minus the rows shown would have told 3 loans and their amount."""
    product = make_product()
    when = datetime(2026, 2, 10, 3, tzinfo=UTC)
    for size, count in ((SizeClass.LARGE, 1), (SizeClass.MEDIUM, 2), (SizeClass.SMALL, 9), (SizeClass.MICRO, 12)):
        for _ in range(count):
            lend(make_enterprise(district_code="310112", size_class=size), product, when, "repaying")
    table = build_table(db_session, office_scope("310112"), PERIOD, Dimension.SIZE, today=TODAY)
    rows = {row.key: row for row in table.rows}
    assert rows["大"].cells["disbursed"].suppressed
    assert rows["中"].cells["disbursed"].suppressed
    assert rows["小"].cells["disbursed"].suppressed  # the smallest shown row, hidden with them
    assert not rows["微"].cells["disbursed"].suppressed
    assert not table.total.cells["disbursed"].suppressed
    shown = sum(row.cells["disbursed"].shown or 0 for row in table.rows)
    assert table.total.cells["disbursed"].value - shown == 12  # 1 + 2 + 9: nothing about 5 or fewer


def test_the_dashboard_and_its_export_hide_the_same_cells(client, login, make_user, db_session, make_enterprise,
                                                         make_product, lend):  # noqa: F811
    product = make_product()
    when = datetime.now(UTC).replace(day=1, hour=3)
    for size, count in ((SizeClass.LARGE, 1), (SizeClass.MEDIUM, 2), (SizeClass.SMALL, 9)):
        for _ in range(count):
            lend(make_enterprise(district_code="310112", size_class=size), product, when, "repaying", gap_days=0)
    login(make_user(Role.OFFICE, district_code="310112"))
    page = client.get("/office/dashboard/sizes").get_data(as_text=True)
    lines = list(csv.reader(io.StringIO(client.get("/office/dashboard/sizes/export.csv").get_data(as_text=True))))
    header = next(line for line in lines if line and line[0] == "企业规模")
    column = header.index("放款（笔）")
    rows = {line[0]: line[column] for line in lines if line and line[0] in ("大型", "中型", "小型", "合计")}
    # large and medium (3 loans) are hidden, and small with them, so the total (shown) tells nothing of them
    assert rows == {"大型": "*", "中型": "*", "小型": "*", "合计": "12"}
    assert page.count("is-suppressed") >= 3 * 5
