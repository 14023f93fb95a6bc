"""Statistical disclosure control: the one rule every published aggregate passes through (DESIGN §7, §11).

The office's dashboards, their CSV / Excel exports and the monthly report are all built as a table of
rows (one per bank, industry, size class, month, district…) plus a total row, and every one of them is
suppressed here, by `suppress`:

1. Primary suppression. A cell covering 1 to 4 enterprises (fewer than MIN_ENTERPRISES) is hidden.
2. Derived figures share the fate of what they derive from. Cells are grouped (`groups`): a count and
   every figure computed from the same records (its amounts, average rate, shares, average times — and
   the average time to a decision next to the count of approvals) are hidden together in a row as soon
   as any cell of the group must be.
3. Secondary (complementary) suppression. Where the total row is shown, the total minus the rows shown is
   the sum of the rows hidden; so the hidden cells of a group must never be one cell alone, nor together
   cover fewer than MIN_ENTERPRISES enterprises (two hidden size classes adding up to 3 loans give those 3
   loans away). Until both hold, the shown row covering fewest enterprises is hidden too; with none left
   the total is hidden.

Enterprise counts of hidden rows are added up; in a view whose rows partition the enterprises (industry,
size, district) that is exact, and where one enterprise can sit in two rows (two banks, two months) it
may overstate the people behind the hidden rows — which is why a lone hidden cell is never enough, by
itself, to be safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

MIN_ENTERPRISES = 5


class Figure(Protocol):
    enterprises: int
    suppressed: bool


Cells = Mapping[str, Figure]


def too_few(enterprises: int, minimum: int = MIN_ENTERPRISES) -> bool:
    """A figure about 1 … minimum-1 enterprises may not be shown (none at all may: it is a plain zero)."""
    return 0 < enterprises < minimum


def suppress(rows: Sequence[Cells], total: Cells, groups: Iterable[Sequence[str]],
             minimum: int = MIN_ENTERPRISES) -> None:
    """Mark the cells of `rows` and `total` that may not be shown (`suppressed = True`), group by group."""
    for group in groups:
        keys = [key for key in group if key in total]
        if not keys:
            continue
        for cells in [*rows, total]:
            if any(too_few(cells[key].enterprises, minimum) for key in keys):
                _hide(cells, keys)
        _protect_the_hidden(rows, total, keys, minimum)


def _hide(cells: Cells, keys: Sequence[str]) -> None:
    for key in keys:
        cells[key].suppressed = True


def _covered(cells: Cells, keys: Sequence[str]) -> int:
    return max(cells[key].enterprises for key in keys)


def _recoverable(rows: Sequence[Cells], total: Cells, keys: Sequence[str], minimum: int) -> bool:
    """True when the total, minus the rows shown, would tell a reader about too few enterprises."""
    if all(total[key].suppressed for key in keys):
        return False
    for key in keys:
        hidden = [cells[key].enterprises for cells in rows if cells[key].suppressed and cells[key].enterprises]
        if hidden and (len(hidden) < 2 or sum(hidden) < minimum):
            return True
    return False


def _protect_the_hidden(rows: Sequence[Cells], total: Cells, keys: Sequence[str], minimum: int) -> None:
    while _recoverable(rows, total, keys, minimum):
        shown = [cells for cells in rows if not cells[keys[0]].suppressed and _covered(cells, keys) > 0]
        if not shown:
            _hide(total, keys)
            return
        _hide(min(shown, key=lambda cells: _covered(cells, keys)), keys)

