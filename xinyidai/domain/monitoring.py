"""Post-loan monitoring (获得贷款企业信用状况动态监测, DESIGN §7).

For every enterprise with an outstanding loan (disbursed, repaying or overdue) and each bank that lent
to it, four things are checked against data dated after the loan was disbursed:

- grade drop: the latest score is two or more notches below the grade at disbursement;
- a new public-credit record: 失信被执行人 or 严重违法失信名单 (dishonest_record), or a serious 行政处罚
  (serious_penalty), decided on or after disbursement and not repaired;
- headcount collapse: insured headcount in the latest delivered month at least 30% below three months
  earlier (from a base of at least MIN_HEADCOUNT people, so a two-person firm losing one is not an alert);
- arrears: a month of utility arrears (paid less than billed, or 30+ days late) or tax arrears.

Each event has a key (`event_key`, unique in the table), so running again raises nothing new: a grade drop
is keyed by the grade reached, a record by its id, headcount by the month observed, arrears by the month an
unbroken run of arrears began. Each alert names the lending bank and the enterprise's district.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models.base import utcnow
from models.enterprise import Enterprise
from models.lending import Application, ApplicationState
from models.monitoring import Alert, AlertKind
from models.scoring import GRADE_SCALE, Score
from models.sources import (
    PublicCreditEvent,
    PublicCreditKind,
    Severity,
    SocialInsuranceMonth,
    TaxMonth,
    UtilityMonth,
)
from xinyidai.audit import record

S = ApplicationState
OUTSTANDING_STATES = (S.DISBURSED, S.REPAYING, S.OVERDUE)
GRADE_DROP_NOTCHES = 2
HEADCOUNT_DROP = 0.30
HEADCOUNT_MONTHS = 3
MIN_HEADCOUNT = 5
UTILITY_DAYS_LATE = 30


@dataclass(frozen=True)
class Loan:
    application_id: int
    uscc: str
    bank_id: int
    district_code: str
    disbursed_on: date


@dataclass(frozen=True)
class Finding:
    kind: AlertKind
    event_key: str
    loan: Loan
    evidence: dict


@dataclass
class RunSummary:
    borrowers: int = 0
    loans: int = 0
    raised: int = 0
    already_known: int = 0
    by_kind: dict = field(default_factory=dict)


def outstanding_loans(session: Session) -> list[Loan]:
    """One per (enterprise, bank): the bank's earliest outstanding loan to it (the longest exposure)."""
    rows = session.execute(
        sa.select(Application.id, Application.uscc, Application.bank_id, Enterprise.district_code,
                  Application.disbursed_on)
        .join(Enterprise, Enterprise.uscc == Application.uscc)
        .where(Application.state.in_(OUTSTANDING_STATES), Application.disbursed_on.is_not(None))
        .order_by(Application.disbursed_on, Application.id)).all()
    loans: dict[tuple[str, int], Loan] = {}
    for row in rows:
        loans.setdefault((row.uscc, row.bank_id), Loan(*row))
    return list(loans.values())


def _month(day: date) -> date:
    return day.replace(day=1)


def _iso(day) -> str:
    return day.isoformat() if day else None


def _by_uscc(rows) -> dict[str, list]:
    grouped = defaultdict(list)
    for row in rows:
        grouped[row.uscc].append(row)
    return grouped


def _in_chunks(usccs: list[str], size: int = 500):
    for i in range(0, len(usccs), size):
        yield usccs[i:i + size]


def _fetch(session: Session, statement_for, usccs: list[str]) -> dict[str, list]:
    grouped: dict[str, list] = defaultdict(list)
    for chunk in _in_chunks(usccs):
        for uscc, rows in _by_uscc(session.execute(statement_for(chunk)).all()).items():
            grouped[uscc].extend(rows)
    return grouped


