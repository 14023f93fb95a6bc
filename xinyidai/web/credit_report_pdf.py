"""The credit report (专用信用报告) as a PDF laid out like an official document: title, enterprise, number,
issue date and validity, one table per section, repaired records flagged 已修复, and a verification block with
the number, the code and a QR code that opens the verification page.

ReportLab's built-in CID font STSong-Light draws the Chinese (no font file is downloaded or shipped); the
words come from the catalogue in the report's language (`force_locale`).
"""

from __future__ import annotations

import io
import itertools
from datetime import datetime

from flask_babel import force_locale
from flask_babel import gettext as _
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from xinyidai.domain.credit_report import Header, ReportContents
from xinyidai.moments import local_time

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

_TITLE = ParagraphStyle("title", fontName=FONT, fontSize=20, leading=26, alignment=TA_CENTER, spaceAfter=4)
_SUBTITLE = ParagraphStyle("subtitle", fontName=FONT, fontSize=10, leading=14, alignment=TA_CENTER,
                           textColor=colors.HexColor("#444444"), spaceAfter=10)
_HEADING = ParagraphStyle("heading", fontName=FONT, fontSize=12.5, leading=18, spaceBefore=10, spaceAfter=4)
_CELL = ParagraphStyle("cell", fontName=FONT, fontSize=9, leading=12.5)
_NOTE = ParagraphStyle("note", fontName=FONT, fontSize=8.5, leading=12, textColor=colors.HexColor("#444444"))
_REPAIRED = colors.HexColor("#1b6e3a")
_RULE = colors.HexColor("#8a1c1c")  # the red of an official letterhead rule

NUMERALS = "一二三四五六七八九十"


def _p(text, style=_CELL) -> Paragraph:
    from xml.sax.saxutils import escape

    return Paragraph(escape(str(text)), style)


CELL_PADDING = 12  # points left and right of a cell's text


def _cell(value, width: float):
    """A short text as a plain string (cheap to lay out), a longer one as a wrapping paragraph."""
    if isinstance(value, Flowable):
        return value
    text = str(value)
    if "\n" not in text and pdfmetrics.stringWidth(text, FONT, _CELL.fontSize) <= width - CELL_PADDING:
        return text
    return _p(text)


def _table(rows: list[list], widths: list[float], *, header: bool = True, extra: list | None = None) -> Table:
    cells = [[_cell(c, w) for c, w in zip(row, widths, strict=True)] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1 if header else 0)
    style = [("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#777777")),
             ("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), _CELL.fontSize),
             ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
             ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#ECECEC")))
    table.setStyle(TableStyle(style + (extra or [])))
    return table


def _day(value) -> str:
    return value.isoformat() if value else "—"


def _shanghai(moment: datetime) -> str:
    return local_time(moment)


def section_title(key: str) -> str:
    return {
        "registry": _("登记信息"), "public_credit": _("公共信用记录（含信用修复情况）"), "tax_ratings": _("纳税信用等级"),
        "continuity": _("纳税、社保、公积金与水电气缴纳连续性"), "platform_grade": _("平台信用评级、主要因素与准入规则"),
        "self_declared": _("信用承诺与自愿填报信息（企业自述）"),
    }[key]


def _registry(contents: ReportContents, width: float) -> list:
    from xinyidai.reference import INDUSTRY_SECTIONS, SHANGHAI_DISTRICTS
    from xinyidai.web.labels import ENTERPRISE_STATUS, SIZE_CLASS

    e = contents.registry
    district = SHANGHAI_DISTRICTS.get(e.district_code, (e.district_code, e.district_code))
    industry = INDUSTRY_SECTIONS.get(e.industry_section, (e.industry_section, e.industry_section))
    english = contents.request.language == "en"
    capital = f"{e.registered_capital_fen / 100:,.0f} yuan" if english else f"{e.registered_capital_fen / 1_000_000:,.2f} 万元"
    rows = [[_("企业名称"), e.name], [_("统一社会信用代码"), e.uscc],
            [_("所在区"), district[1] if english else district[0]],
            [_("行业门类"), f"{e.industry_section} {industry[1] if english else industry[0]} / {e.industry_division}"],
            [_("成立日期"), _day(e.established_on)], [_("注册资本"), capital],
            [_("登记状态"), str(ENTERPRISE_STATUS.get(e.status, e.status.value))],
            [_("企业规模"), str(SIZE_CLASS.get(e.size_class, e.size_class.value))]]
    return [_table(rows, [width * 0.3, width * 0.7], header=False,
                   extra=[("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F4F4F4"))])]


