"""Plotly figure specifications (plain dicts, rendered in the browser by static/office-charts.js with the
plotly.js file the `plotly` package ships). Suppressed cells are gaps (null), never zeros; every chart's
numbers are also on the page as a table."""

from __future__ import annotations

import html

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from xinyidai.domain.figures.metrics import KPI_BY_KEY, Dimension, Table
from xinyidai.domain.money import FEN_PER_WAN
from xinyidai.i18n import localized
from xinyidai.moments import month_label

BRAND = "#0b4f8a"
ACCENT = "#d9822b"
GOOD = "#1b7f3b"
BAD = "#b00020"
FUNNEL = ("needs", "matched", "claimed", "approved", "disbursed")


def _value(cell, unit: str):
    if cell.suppressed or cell.pending or cell.value is None:
        return None
    if unit == "wan":
        return round(cell.value / FEN_PER_WAN, 2)
    if unit == "ratio":
        return round(cell.value * 100, 2)
    return round(cell.value, 2) if isinstance(cell.value, float) else cell.value


def _series(table: Table, key: str) -> list:
    unit = KPI_BY_KEY[key].unit
    return [_value(row.cells[key], unit) for row in table.rows]


def _labels(table: Table) -> list[str]:
    """Category labels, HTML-escaped: Plotly renders its own subset of HTML in labels (a product named
    '<a href=…>' would be a link on the office's dashboard), and shows the entities as the plain text."""
    if table.dimension is Dimension.MONTH:
        return [html.escape(month_label(row.key)) for row in table.rows]
    return [html.escape(localized(row.label_zh, row.label_en)) for row in table.rows]


def count_axis(values: list, **axis) -> dict:
    """An axis of counts: whole-number ticks only (no "0.5 loans"), one per unit while the counts are small."""
    top = max((v for v in values if v is not None), default=0)
    return {"tickformat": ",d", "rangemode": "tozero", "automargin": True, **({"dtick": 1} if top <= 10 else {}),
            **axis}