def grade_drops(session: Session, loans: list[Loan]) -> list[Finding]:
    scores = _fetch(session, lambda chunk: sa.select(Score.uscc, Score.id, Score.grade, Score.scored_at,
                                                     Score.model_version)
                    .where(Score.uscc.in_(chunk)).order_by(Score.uscc, Score.scored_at, Score.id),
                    sorted({loan.uscc for loan in loans}))
    findings = []
    for loan in loans:
        history = [s for s in scores.get(loan.uscc, []) if s.grade in GRADE_SCALE]
        if len(history) < 2:
            continue
        before = [s for s in history if s.scored_at.date() <= loan.disbursed_on]
        baseline = before[-1] if before else history[0]
        latest = history[-1]
        notches = GRADE_SCALE.index(latest.grade) - GRADE_SCALE.index(baseline.grade)
        if latest.id != baseline.id and notches >= GRADE_DROP_NOTCHES:
            findings.append(Finding(AlertKind.GRADE_DROP, f"grade_drop:{loan.uscc}:{loan.bank_id}:{latest.grade}", loan, {
                "from_grade": baseline.grade, "to_grade": latest.grade, "notches": notches,
                "from_score_id": baseline.id, "to_score_id": latest.id,
                "from_scored_at": baseline.scored_at.isoformat(), "to_scored_at": latest.scored_at.isoformat(),
                "model_version": latest.model_version, "disbursed_on": _iso(loan.disbursed_on)}))
    return findings


def credit_records(session: Session, loans: list[Loan]) -> list[Finding]:
    serious = sa.or_(PublicCreditEvent.kind.in_((PublicCreditKind.DISHONEST_DEBTOR, PublicCreditKind.SERIOUS_VIOLATION)),
                     sa.and_(PublicCreditEvent.kind == PublicCreditKind.ADMINISTRATIVE_PENALTY,
                             PublicCreditEvent.severity == Severity.SERIOUS))
    records = _fetch(session, lambda chunk: sa.select(PublicCreditEvent.uscc, PublicCreditEvent.record_id,
                                                      PublicCreditEvent.kind, PublicCreditEvent.severity,
                                                      PublicCreditEvent.decided_on)
                     .where(PublicCreditEvent.uscc.in_(chunk), serious, PublicCreditEvent.repaired_on.is_(None)),
                     sorted({loan.uscc for loan in loans}))
    findings = []
    for loan in loans:
        for r in records.get(loan.uscc, []):
            if r.decided_on < loan.disbursed_on:
                continue
            kind = (AlertKind.SERIOUS_PENALTY if r.kind is PublicCreditKind.ADMINISTRATIVE_PENALTY
                    else AlertKind.DISHONEST_RECORD)
            findings.append(Finding(kind, f"{kind.value}:{r.record_id}:{loan.bank_id}", loan, {
                "record_id": r.record_id, "record_kind": r.kind.value, "severity": r.severity.value,
                "decided_on": _iso(r.decided_on), "disbursed_on": _iso(loan.disbursed_on)}))
    return findings


def headcount_collapses(session: Session, loans: list[Loan]) -> list[Finding]:
    months = _fetch(session, lambda chunk: sa.select(SocialInsuranceMonth.uscc, SocialInsuranceMonth.month,
                                                     SocialInsuranceMonth.insured_headcount)
                    .where(SocialInsuranceMonth.uscc.in_(chunk)).order_by(SocialInsuranceMonth.month),
                    sorted({loan.uscc for loan in loans}))
    findings = []
    for loan in loans:
        series = {row.month: row.insured_headcount for row in months.get(loan.uscc, [])}
        if not series:
            continue
        latest = max(series)
        earlier = _add_months(latest, -HEADCOUNT_MONTHS)
        base = series.get(earlier)
        if earlier < _month(loan.disbursed_on) or not base or base < MIN_HEADCOUNT:
            continue
        drop = (base - series[latest]) / base
        if drop >= HEADCOUNT_DROP:
            findings.append(Finding(AlertKind.HEADCOUNT_COLLAPSE,
                                    f"headcount_collapse:{loan.uscc}:{loan.bank_id}:{latest:%Y-%m}", loan, {
                                        "from_month": f"{earlier:%Y-%m}", "to_month": f"{latest:%Y-%m}",
                                        "from_headcount": base, "to_headcount": series[latest],
                                        "drop": round(drop, 4)}))
    return findings


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _runs(months: dict[date, dict], since: date) -> list[tuple[date, list[date]]]:
    """Unbroken runs of months in arrears on or after `since`: (first month, months)."""
    runs: list[tuple[date, list[date]]] = []
    for month in sorted(m for m in months if m >= since):
        if runs and runs[-1][1][-1] == _add_months(month, -1):
            runs[-1][1].append(month)
        else:
            runs.append((month, [month]))
    return runs


