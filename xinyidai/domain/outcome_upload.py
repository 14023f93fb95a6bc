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


def _yuan(*, low: str = "0", **kwargs) -> fields.Decimal:
    """Yuan through `inputs.Amount`: plain notation, bounded before any arithmetic."""
    return inputs.Amount(places=2, validate=validate.Range(min=Decimal(low), max=Decimal("1000000000000")), **kwargs)


class OutcomeRow(Schema):
    application_id = bounded(1, MAX_INT, strict=False, required=True)
    outcome = fields.String(required=True, validate=validate.OneOf([s.value for s in OUTCOMES]))
    reason_code = fields.String(validate=validate.OneOf(list(DECLINE_REASONS)))
    reason_text = text(500, multiline=True)
    amount_yuan = _yuan(low="0.01")  # a disbursement of nothing is refused here as on the web and the API
    rate_percent = inputs.Amount(places=2, validate=validate.Range(min=Decimal("0"), max=Decimal("36")))
    term_months = bounded(1, 360, strict=False)
    disbursed_on = inputs.Day()
    guarantee_type = fields.Enum(GuaranteeType, by_value=True)
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
        missing = {name: [N_("此结果必须填写该列")] for name in needed if data.get(name) in (None, "")}
        if ("as_of" in data) != ("outstanding_yuan" in data):
            missing["outstanding_yuan"] = [N_("月末余额和报送日期须同时填写")]
        if missing:
            raise ValidationError(missing)


@dataclass
class RowResult:
    line: int
    application_id: str
    outcome: str
    result: str  # applied | unchanged | rejected
    message: str = ""


@dataclass
class UploadSummary:
    sha256: str
    results: list[RowResult] = field(default_factory=list)
    result_file: str | None = None

    def count(self, result: str) -> int:
        return sum(1 for row in self.results if row.result == result)


def _report(row: dict) -> operations.OutcomeReport:
    outcome = S(row["outcome"])
    loan = None
    if outcome is S.DISBURSED:
        loan = Disbursement(fen(row["amount_yuan"]), basis_points(row["rate_percent"]),
                            row["term_months"], row["disbursed_on"], row["guarantee_type"])
    return operations.OutcomeReport(
        outcome, reason_code=row.get("reason_code"), reason_text=row.get("reason_text"), disbursement=loan,
        days_past_due=row.get("days_past_due"), as_of=row.get("as_of"),
        outstanding_fen=fen(row["outstanding_yuan"]) if "outstanding_yuan" in row else None)


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
        raise Invalid({"file": [f"无法读取 CSV 文件：{error}"]}) from error
    missing = [name for name in ("application_id", "outcome") if name not in header]
    if missing:
        raise Invalid({"file": [f"缺少必需的列：{', '.join(missing)}（应有列：{', '.join(COLUMNS)}）"]})
    reader.fieldnames = header
    try:
        for number, raw in enumerate(reader, start=2):
            if number > MAX_ROWS + 1:
                summary.results.append(RowResult(number, "", "", "rejected", f"超过 {MAX_ROWS} 行的部分未处理"))
                break
            summary.results.append(_apply_row(session, bank_id, number, raw, actor))
    except csv.Error as error:
        raise Invalid({"file": [f"CSV 格式错误：{error}"]}) from error
    summary.result_file = _write_results(summary, results_dir)
    record(session, "outcome_upload", actor_user_id=actor.user_id, actor_token_id=actor.token_id,
           detail={"bank_id": bank_id, "sha256": summary.sha256, "rows": len(summary.results),
                   "applied": summary.count("applied"), "unchanged": summary.count("unchanged"),
                   "rejected": summary.count("rejected"), "result_file": summary.result_file})
    return summary


def _apply_row(session: Session, bank_id: int, number: int, raw: dict, actor: Actor) -> RowResult:
    extra = raw.get(None)
    cleaned = {k: v.strip() for k, v in raw.items() if k in COLUMNS and isinstance(v, str) and v.strip() != ""}
    result = RowResult(number, cleaned.get("application_id", ""), cleaned.get("outcome", ""), "rejected")
    if extra:
        result.message = N_("列数多于表头")
        return result
    try:
        row = OutcomeRow().load(cleaned)
    except ValidationError as error:
        result.message = "; ".join(f"{name}: {' '.join(map(str, msgs if isinstance(msgs, list) else [msgs]))}"
                                   for name, msgs in error.messages.items())
        return result
    savepoint = session.begin_nested()
    try:
        application = operations.bank_application(session, bank_id, row["application_id"], lock=True)
        applied = operations.report_outcome(session, application, _report(row), actor, idempotency_key=_row_key(row))
    except NotFound:
        savepoint.rollback()
        result.message = N_("本行没有这笔申请")
    except IllegalTransition as error:
        savepoint.rollback()
        result.message = error.zh
    except Invalid as error:
        savepoint.rollback()
        result.message = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.errors.items())
    else:
        savepoint.commit()
        result.result = "unchanged" if applied.repeated else "applied"
    return result


def _write_results(summary: UploadSummary, results_dir: Path) -> str:
    results_dir.mkdir(parents=True, exist_ok=True)
    name = f"{utcnow():%Y%m%dT%H%M%S%f}-{summary.sha256[:12]}.csv"
    with (results_dir / name).open("w", newline="", encoding="utf-8-sig") as handle:
        writer = cells.csv_writer(handle)
        writer.writerow(["line", "application_id", "outcome", "result", "message"])
        for row in summary.results:
            writer.writerow([row.line, row.application_id, row.outcome, row.result, row.message])
    return name
