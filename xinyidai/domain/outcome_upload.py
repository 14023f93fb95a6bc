"""Outcome rows uploaded as CSV (the third channel): every row validated on its own, good rows applied even
when others fail, a result per row, and the same file twice changes nothing.

Each row becomes an OutcomeReport for `operations.report_outcome`, the service the web and the API use;
its idempotency key is derived from the row's content, so a row already applied is reported "unchanged".
Amounts are yuan and rates percent here (people fill these sheets in); the API speaks fen and basis points.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from models.base import utcnow
from models.lending import ApplicationState, GuaranteeType
from xinyidai.audit import record
from xinyidai.database import MAX_INT
from xinyidai.domain import cells, inputs
from xinyidai.domain import products as operations
from xinyidai.domain.bank_schemas import bounded, text
from xinyidai.domain.errors import Invalid, NotFound
from xinyidai.domain.lifecycle import DECLINE_REASONS, Actor, Disbursement, IllegalTransition
from xinyidai.domain.money import basis_points, fen
from xinyidai.i18n import N_

S = ApplicationState
COLUMNS = ["application_id", "outcome", "reason_code", "reason_text", "amount_yuan", "rate_percent", "term_months",
           "disbursed_on", "guarantee_type", "days_past_due", "as_of", "outstanding_yuan"]
OUTCOMES = [S.CLAIMED, S.APPROVED, S.DECLINED, S.DISBURSED, S.REPAYING, S.OVERDUE, S.REPAID, S.DEFAULTED]
MAX_ROWS = 50_000
APPROVAL_TERMS = ("amount_yuan", "rate_percent", "term_months")  # an approved row's terms, when it gives them


def _yuan(*, low: str = "0", **kwargs) -> fields.Decimal:
    """Yuan through `inputs.Amount`: plain notation, bounded before any arithmetic."""
    return inputs.Amount(places=2, validate=validate.Range(min=Decimal(low), max=Decimal("1000000000000")), **kwargs)


# English words a sheet may use for a guarantee type besides the stored Chinese ones ("credit" = 信用).
GUARANTEE_WORDS = {"credit": GuaranteeType.CREDIT, "mortgage": GuaranteeType.MORTGAGE, "surety": GuaranteeType.SURETY,
                   "guarantee_company": GuaranteeType.GUARANTEE_COMPANY}


class _Guarantee(fields.Field):
    """A guarantee type as stored (信用, 抵押, 保证, 担保公司) or in English (credit, mortgage, surety, guarantee_company)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value).strip()
        try:
            return GuaranteeType(text)
        except ValueError:
            if text.lower() in GUARANTEE_WORDS:
                return GUARANTEE_WORDS[text.lower()]
        raise ValidationError(NOT_ALLOWED)


NOT_ALLOWED = N_("不是该列允许的值。")
MISSING_COLUMNS = N_("缺少必需的列 application_id 或 outcome：第一行须是表头（各列见“各列允许的值”，或下载 CSV 模板）。")
UNREADABLE = N_("无法读取 CSV 文件（编码或引号格式不对）：请另存为 UTF-8 编码的 CSV 后再上传。")
# What each column accepts, as the upload page, its CSV template and every row error say it: the values (codes a
# sheet writes as they are; None: described in words) and when the column is needed.
COLUMN_RULES: dict[str, tuple[list[str] | None, str]] = {
    "application_id": (None, N_("必填：本行一笔申请的编号（数字，见待办和申请页）")),
    "outcome": ([s.value for s in OUTCOMES], N_("必填：要报送的结果")),
    "reason_code": (list(DECLINE_REASONS), N_("declined 时必填：拒绝原因代码")),
    "reason_text": (None, N_("拒绝说明，最多 500 字；原因代码为 other 时必填")),
    "amount_yuan": (None, N_("disbursed 时必填（approved 时可填批准金额）：金额（元），0.01 起，最多两位小数")),
    "rate_percent": (None, N_("disbursed 时必填（approved 时可填批准利率）：年利率（%），0 至 36，最多两位小数")),
    "term_months": (None, N_("disbursed 时必填（approved 时可填批准期限）：期限（月），1 至 360 的整数")),
    "disbursed_on": (None, N_("disbursed 时必填：放款日期 YYYY-MM-DD，不早于受理，不晚于明天")),
    "guarantee_type": ([*GUARANTEE_WORDS, *(g.value for g in GuaranteeType)], N_("disbursed 时必填：担保方式")),
    "days_past_due": (None, N_("overdue、defaulted 时必填：逾期天数，0 至 36500 的整数")),
    "as_of": (None, N_("月末报送日期 YYYY-MM-DD，与 outstanding_yuan 同时填写，不早于放款")),
    "outstanding_yuan": (None, N_("月末余额（元），0 起，最多两位小数，与 as_of 同时填写")),
}
def allowed_values(column: str, *, english: bool) -> list[str] | None:
    """The values a column allows as a sheet in that language shows them (guarantee types: the words of the
    language; both are accepted)."""
    values = COLUMN_RULES[column][0]
    if column == "guarantee_type":
        return list(GUARANTEE_WORDS) if english else [g.value for g in GuaranteeType]
    return values


