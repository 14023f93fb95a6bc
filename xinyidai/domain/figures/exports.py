"""CSV and Excel files of the dashboard tables, and the monthly financing-results report (融资成效定期报送).

A file is a `Report`: a few header lines, then sections, each a table. The same suppression as on screen
applies (a suppressed cell is written as "*"). Amounts are in 万元 (10,000 yuan), rates and shares in
percent. Building a file does not audit it: the caller records the export when it hands the file out.

The monthly report's layout is fixed: the same sheets, rows and columns every month, whatever the data.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from models.identity import CITY_CODE
from xinyidai.domain import cells
from xinyidai.domain.figures.metrics import KPI_BY_KEY, Dimension, Kpi, Table
from xinyidai.domain.money import FEN_PER_WAN
from xinyidai.domain.scope import Filters, Scope, add_months
from xinyidai.i18n import localized
from xinyidai.moments import stamped
from xinyidai.reference import CITY, SHANGHAI_DISTRICTS

SUPPRESSED = "*"



@dataclass
class Section:
    name: str  # the sheet name (31 characters at most)
    title: str
    header: list[str]
    rows: list[list]


@dataclass
class Report:
    title: str
    meta: list[tuple[str, str]]
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def not_yet_reported(banks: int) -> str:
    return _("未报送（%(n)s 家银行待报送）", n=banks)


def export_value(kpi: Kpi, cell) -> object:
    """A cell as written to a file: a number in the column's unit, "*" when suppressed, "" when undefined,
    "not yet reported" for a month-end figure of a month some banks have not reported."""
    if cell.pending:
        return not_yet_reported(cell.pending)
    if cell.suppressed:
        return SUPPRESSED
    value = cell.value
    if value is None:
        return ""
    if kpi.unit == "wan":
        return round(value / FEN_PER_WAN, 2)
    if kpi.unit == "ratio":
        return round(value * 100, 2)
    if kpi.unit in ("percent", "days"):
        return round(value, 2)
    return int(value)


def kpi_heading(kpi: Kpi) -> str:
    return f"{kpi.label}（%）" if kpi.unit in ("ratio", "percent") else str(kpi.label)


def dimension_heading(dimension: Dimension) -> str:
    return {Dimension.MONTH: _("月份"), Dimension.BANK: _("银行"), Dimension.PRODUCT: _("产品"),
            Dimension.INDUSTRY: _("行业"), Dimension.SIZE: _("企业规模"), Dimension.DISTRICT: _("区"),
            Dimension.GUARANTOR: _("担保机构"), Dimension.TECH_CLASS: _("科技资质")}[dimension]


def table_section(table: Table, name: str, title: str, keys: list[str] | None = None) -> Section:
    kpis = [KPI_BY_KEY[k] for k in keys if k in {kpi.key for kpi in table.kpis}] if keys else table.kpis
    rows = [[localized(row.label_zh, row.label_en), *(export_value(k, row.cells[k.key]) for k in kpis)]
            for row in [*table.rows, table.total]]
    rows[-1][0] = _("合计")
    return Section(name, title, [dimension_heading(table.dimension), *(kpi_heading(k) for k in kpis)], rows)


def notes(table_filters: Filters, book_month: date | None) -> list[str]:
    lines = [
        _("标“*”的单元格涉及不足 5 户企业，按规定不予显示；由其计算的平均用时、利率、金额和占比一并隐藏；合计会暴露被隐藏单元格时，其他单元格也一并隐藏。"),
        _("金额单位：万元；利率为按金额加权的年利率；占比、逾期率、违约率、获贷率为百分比。"),
        _("各项按发生月份统计（上海时间）：需求按发布时间，受理按受理时间，审批按审批时间，放款按放款日期。"),
        _("违约率：期内放款中目前已违约的笔数占比；白名单获贷率：现行白名单企业中发布后获得贷款的比例。"),
    ]
    if book_month:
        lines.append(_("贷款余额与逾期率取 %(month)s 月末银行报送数据。", month=f"{book_month:%Y-%m}"))
    return lines


def scope_name(scope: Scope) -> str:
    if scope.is_city and len(scope.districts) > 1:
        return localized(CITY[1], CITY[2])
    zh, en = SHANGHAI_DISTRICTS[scope.districts[0]] if len(scope.districts) == 1 else (CITY[1], CITY[2])
    return localized(zh, en)


def table_report(table: Table, scope: Scope, title: str, generated_at: datetime) -> Report:
    f = table.filters
    meta = [(_("辖区"), scope_name(scope)), (_("统计期间"), f"{f.start:%Y-%m} — {f.end:%Y-%m}"),
            (_("生成时间"), stamped(generated_at))]
    if table.as_of is not None:  # figures from the pre-aggregated cube: as old as it is
        meta.append((_("数据截至"), stamped(table.as_of)))
    return Report(title, meta, [table_section(table, title[:31], title)], notes(f, table.book_month))


# ---------------------------------------------------------------- the monthly report

SUMMARY_KPIS = ("needs", "needs_amount", "matched", "claimed", "response_days", "approved", "decision_days",
                "disbursed", "disbursed_amount", "avg_rate", "first_time", "credit_share", "default_rate",
                "outstanding", "overdue_rate", "whitelist_size", "whitelist_conversion")
BREAKDOWN_KPIS = ("matched", "claimed", "approved", "disbursed", "disbursed_amount", "avg_rate", "first_time",
                  "credit_share", "outstanding", "overdue_rate")


def monthly_report(table_for, scope: Scope, month: date, generated_at: datetime) -> Report:
    """The fixed-layout monthly report for `scope`; `table_for(filters, dimension)` gives the tables."""
    this_month = Filters(month, month)
    year_to_date = Filters(date(month.year, 1, 1), month)
    last_twelve = Filters(add_months(month, -11), month)
    district = scope_name(scope)
    report = Report(
        _("融资成效月报"),
        [(_("报送单位"), district), (_("报告月份"), f"{month:%Y-%m}"),
         (_("生成时间"), stamped(generated_at))])
    periods = [(_("本月"), table_for(this_month, Dimension.DISTRICT)),
               (_("本年累计"), table_for(year_to_date, Dimension.DISTRICT)),
               (_("近12个月"), table_for(last_twelve, Dimension.DISTRICT))]
    summary_rows = []
    for key in SUMMARY_KPIS:
        kpi = KPI_BY_KEY[key]
        summary_rows.append([kpi_heading(kpi), *(export_value(kpi, table.total.cells[key]) for _label, table in periods)])
    report.sections.append(Section(_("主要指标"), _("一、主要指标"), [_("指标"), *(label for label, _t in periods)],
                                   summary_rows))
    month_sections = [(Dimension.BANK, _("按银行"), _("二、按银行（本月）")),
                      (Dimension.INDUSTRY, _("按行业"), _("三、按行业（本月）")),
                      (Dimension.SIZE, _("按企业规模"), _("四、按企业规模（本月）")),
                      (Dimension.TECH_CLASS, _("按科技资质"), _("五、按科技资质（本月）"))]
    if scope.office_district == CITY_CODE and len(scope.districts) > 1:
        month_sections.append((Dimension.DISTRICT, _("各区对比"), _("六、各区对比（本月）")))
    for dimension, name, title in month_sections:
        report.sections.append(table_section(table_for(this_month, dimension), name, title, list(BREAKDOWN_KPIS)))
    trend = table_for(last_twelve, Dimension.MONTH)
    report.sections.append(table_section(trend, _("近12个月趋势"), _("近12个月趋势"),
                                         [k for k in SUMMARY_KPIS if not k.startswith("whitelist")]))
    report.notes = notes(this_month, periods[0][1].book_month)
    return report


def whitelist_csv(version, rows: list[tuple[str, str, str]]) -> bytes:
    """The published whitelist of a district: a header naming the version, then USCC, name and grade."""
    district = SHANGHAI_DISTRICTS.get(version.district_code, (version.district_code, version.district_code))
    report = Report(_("信易贷白名单"), [
        (_("辖区"), localized(*district)), (_("版本"), f"#{version.id}"), (_("门槛"), version.min_grade),
        (_("模型"), version.model_version), (_("发布时间"), stamped(version.published_at))])
    report.sections.append(Section(_("白名单"), _("名单企业"), [_("统一社会信用代码"), _("企业名称"), _("等级")],
                                   [list(row) for row in rows]))
    return to_csv(report)


# ---------------------------------------------------------------- writers

def to_csv(report: Report) -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens the Chinese text correctly."""
    out = io.StringIO()
    writer = cells.csv_writer(out, lineterminator="\r\n")
    writer.writerow([report.title])
    for label, value in report.meta:
        writer.writerow([label, value])
    for section in report.sections:
        writer.writerow([])
        writer.writerow([section.title])
        writer.writerow(section.header)
        writer.writerows(section.rows)
    writer.writerow([])
    for line in report.notes:
        writer.writerow([line])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(report: Report) -> bytes:
    """One sheet per section, each starting with the report's title and header lines, notes at the end."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    for section in report.sections:
        sheet = _SafeSheet(workbook.create_sheet(_sheet_name(section.name, workbook.sheetnames)))
        sheet.append([report.title])
        sheet["A1"].font = Font(bold=True, size=14)
        for label, value in report.meta:
            sheet.append([label, value])
        sheet.append([])
        sheet.append([section.title])
        sheet.cell(row=sheet.max_row, column=1).font = bold
        sheet.append(section.header)
        header_row = sheet.max_row
        for cell in sheet[header_row]:
            cell.font = bold
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in section.rows:
            sheet.append(row)
        sheet.append([])
        for line in report.notes:
            sheet.append([line])
        sheet.column_dimensions["A"].width = 28
        for column in range(2, len(section.header) + 1):
            sheet.column_dimensions[get_column_letter(column)].width = 14
        sheet.freeze_panes = sheet.cell(row=header_row + 1, column=2)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


class _SafeSheet:
    """A worksheet whose appended cells go through `cells.safe_cell` (no formulas, nothing unstorable)."""

    def __init__(self, sheet):
        self._sheet = sheet

    def append(self, row):
        self._sheet.append([cells.safe_cell(value) for value in row])

    def __getattr__(self, name):
        return getattr(self._sheet, name)

    def __getitem__(self, key):
        return self._sheet[key]


def _sheet_name(name: str, taken: list[str]) -> str:
    clean = "".join("_" if c in "[]:*?/\\" else c for c in name)[:31] or "Sheet"
    candidate, n = clean, 2
    while candidate in taken:
        candidate, n = f"{clean[:28]}-{n}", n + 1
    return candidate