def _public_credit(contents: ReportContents, width: float) -> list:
    from xinyidai.domain import vocabulary as wording

    lines = contents.public_credit
    if not lines:
        return [_p(_("报告期内没有公共信用记录。"))]
    rows = [[_("记录编号"), _("类型"), _("程度"), _("决定日期"), _("修复情况")]]
    extra = []
    for i, line in enumerate(lines, start=1):
        if line.repaired:
            state = _("已修复（%(day)s）", day=_day(line.repaired_on))
            extra.append(("TEXTCOLOR", (4, i), (4, i), _REPAIRED))
        elif line.repair_applied_on:
            state = _("未修复，已于 %(day)s 申请修复", day=_day(line.repair_applied_on))
        else:
            state = _("未修复")
        rows.append([line.record_id, str(wording.PUBLIC_CREDIT_KIND.get(line.kind, line.kind)),
                     str(wording.SEVERITY.get(line.severity, line.severity)), _day(line.decided_on), state])
    table = _table(rows, [width * w for w in (0.2, 0.22, 0.1, 0.16, 0.32)])
    for command in extra:  # a repaired record is flagged in green as well as in words
        table.setStyle(TableStyle([command]))
    return [table, Spacer(1, 2), _p(_("“已修复”的记录已按规定完成信用修复，依规停止公示，不作为失信记录使用。"), _NOTE)]


def _tax_ratings(contents: ReportContents, width: float) -> list:
    if not contents.tax_ratings:
        return [_p(_("报告期内平台没有纳税信用等级数据。"))]
    rows = [[_("年度"), _("纳税信用等级")]] + [[str(year), rating] for year, rating in contents.tax_ratings]
    return [_table(rows, [width * 0.3, width * 0.7])]


def _continuity(contents: ReportContents, width: float) -> list:
    names = {"tax": _("纳税申报"), "social_insurance": _("社会保险缴纳"), "housing_fund": _("住房公积金缴存"),
             "utilities": _("水电气缴费")}
    rows = [[_("项目"), _("应有月数"), _("平台掌握月数"), _("起止月份"), _("欠缴或逾期月数")]]
    for line in contents.continuity or []:
        span = f"{line.first:%Y-%m} – {line.last:%Y-%m}" if line.first else "—"
        rows.append([names[line.source], str(line.months_expected), str(line.months_held), span,
                     str(line.months_in_arrears)])
    return [_table(rows, [width * w for w in (0.24, 0.15, 0.17, 0.26, 0.18)]), Spacer(1, 2),
            _p(_("按各部门报送给平台的月度数据统计；应有月数自报告期起（或成立之月起）至该部门最近报送月份。"), _NOTE)]


def _platform_grade(contents: ReportContents, width: float) -> list:
    from ml.gates import GATES
    from ml.reasons import reason_text

    grade = contents.grade
    if grade is None:
        return [_p(_("平台尚未对该企业评分。"))]
    english = contents.request.language == "en"
    rows = [[_("信用等级"), grade.grade], [_("信用评分"), str(grade.points)], [_("评分日期"), _day(grade.as_of)],
            [_("模型版本"), grade.model_version]]
    for rank, (family, feature, contribution) in enumerate(grade.reasons, start=1):
        words = reason_text({"family": family, "feature": feature, "contribution": contribution})
        rows.append([_("主要因素 %(rank)s", rank=rank), words["en"] if english else words["zh"]])
    if grade.gates_passed and not grade.failed_gates:
        rows.append([_("准入规则"), _("全部通过")])
    for gate in grade.failed_gates:
        spec = GATES.get(gate.get("gate", ""))
        said = (spec.en if english else spec.zh) if spec else gate.get("gate", "")
        rows.append([_("未通过的准入规则"), said])
    return [_table(rows, [width * 0.3, width * 0.7], header=False,
                   extra=[("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F4F4F4"))]), Spacer(1, 2),
            _p(_("平台评级由信易贷平台模型根据各部门报送的数据计算，仅供金融机构参考。"), _NOTE)]


def _self_declared(contents: ReportContents, width: float) -> list:
    from xinyidai.domain import vocabulary as wording

    rows = [[_("类别"), _("内容"), _("时间"), _("来源")]]
    for c in contents.commitments or []:
        rows.append([_("信用承诺"), c.text, _shanghai(c.made_at)[:10], _("企业自愿承诺")])
    for r in contents.self_reports or []:
        topic = str(wording.SELF_REPORT_TOPICS.get(r.topic, r.topic))
        rows.append([topic + (f"（{r.period}）" if r.period else ""), r.value, _shanghai(r.reported_at)[:10],
                     _("自愿填报，未经核验")])
    if len(rows) == 1:
        return [_p(_("报告期内企业没有作出信用承诺或自愿填报信息。"))]
    return [_table(rows, [width * w for w in (0.18, 0.5, 0.14, 0.18)]), Spacer(1, 2),
            _p(_("本部分内容由企业自行承诺或填报，平台未核验，不计入平台评分。"), _NOTE)]


