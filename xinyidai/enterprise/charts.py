"""Small charts drawn on the server as inline SVG: no script, nothing fetched, readable on a phone.

Each chart names itself for screen readers (<title>, <desc>) and every bar or point carries its value in
a <title> tooltip; pages put the same numbers in a table beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

WIDTH, HEIGHT = 480, 210
LEFT, RIGHT, TOP, BOTTOM = 50, 8, 12, 30
MAX_X_LABELS = 6
_ids = count(1)


@dataclass(frozen=True)
class Point:
    label: str  # e.g. "2026-03"
    value: float
    flagged: bool = False  # drawn in the warning colour (a month in arrears, a late bill)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above `value`, so the axis reads in round numbers."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def compact(value: float, locale: str) -> str:
    """1234567 → "123.5万" in Chinese, "1.2M" in English: axis labels stay short."""
    size = abs(value)
    if locale == "en":
        for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if size >= limit:
                return f"{value / limit:.3g}{suffix}"
    else:
        for limit, suffix in ((1e8, "亿"), (1e4, "万")):
            if size >= limit:
                return f"{value / limit:.4g}{suffix}"
    return f"{value:.4g}"


def chart(points: list[Point], *, title: str, summary: str, unit: str, locale: str, kind: str = "bar") -> Markup:
    """A bar (or line) chart of monthly values with a zero-based y axis and round gridlines."""
    chart_id = f"chart-{next(_ids)}"
    top = nice_ceiling(max((p.value for p in points), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(points), 1)

    def y(value: float) -> float:
        return TOP + plot_h - plot_h * (max(value, 0) / top)

    head = (f'<svg class="chart chart--{kind}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-labelledby="{chart_id}-t {chart_id}-d" preserveAspectRatio="xMidYMid meet">'
            f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(summary)}</desc>')
    grid, marks, labels = [], [], []
    for i in range(5):
        tick = top * i / 4
        grid.append(f'<line class="chart__grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
                    f'<text class="chart__axis" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                    f'{escape(compact(tick, locale))}</text>')
    every = max(1, math.ceil(len(points) / MAX_X_LABELS))
    for i, point in enumerate(points):
        middle = LEFT + slot * (i + 0.5)
        tip = f"<title>{escape(point.label)}: {escape(f'{point.value:,.10g}')} {escape(unit)}</title>"
        flag = " chart__mark--flag" if point.flagged else ""
        if kind == "bar":
            width = max(slot * 0.7, 1)
            marks.append(f'<rect class="chart__mark{flag}" x="{middle - width / 2:.1f}" y="{y(point.value):.1f}" '
                         f'width="{width:.1f}" height="{TOP + plot_h - y(point.value):.1f}">{tip}</rect>')
        else:
            marks.append(f'<circle class="chart__mark{flag}" cx="{middle:.1f}" cy="{y(point.value):.1f}" r="3.5">{tip}</circle>')
        if i % every == 0 or i == len(points) - 1:
            labels.append(f'<text class="chart__axis" x="{middle:.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
                          f'{escape(point.label[2:] if len(point.label) == 7 else point.label)}</text>')
    line = ""
    if kind == "line" and len(points) > 1:
        path = " ".join(f"{LEFT + slot * (i + 0.5):.1f},{y(p.value):.1f}" for i, p in enumerate(points))
        line = f'<polyline class="chart__line" points="{path}"/>'
    body = "".join([head, *grid, line, *marks, *labels, "</svg>"])
    return Markup(body)  # noqa: S704 - every text above is escaped