# A row whose first cell starts with this is a note (the template's help and examples), never applied.
NOTE_MARK = "#"


class OutcomeRow(Schema):
    application_id = bounded(1, MAX_INT, strict=False, required=True)
    outcome = fields.String(required=True, validate=validate.OneOf([s.value for s in OUTCOMES]))
    reason_code = fields.String(validate=validate.OneOf(list(DECLINE_REASONS)))
    reason_text = text(500, multiline=True)
    amount_yuan = _yuan(low="0.01")  # a disbursement of nothing is refused here as on the web and the API
    rate_percent = inputs.Amount(places=2, validate=validate.Range(min=Decimal("0"), max=Decimal("36")))
    term_months = bounded(1, 360, strict=False)
    disbursed_on = inputs.Day()
    guarantee_type = _Guarantee()
    days_past_due = bounded(0, 36500, strict=False)
    as_of = inputs.Day()
    outstanding_yuan = _yuan()

    @validates_schema
    def what_the_outcome_needs(self, data, **_kwargs):
        outcome, needed = data.get("outcome"), []
        if outcome == "declined":
            needed = ["reason_code"]
        elif outcome == "disbursed":
            needed = ["amount_yuan", "rate_percent", "term_months", "disbursed_on", "guarantee_type"]
        elif outcome in ("overdue", "defaulted"):
            needed = ["days_past_due"]
        elif outcome == "approved" and any(data.get(name) not in (None, "") for name in APPROVAL_TERMS):
            needed = list(APPROVAL_TERMS)  # the terms approved: all three, or none, as on the web and the API
        missing = {name: [N_("此结果必须填写该列")] for name in needed if data.get(name) in (None, "")}
        if ("as_of" in data) != ("outstanding_yuan" in data):
            missing["outstanding_yuan"] = [N_("月末余额和报送日期须同时填写")]
        if missing:
            raise ValidationError(missing)


@dataclass
class Problem:
    """What is wrong with one row: the column (None: the row as a whole), the value it holds, and why — a
    Chinese source string marked with N_ (worded in English from the catalogue), or `zh` and `en` both given."""

    column: str | None
    value: str
    zh: str
    en: str | None = None

    def reason(self, *, english: bool) -> str:
        """Why, in one language; a value the column does not allow is followed by the column's rule."""
        from xinyidai.i18n import in_english

        if not english:
            reason = self.zh
        else:
            reason = self.en or in_english(self.zh)
        if self.zh == NOT_ALLOWED and self.column in COLUMN_RULES:
            rule = COLUMN_RULES[self.column][1]
            reason += " " + (in_english(rule) if english else rule)
        return reason


@dataclass
class RowResult:
    line: int
    application_id: str
    outcome: str
    result: str  # applied | unchanged | rejected
    problems: list[Problem] = field(default_factory=list)

    def message(self, *, english: bool = False) -> str:
        """The problems in one language, one "column: reason" each (the result file's message columns)."""
        return "; ".join(f"{p.column}: {p.reason(english=english)}" if p.column else p.reason(english=english)
                         for p in self.problems)


@dataclass
class UploadSummary:
    sha256: str
    results: list[RowResult] = field(default_factory=list)
    result_file: str | None = None

    def count(self, result: str) -> int:
        return sum(1 for row in self.results if row.result == result)


def _report(row: dict) -> operations.OutcomeReport:
    outcome = S(row["outcome"])
    loan = approval = None
    if outcome is S.APPROVED and row.get("amount_yuan") is not None:
        approval = operations.Approval(fen(row["amount_yuan"]), row["term_months"], basis_points(row["rate_percent"]))
    if outcome is S.DISBURSED:
        loan = Disbursement(fen(row["amount_yuan"]), basis_points(row["rate_percent"]),
                            row["term_months"], row["disbursed_on"], row["guarantee_type"])
    return operations.OutcomeReport(
        outcome, reason_code=row.get("reason_code"), reason_text=row.get("reason_text"), disbursement=loan,
        days_past_due=row.get("days_past_due"), as_of=row.get("as_of"),
        outstanding_fen=fen(row["outstanding_yuan"]) if "outstanding_yuan" in row else None, approval=approval)


def _row_key(row: dict) -> str:
    """The same row (whatever file it comes in) gets the same key, so applying it again is a no-op."""
    canonical = json.dumps({k: str(v) for k, v in sorted(row.items())}, ensure_ascii=False)
    return "csv:" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def decode(payload: bytes) -> str:
    """UTF-8 (with or without the BOM spreadsheets add), else GB18030 (Chinese Excel's "CSV")."""
    try:
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        return payload.decode("gb18030")