RENDERERS = {"registry": _registry, "public_credit": _public_credit, "tax_ratings": _tax_ratings,
             "continuity": _continuity, "platform_grade": _platform_grade, "self_declared": _self_declared}


class QrCode(Flowable):
    """The QR code drawn straight onto the page: encoded once, one rectangle per run of dark modules (ReportLab's
    widget encodes twice and builds a shape per run, a third of the report's time)."""

    BORDER = 2  # modules of quiet zone

    def __init__(self, url: str, size: float):
        super().__init__()
        widget = QrCodeWidget(url, barLevel="M")
        widget.qr.make()
        self.modules = [[bool(m) for m in row] for row in widget.qr.modules]
        self.width = self.height = size

    def wrap(self, available_width, available_height):
        return self.width, self.height

    def draw(self):
        count = len(self.modules)
        box = self.width / (count + 2 * self.BORDER)
        canvas = self.canv
        canvas.setFillColor(colors.black)
        for r, row in enumerate(self.modules):
            c = 0
            for dark, run in itertools.groupby(row):
                length = len(list(run))
                if dark:
                    canvas.rect((c + self.BORDER) * box, self.height - (r + self.BORDER + 1) * box, length * box, box,
                                stroke=0, fill=1)
                c += length


def _verification(header: Header, width: float) -> KeepTogether:
    text = [_p(_("报告核验"), _HEADING),
            _p(_("报告编号：%(number)s", number=header.number)),
            _p(_("验证码：%(code)s", code=header.code)),
            _p(_("核验方法：扫描右侧二维码，或访问 %(url)s 输入报告编号和验证码。", url=header.verify_url.split("?")[0])),
            _p(_("核验页面只显示报告的编号、企业、出具日期、有效期和文件摘要；平台不保存报告副本。"), _NOTE)]
    inner = Table([[text, QrCode(header.verify_url, 32 * mm)]], colWidths=[width - 38 * mm, 38 * mm])
    inner.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.8, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 6)]))
    return KeepTogether([Spacer(1, 8), inner])


def render(contents: ReportContents, header: Header) -> bytes:
    """The report as PDF bytes, in the request's language."""
    with force_locale(contents.request.language):
        return _render(contents, header)


def _render(contents: ReportContents, header: Header) -> bytes:
    buffer = io.BytesIO()
    title = _("专用信用报告")
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=f"{title} {header.number}", author=_("信易贷平台"),
                            subject=contents.enterprise.name, creator="XinYiDai")
    width = doc.width
    footer = _("报告编号 %(number)s · 第 %(page)s 页", number=header.number, page="%d")

    def page_furniture(canvas, document):
        canvas.saveState()
        canvas.setStrokeColor(_RULE)
        canvas.setLineWidth(1.2)
        canvas.line(20 * mm, A4[1] - 12 * mm, A4[0] - 20 * mm, A4[1] - 12 * mm)
        canvas.setFont(FONT, 8)
        canvas.drawCentredString(A4[0] / 2, 10 * mm, footer % document.page)
        canvas.restoreState()

    story = [_p(title, _TITLE), _p(_("（用于替代有无违法违规记录证明 · 信易贷平台出具）"), _SUBTITLE)]
    sections = "、".join(section_title(k) for k in contents.request.sections) if contents.request.language == "zh" \
        else "; ".join(section_title(k) for k in contents.request.sections)
    story.append(_table([
        [_("企业名称"), contents.enterprise.name], [_("统一社会信用代码"), contents.enterprise.uscc],
        [_("报告编号"), header.number], [_("出具时间"), _shanghai(header.issued_at)],
        [_("有效期至"), _shanghai(header.valid_until)],
        [_("信息时间范围"), f"{contents.window_start.isoformat()} – {contents.window_end.isoformat()}"],
        [_("报告内容"), sections],
    ], [width * 0.25, width * 0.75], header=False, extra=[("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F4F4F4"))]))
    for n, key in enumerate(contents.request.sections):
        numeral = NUMERALS[n] if contents.request.language == "zh" else str(n + 1)
        story.append(_p(f"{numeral}{'、' if contents.request.language == 'zh' else '. '}{section_title(key)}", _HEADING))
        story.extend(RENDERERS[key](contents, width))
    story.append(_verification(header, width))
    doc.build(story, onFirstPage=page_furniture, onLaterPages=page_furniture)
    return buffer.getvalue()