def _layout(title: str, **extra) -> dict:
    return {"title": {"text": title, "font": {"size": 15}}, "margin": {"l": 60, "r": 20, "t": 48, "b": 48},
            "height": 340, "legend": {"orientation": "h", "y": -0.2}, "font": {"family": "system-ui, sans-serif"},
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", **extra}


# What each stage of the funnel counts: a need is matched to every product it fits, so there are more
# matches than needs; a percentage of the first stage would read as a conversion rate and mislead.
FUNNEL_STAGES = {
    "needs": _l("发布需求（笔需求）"),
    "matched": _l("匹配（需求×产品，笔）"),
    "claimed": _l("银行受理（需求×产品，笔）"),
    "approved": _l("审批通过（需求×产品，笔）"),
    "disbursed": _l("放款（笔贷款）"),
}


def funnel(table: Table) -> dict:
    keys = [k for k in FUNNEL if k in table.total.cells]
    return {"data": [{"type": "funnel", "y": [str(FUNNEL_STAGES[k]) for k in keys],
                      "x": [_value(table.total.cells[k], "count") for k in keys],
                      "marker": {"color": BRAND}, "textinfo": "value"}],
            "layout": _layout(_("对接漏斗（期间合计）"), margin={"l": 200, "r": 20, "t": 48, "b": 24})}


def trend(table: Table) -> dict:
    months = _labels(table)
    counts = _series(table, "disbursed") + _series(table, "needs")
    return {"data": [
        {"type": "bar", "name": str(KPI_BY_KEY["disbursed_amount"].label), "x": months,
         "y": _series(table, "disbursed_amount"), "marker": {"color": BRAND}},
        {"type": "scatter", "mode": "lines+markers", "name": str(KPI_BY_KEY["disbursed"].label), "x": months,
         "y": _series(table, "disbursed"), "yaxis": "y2", "line": {"color": ACCENT}},
        {"type": "scatter", "mode": "lines+markers", "name": str(KPI_BY_KEY["needs"].label), "x": months,
         "y": _series(table, "needs"), "yaxis": "y2", "line": {"color": GOOD, "dash": "dot"}},
    ], "layout": _layout(_("月度放款趋势"), margin={"l": 60, "r": 64, "t": 48, "b": 48},
                         xaxis={"type": "category"},
                         yaxis={"title": {"text": _("万元")}, "rangemode": "tozero", "automargin": True},
                         yaxis2=count_axis(counts, overlaying="y", side="right",
                                           title={"text": _("笔"), "standoff": 12}))}


def rates(table: Table) -> dict:
    x = _labels(table)
    horizontal = table.dimension is not Dimension.MONTH
    traces = []
    for key, color in (("credit_share", BRAND), ("overdue_rate", BAD), ("default_rate", ACCENT)):
        values = _series(table, key)
        trace = {"name": str(KPI_BY_KEY[key].label), "marker": {"color": color}}
        if horizontal:
            trace.update(type="bar", y=x, x=values, orientation="h")
        else:
            trace.update(type="scatter", mode="lines+markers", x=x, y=values, line={"color": color})
        traces.append(trace)
    axis = {"title": {"text": "%"}, "rangemode": "tozero"}
    layout = _layout(_("信用贷款占比、逾期率与违约率"), **({"xaxis": axis, "barmode": "group",
                                                           "yaxis": {"autorange": "reversed", "automargin": True}}
                                                          if horizontal else {"yaxis": axis, "xaxis": {"type": "category"}}))
    if horizontal:
        layout["height"] = max(340, 60 + 48 * len(x))
    return {"data": traces, "layout": layout}


def bars(table: Table) -> dict:
    y = _labels(table)
    layout = _layout(_("放款金额与笔数"), barmode="group", height=max(340, 60 + 36 * len(y)),
                     yaxis={"autorange": "reversed", "automargin": True},
                     xaxis={"title": {"text": _("万元")}, "rangemode": "tozero"},
                     xaxis2=count_axis(_series(table, "disbursed"), overlaying="x", side="top",
                                       title={"text": _("笔"), "standoff": 12}))
    return {"data": [
        {"type": "bar", "orientation": "h", "name": str(KPI_BY_KEY["disbursed_amount"].label), "y": y,
         "x": _series(table, "disbursed_amount"), "marker": {"color": BRAND}},
        {"type": "scatter", "mode": "markers", "name": str(KPI_BY_KEY["disbursed"].label), "y": y,
         "x": _series(table, "disbursed"), "xaxis": "x2", "marker": {"color": ACCENT, "size": 10}},
    ], "layout": layout}


def guaranteed_bars(table: Table) -> dict:
    """银担合作 by guarantor: guaranteed lending and its number of loans."""
    y = _labels(table)
    layout = _layout(_("银担合作放款金额与笔数"), barmode="group", height=max(340, 60 + 36 * len(y)),
                     yaxis={"autorange": "reversed", "automargin": True},
                     xaxis={"title": {"text": _("万元")}, "rangemode": "tozero"},
                     xaxis2=count_axis(_series(table, "guaranteed"), overlaying="x", side="top",
                                       title={"text": _("笔"), "standoff": 12}))
    return {"data": [
        {"type": "bar", "orientation": "h", "name": str(KPI_BY_KEY["guaranteed_amount"].label), "y": y,
         "x": _series(table, "guaranteed_amount"), "marker": {"color": BRAND}},
        {"type": "scatter", "mode": "markers", "name": str(KPI_BY_KEY["guaranteed"].label), "y": y,
         "x": _series(table, "guaranteed"), "xaxis": "x2", "marker": {"color": ACCENT, "size": 10}},
    ], "layout": layout}


def figures_for(table: Table) -> list[dict]:
    if table.dimension is Dimension.MONTH:
        return [funnel(table), trend(table), rates(table)]
    if table.dimension is Dimension.GUARANTOR:
        return [guaranteed_bars(table)]
    return [bars(table), rates(table)]


def district_tiles(table: Table, key: str = "disbursed_amount") -> list[dict]:
    """The sixteen districts as tiles shaded by `key` (five levels), for a map-like grid."""
    values = [_value(row.cells[key], KPI_BY_KEY[key].unit) for row in table.rows]
    top = max((v for v in values if v), default=0)
    tiles = []
    for row, value in zip(table.rows, values, strict=True):
        level = 0 if not value or not top else min(4, int(value / top * 4.999))
        tiles.append({"code": row.key, "name": localized(row.label_zh, row.label_en), "value": value,
                      "suppressed": row.cells[key].suppressed, "level": level})
    return tiles
