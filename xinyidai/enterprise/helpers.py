"""What the portal's templates use beyond the shared formats (xinyidai/web/formats.py): durations, the
wording tables and the monthly charts."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from markupsafe import Markup

from xinyidai.domain import vocabulary as wording
from xinyidai.domain.guarantees import DECLINE_REASONS as GUARANTEE_DECLINE_REASONS
from xinyidai.domain.lifecycle import DECLINE_REASONS
from xinyidai.enterprise.charts import Point, chart
from xinyidai.enterprise.queries import DataHeld
from xinyidai.i18n import locale_code
from xinyidai.moments import local_time


def duration(hours: float | None) -> str:
    if hours is None:
        return "—"
    if hours < 48:
        return _("%(count)s 小时", count=f"{hours:.0f}")
    return _("%(count)s 天", count=f"{hours / 24:.1f}")


def when(moment) -> str:
    """A moment in Shanghai time (the app's display time zone)."""
    return local_time(moment)


@dataclass(frozen=True)
class ChartBlock:
    key: str
    title: str
    svg: Markup
    unit: str
    rows: list[tuple[str, str, str]]  # month, value, note


def _block(key: str, title: str, unit: str, points: list[Point], notes: list[str], kind: str = "bar") -> ChartBlock | None:
    if not points:
        return None
    latest = points[-1]
    summary = _("%(first)s 至 %(last)s 共 %(count)s 个月；最近一月 %(value)s %(unit)s。", first=points[0].label,
                last=latest.label, count=len(points), value=f"{latest.value:,.10g}", unit=unit)
    svg = chart(points, title=title, summary=summary, unit=unit, locale=locale_code(), kind=kind)
    rows = [(p.label, f"{p.value:,.10g}", note) for p, note in zip(points, notes, strict=True)]
    return ChartBlock(key, title, svg, unit, rows)


def monthly_charts(held: DataHeld) -> list[ChartBlock]:
    """One chart per monthly source the platform holds, arrears and late months drawn in the warning colour."""
    month = lambda row: row.month.isoformat()[:7]  # noqa: E731 - a one-line key
    blocks = [
        _block("sales", _("开票销售额"), _("元"), [Point(month(m), m.invoiced_sales_fen / 100, m.in_arrears) for m in held.tax],
               [_("当月欠税") if m.in_arrears else "" for m in held.tax]),
        _block("tax", _("纳税额"), _("元"), [Point(month(m), m.tax_paid_fen / 100, m.in_arrears) for m in held.tax],
               [_("当月欠税") if m.in_arrears else "" for m in held.tax]),
        _block("headcount", _("参保人数"), _("人"),
               [Point(month(m), m.insured_headcount, m.months_in_arrears > 0) for m in held.social],
               [_("欠缴 %(count)s 个月", count=m.months_in_arrears) if m.months_in_arrears else "" for m in held.social],
               kind="line"),
        _block("housing", _("公积金缴存人数"), _("人"), [Point(month(m), m.contributors, m.in_arrears) for m in held.housing],
               [_("欠缴") if m.in_arrears else "" for m in held.housing], kind="line"),
        _block("electricity", _("用电量"), _("千瓦时"),
               [Point(month(m), m.consumption, m.days_late > 0) for m in held.electricity],
               [_("逾期 %(count)s 天", count=m.days_late) if m.days_late else "" for m in held.electricity]),
    ]
    return [block for block in blocks if block is not None]


def reason_text(reason) -> str:
    return wording.reason_text(reason.family, reason.feature, reason.contribution, locale_code())


def gate_text(gate: dict) -> tuple[str, str]:
    return wording.gate_text(gate, locale_code())


def template_helpers() -> dict:
    return {
        "duration": duration, "when": when,
        "monthly_charts": monthly_charts, "decline_reasons": DECLINE_REASONS, "guarantee_decline_reasons": GUARANTEE_DECLINE_REASONS, "decline_next_steps": wording.DECLINE_NEXT_STEPS, "reason_text": reason_text,
        "gate_text": gate_text,
        "words": {
            "purpose": wording.PURPOSES, "contact": wording.CONTACT_PREFERENCES, "urgency": wording.URGENCY,
            "guarantee": {g.value: label for g, label in wording.GUARANTEES.items()},
            "topic": wording.SELF_REPORT_TOPICS, "source_content": wording.SOURCE_CONTENT,
            "credit_kind": wording.PUBLIC_CREDIT_KIND, "severity": wording.SEVERITY,
        },
    }