def apply_upload(session: Session, bank_id: int, payload: bytes, actor: Actor, results_dir: Path) -> UploadSummary:
    """Apply every good row (each in its own savepoint) and write the per-row result file. Commits nothing."""
    summary = UploadSummary(hashlib.sha256(payload).hexdigest())
    if b"\x00" in payload[:65536]:
        # A spreadsheet or an image renamed .csv: say so instead of reporting every "row" as malformed.
        raise Invalid({"file": [N_("这不是文本格式的 CSV 文件（可能是 Excel 或其他二进制文件）；请另存为 CSV 后再上传")]})
    try:
        reader = csv.DictReader(io.StringIO(decode(payload), newline=""))
        header = [name.strip() for name in (reader.fieldnames or [])]
    except (UnicodeDecodeError, csv.Error) as error:
        raise Invalid({"file": [UNREADABLE]}) from error
    missing = [name for name in ("application_id", "outcome") if name not in header]
    if missing:
        raise Invalid({"file": [MISSING_COLUMNS]})
    reader.fieldnames = header
    try:
        for number, raw in enumerate(reader, start=2):
            if _is_note(raw):
                continue
            if number > MAX_ROWS + 1:
                summary.results.append(RowResult(number, "", "", "rejected", [Problem(
                    None, "", f"超过 {MAX_ROWS} 行的部分未处理", f"rows after the first {MAX_ROWS:,} were not read")]))
                break
            summary.results.append(_apply_row(session, bank_id, number, raw, actor))
    except csv.Error as error:
        raise Invalid({"file": [UNREADABLE]}) from error
    summary.result_file = _write_results(summary, results_dir)
    record(session, "outcome_upload", actor_user_id=actor.user_id, actor_token_id=actor.token_id,
           detail={"bank_id": bank_id, "sha256": summary.sha256, "rows": len(summary.results),
                   "applied": summary.count("applied"), "unchanged": summary.count("unchanged"),
                   "rejected": summary.count("rejected"), "result_file": summary.result_file})
    return summary


def _is_note(raw: dict) -> bool:
    first = raw.get("application_id")
    return isinstance(first, str) and first.strip().startswith(NOTE_MARK)


def _is_ours(message) -> bool:
    """A message the platform words (Chinese source, in the catalogue), not one of marshmallow's English ones."""
    return isinstance(message, str) and any("\u4e00" <= ch <= "\u9fff" for ch in message)


def _field_problems(messages: dict, cleaned: dict) -> list[Problem]:
    problems = []
    for name, found in messages.items():
        for message in found if isinstance(found, list) else [found]:
            column = name if name in COLUMNS else None
            value = cleaned.get(name, "")[:100] if column else ""
            problems.append(Problem(column, value, message if _is_ours(message) else NOT_ALLOWED))
    return problems


def _apply_row(session: Session, bank_id: int, number: int, raw: dict, actor: Actor) -> RowResult:
    extra = raw.get(None)
    cleaned = {k: v.strip() for k, v in raw.items() if k in COLUMNS and isinstance(v, str) and v.strip() != ""}
    result = RowResult(number, cleaned.get("application_id", ""), cleaned.get("outcome", ""), "rejected")
    if extra:
        result.problems = [Problem(None, ",".join(map(str, extra))[:100], N_("列数多于表头"))]
        return result
    try:
        row = OutcomeRow().load(cleaned)
    except ValidationError as error:
        result.problems = _field_problems(error.messages, cleaned)
        return result
    savepoint = session.begin_nested()
    try:
        application = operations.bank_application(session, bank_id, row["application_id"], lock=True)
        applied = operations.report_outcome(session, application, _report(row), actor, idempotency_key=_row_key(row))
    except NotFound:
        savepoint.rollback()
        result.problems = [Problem("application_id", cleaned.get("application_id", ""), N_("本行没有这笔申请"))]
    except IllegalTransition as error:
        savepoint.rollback()
        result.problems = [Problem(None, cleaned.get("outcome", ""), error.zh, error.en)]
    except Invalid as error:
        savepoint.rollback()
        result.problems = _field_problems(error.errors, cleaned)
    else:
        savepoint.commit()
        result.result = "unchanged" if applied.repeated else "applied"
    return result


def _write_results(summary: UploadSummary, results_dir: Path) -> str:
    results_dir.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S%f}-{summary.sha256[:12]}.csv"
    with (results_dir / name).open("w", newline="", encoding="utf-8-sig") as handle:
        writer = cells.csv_writer(handle)
        writer.writerow(["line", "application_id", "outcome", "result", "column", "value", "message", "message_en"])
        for row in summary.results:
            writer.writerow([row.line, row.application_id, row.outcome, row.result,
                             "; ".join(p.column or "" for p in row.problems), "; ".join(p.value for p in row.problems),
                             row.message(), row.message(english=True)])
    return name