def arrears(session: Session, loans: list[Loan]) -> list[Finding]:
    usccs = sorted({loan.uscc for loan in loans})
    utility = _fetch(session, lambda chunk: sa.select(UtilityMonth.uscc, UtilityMonth.month, UtilityMonth.kind,
                                                      UtilityMonth.billed_fen, UtilityMonth.paid_fen,
                                                      UtilityMonth.days_late)
                     .where(UtilityMonth.uscc.in_(chunk),
                            sa.or_(UtilityMonth.paid_fen < UtilityMonth.billed_fen,
                                   UtilityMonth.days_late >= UTILITY_DAYS_LATE)), usccs)
    tax = _fetch(session, lambda chunk: sa.select(TaxMonth.uscc, TaxMonth.month, TaxMonth.tax_paid_fen)
                 .where(TaxMonth.uscc.in_(chunk), TaxMonth.in_arrears.is_(True)), usccs)
    findings = []
    for loan in loans:
        since = _month(loan.disbursed_on)
        utility_months: dict[date, dict] = defaultdict(dict)
        for row in utility.get(loan.uscc, []):
            utility_months[row.month][row.kind.value] = {"billed_fen": row.billed_fen, "paid_fen": row.paid_fen,
                                                         "days_late": row.days_late}
        for first, run in _runs(utility_months, since):
            findings.append(Finding(AlertKind.UTILITY_ARREARS,
                                    f"utility_arrears:{loan.uscc}:{loan.bank_id}:{first:%Y-%m}", loan, {
                                        "since_month": f"{first:%Y-%m}",
                                        "months": {f"{m:%Y-%m}": utility_months[m] for m in run}}))
        tax_months = {row.month: {"tax_paid_fen": row.tax_paid_fen} for row in tax.get(loan.uscc, [])}
        for first, run in _runs(tax_months, since):
            findings.append(Finding(AlertKind.TAX_ARREARS, f"tax_arrears:{loan.uscc}:{loan.bank_id}:{first:%Y-%m}",
                                    loan, {"since_month": f"{first:%Y-%m}", "months": [f"{m:%Y-%m}" for m in run]}))
    return findings


def _insert_new(session: Session, rows: list[dict]) -> int:
    """Insert alerts, skipping any event key another run inserted meanwhile; returns how many were added."""
    if not rows:
        return 0
    insert = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}.get(session.get_bind().dialect.name)
    if insert is not None:
        statement = (insert(Alert.__table__).on_conflict_do_nothing(index_elements=["event_key"])
                     .returning(Alert.__table__.c.id))
        return sum(len(session.execute(statement, row).all()) for row in rows)
    session.execute(sa.insert(Alert.__table__), rows)
    return len(rows)


CHECKS = (grade_drops, credit_records, headcount_collapses, arrears)


def run_monitoring(session: Session, *, actor_label: str = "xyd monitor run") -> RunSummary:
    """Check every outstanding borrower and add one alert per new event. Does not commit."""
    loans = outstanding_loans(session)
    summary = RunSummary(borrowers=len({loan.uscc for loan in loans}), loans=len(loans))
    findings = [finding for check in CHECKS for finding in check(session, loans)]
    known = set()
    keys = [f.event_key for f in findings]
    for i in range(0, len(keys), 500):
        known.update(session.scalars(sa.select(Alert.event_key).where(Alert.event_key.in_(keys[i:i + 500]))))
    now = utcnow()
    new = []
    for finding in findings:
        if finding.event_key in known:
            summary.already_known += 1
            continue
        known.add(finding.event_key)
        loan = finding.loan
        new.append({"event_key": finding.event_key, "kind": finding.kind, "uscc": loan.uscc,
                    "application_id": loan.application_id, "bank_id": loan.bank_id,
                    "district_code": loan.district_code,
                    "evidence": {**finding.evidence, "application_id": loan.application_id}, "raised_at": now})
        summary.by_kind[finding.kind.value] = summary.by_kind.get(finding.kind.value, 0) + 1
    summary.raised = _insert_new(session, new)
    summary.already_known += len(new) - summary.raised
    record(session, "monitoring_run", actor_label=actor_label,
           detail={"borrowers": summary.borrowers, "loans": summary.loans, "raised": summary.raised,
                   "by_kind": summary.by_kind})
    session.flush()
    return summary
