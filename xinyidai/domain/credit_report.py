"""The enterprise's own credit report (专用信用报告, DESIGN §12): what goes in it, its number and verification
code, and checking a report someone shows you.

The enterprise picks the sections and a window of up to five years. The report is rendered once (the
renderer is handed in, so this module decides *what* is said, never how it looks); the platform keeps the
header (number, enterprise, window, sections, issue date, validity) and the SHA-256 digest of the issued file,
and the verification code only as a hash. Anyone holding the number and the code can check the header and,
with the file, that its digest matches — nothing else about the enterprise.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import SHANGHAI, utcnow
from models.credit import CreditReport, RepairCase, RepairState, ReportAttachment
from models.enterprise import CreditCommitment, Enterprise, SelfReport
from models.lending import Application
from models.scoring import Score
from models.sources import (
    HousingFundMonth,
    PublicCreditEvent,
    SocialInsuranceMonth,
    TaxMonth,
    TaxRating,
    UtilityMonth,
)
from xinyidai.audit import record

SECTIONS = ("registry", "public_credit", "tax_ratings", "continuity", "platform_grade", "self_declared")
LANGUAGES = ("zh", "en")
MAX_WINDOW_YEARS = 5
VALID_DAYS = 30  # how long a bank may rely on a report after its issue date (XYD_CREDIT_REPORT_VALID_DAYS)
TOP_REASONS = 3
# No 0/O, 1/I/L: a code read off paper and typed in is not mistaken.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
NUMBER_SUFFIX = 6


class ReportRefused(Exception):
    """A request for a report that breaks a rule; zh / en say why."""

    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh, self.en = zh, en


@dataclass(frozen=True)
class ReportRequest:
    sections: tuple[str, ...]
    years: int
    language: str = "zh"


def report_request(sections, years, language: str = "zh") -> ReportRequest:
    """The request checked: known sections (at least one), 1–5 years, Chinese or English."""
    chosen = tuple(s for s in SECTIONS if s in set(sections or ()))
    unknown = set(sections or ()) - set(SECTIONS)
    if unknown:
        listed = sorted(unknown)
        raise ReportRefused(f"未知的报告内容：{'、'.join(listed)}", f"unknown sections: {', '.join(listed)}")
    if not chosen:
        raise ReportRefused("请至少选择一个报告内容", "choose at least one section")
    try:
        years = int(years)
    except (TypeError, ValueError):
        years = 0
    if not 1 <= years <= MAX_WINDOW_YEARS:
        raise ReportRefused(f"时间范围须为 1 至 {MAX_WINDOW_YEARS} 年", f"the window must be 1 to {MAX_WINDOW_YEARS} years")
    if language not in LANGUAGES:
        raise ReportRefused("报告语言须为中文或英文", "the report language must be Chinese or English")
    return ReportRequest(chosen, years, language)


def shanghai_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


# ---------------------------------------------------------------- what the report says

@dataclass(frozen=True)
class CreditLine:
    record_id: str
    kind: str
    severity: str
    decided_on: date
    repaired_on: date | None
    repair_applied_on: date | None  # an open repair application on the platform

    @property
    def repaired(self) -> bool:
        return self.repaired_on is not None


@dataclass(frozen=True)
class ContinuityLine:
    source: str
    months_expected: int
    months_held: int
    first: date | None
    last: date | None
    months_in_arrears: int


@dataclass(frozen=True)
class GradeSummary:
    grade: str
    points: int
    as_of: date
    model_version: str
    gates_passed: bool
    failed_gates: list[dict]
    reasons: list[tuple[str, str, float]]  # family, feature, contribution


@dataclass
class ReportContents:
    """Everything the file says. Built, rendered and forgotten: never stored."""

    enterprise: Enterprise
    request: ReportRequest
    window_start: date
    window_end: date
    registry: Enterprise | None = None
    public_credit: list[CreditLine] | None = None
    tax_ratings: list[tuple[int, str]] | None = None
    continuity: list[ContinuityLine] | None = None
    grade: GradeSummary | None = None
    commitments: list[CreditCommitment] | None = None
    self_reports: list[SelfReport] | None = None
    has_grade_section: bool = field(default=False)


def _month(day: date) -> date:
    return day.replace(day=1)


def _months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1 if first <= last else 0


def _as_date(value) -> date | None:
    return date.fromisoformat(str(value)[:10]) if isinstance(value, str) else value


def credit_lines(session: Session, uscc: str, since: date | None = None) -> list[CreditLine]:
    """The enterprise's public-credit records (decided on or after `since`), newest first, with their repair state."""
    query = sa.select(PublicCreditEvent).where(PublicCreditEvent.uscc == uscc)
    if since is not None:
        query = query.where(PublicCreditEvent.decided_on >= since)
    events = session.scalars(query.order_by(PublicCreditEvent.decided_on.desc(), PublicCreditEvent.record_id)).all()
    applied = dict(session.execute(sa.select(RepairCase.record_id, RepairCase.applied_on).where(
        RepairCase.uscc == uscc, RepairCase.state == RepairState.APPLIED)).all())
    return [CreditLine(e.record_id, e.kind.value, e.severity.value, e.decided_on, e.repaired_on, applied.get(e.record_id))
            for e in events]


def _continuity(session: Session, uscc: str, start: date, end: date, established: date) -> list[ContinuityLine]:
    utility_late = (UtilityMonth.paid_fen < UtilityMonth.billed_fen) | (UtilityMonth.days_late >= 30)
    sources = (("tax", TaxMonth, TaxMonth.in_arrears.is_(True)),
               ("social_insurance", SocialInsuranceMonth, SocialInsuranceMonth.months_in_arrears > 0),
               ("housing_fund", HousingFundMonth, HousingFundMonth.in_arrears.is_(True)),
               ("utilities", UtilityMonth, utility_late))
    lines = []
    first_month = _month(max(start, established))
    for source, model, arrears in sources:
        # Expected up to the newest month this provider has delivered for anyone: a firm that stopped filing
        # shows the gap instead of a shorter window.
        newest = _as_date(session.scalar(sa.select(sa.func.max(model.month)).where(model.month <= end)))
        in_window = (model.uscc == uscc, model.month >= first_month, model.month <= end)
        held, first, last = session.execute(sa.select(sa.func.count(sa.distinct(model.month)), sa.func.min(model.month),
                                                      sa.func.max(model.month)).where(*in_window)).one()
        late = session.scalar(sa.select(sa.func.count(sa.distinct(model.month))).where(*in_window, arrears))
        expected = _months_between(first_month, newest) if newest else 0
        lines.append(ContinuityLine(source, expected, int(held or 0), _as_date(first), _as_date(last), int(late or 0)))
    return lines


def _grade(session: Session, uscc: str) -> GradeSummary | None:
    from xinyidai.domain.standing import latest_score  # the one latest-score definition

    score: Score | None = latest_score(session, uscc)
    if score is None:
        return None
    reasons = [(r.family, r.feature, r.contribution) for r in score.reasons[:TOP_REASONS]]
    return GradeSummary(score.grade, score.points, score.as_of, score.model_version, score.gates_passed,
                        list(score.failed_gates or []), reasons)


def gather(session: Session, enterprise: Enterprise, request: ReportRequest, today: date) -> ReportContents:
    """What the platform holds about the enterprise for the chosen sections and window."""
    start = years_before(today, request.years)
    contents = ReportContents(enterprise, request, start, today)
    chosen = set(request.sections)
    uscc = enterprise.uscc
    if "registry" in chosen:
        contents.registry = enterprise
    if "public_credit" in chosen:
        contents.public_credit = credit_lines(session, uscc, start)
    if "tax_ratings" in chosen:
        contents.tax_ratings = [(r.year, r.rating.value) for r in session.scalars(
            sa.select(TaxRating).where(TaxRating.uscc == uscc, TaxRating.year >= start.year)
            .order_by(TaxRating.year.desc()))]
    if "continuity" in chosen:
        contents.continuity = _continuity(session, uscc, start, today, enterprise.established_on)
    if "platform_grade" in chosen:
        contents.has_grade_section = True
        contents.grade = _grade(session, uscc)
    if "self_declared" in chosen:
        since = datetime(start.year, start.month, start.day, tzinfo=SHANGHAI)
        contents.commitments = list(session.scalars(
            sa.select(CreditCommitment).where(CreditCommitment.uscc == uscc, CreditCommitment.withdrawn_at.is_(None),
                                              CreditCommitment.made_at >= since)
            .order_by(CreditCommitment.made_at.desc())))
        contents.self_reports = list(session.scalars(
            sa.select(SelfReport).where(SelfReport.uscc == uscc, SelfReport.reported_at >= since)
            .order_by(SelfReport.reported_at.desc())))
    return contents


# ---------------------------------------------------------------- issuing

def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalise(text: str | None) -> str:
    """A number or code as typed: case, spaces and hyphens do not matter."""
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())


def code_hash(number: str, code: str) -> str:
    return hashlib.sha256(f"{normalise(number)}:{normalise(code)}".encode()).hexdigest()


def display_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


@dataclass(frozen=True)
class Header:
    """What the renderer prints in the report's header and verification block."""

    number: str
    code: str
    issued_at: datetime
    valid_until: datetime
    verify_url: str


@dataclass(frozen=True)
class Issued:
    report: CreditReport
    code: str
    pdf: bytes


Renderer = Callable[[ReportContents, Header], bytes]


def issue_report(session: Session, enterprise: Enterprise, request: ReportRequest, *, render: Renderer,
                 verify_url: Callable[[str, str], str], by_user_id: int | None = None, via: str = "web",
                 actor_label: str | None = None, remote_addr: str | None = None, now: datetime | None = None,
                 valid_days: int = VALID_DAYS) -> Issued:
    """Gather, render, keep the header and digest, audit. `verify_url(number, code)` is what the QR code opens."""
    now = now or utcnow()
    contents = gather(session, enterprise, request, shanghai_date(now))
    number = _new_number(session, now)
    code = _random(CODE_LENGTH)
    valid_until = now + timedelta(days=valid_days)
    pdf = render(contents, Header(number, display_code(code), now, valid_until, verify_url(number, display_code(code))))
    report = CreditReport(number=number, uscc=enterprise.uscc, enterprise_name=enterprise.name,
                          language=request.language, window_start=contents.window_start, window_end=contents.window_end,
                          sections=list(request.sections), issued_at=now, valid_until=valid_until,
                          digest=hashlib.sha256(pdf).hexdigest(), code_hash=code_hash(number, code),
                          issued_by_id=by_user_id, issued_via=via)
    session.add(report)
    session.flush()
    record(session, "credit_report_issued", actor_user_id=by_user_id, actor_label=actor_label, subject_uscc=enterprise.uscc,
           remote_addr=remote_addr, detail={"report_id": report.id, "number": number, "sections": list(request.sections),
                                            "years": request.years, "language": request.language,
                                            "digest": report.digest, "bytes": len(pdf)})
    return Issued(report, display_code(code), pdf)


def _new_number(session: Session, now: datetime) -> str:
    """XYD + issue date + a random part: numbers say nothing about how many reports the platform issued."""
    day = shanghai_date(now).strftime("%Y%m%d")
    while True:
        number = f"XYD{day}{_random(NUMBER_SUFFIX)}"
        if session.scalar(sa.select(CreditReport.id).where(CreditReport.number == number)) is None:
            return number


def reports_of(session: Session, uscc: str, limit: int = 50) -> list[CreditReport]:
    return list(session.scalars(sa.select(CreditReport).where(CreditReport.uscc == uscc)
                                .order_by(CreditReport.issued_at.desc(), CreditReport.id.desc()).limit(limit)))


class ReportNotFound(LookupError):
    """Not a report of this enterprise."""


def revoke_report(session: Session, uscc: str, report_id: int, user_id: int, now: datetime | None = None) -> bool:
    """The enterprise withdraws a report it issued (a bank checking it is told so). False if already revoked."""
    report = session.get(CreditReport, report_id)
    if report is None or report.uscc != uscc:
        raise ReportNotFound(report_id)
    if report.revoked_at is not None:
        return False
    report.revoked_at, report.revoked_by_id = now or utcnow(), user_id
    record(session, "credit_report_revoked", actor_user_id=user_id, subject_uscc=uscc,
           detail={"report_id": report.id, "number": report.number})
    session.flush()
    return True


# ---------------------------------------------------------------- checking a report

GENUINE, EXPIRED, REVOKED, UNKNOWN = "genuine", "expired", "revoked", "unknown"
OTHER_ENTERPRISE = "other_enterprise"


@dataclass(frozen=True)
class Verification:
    verdict: str
    report: CreditReport | None  # only when number and code both match: the header may then be shown
    file_matches: bool | None  # None: no file given

    @property
    def genuine(self) -> bool:
        return self.verdict == GENUINE


def verify_report(session: Session, number: str, code: str, *, file_bytes: bytes | None = None,
                  now: datetime | None = None, audit_action: str = "credit_report_verified",
                  actor_user_id: int | None = None, remote_addr: str | None = None, extra: dict | None = None) -> Verification:
    """Check a number and code (and the file, when given). A wrong code and an unknown number get one answer,
    so the page cannot be used to find out which numbers exist. Every check is audited."""
    now = now or utcnow()
    number = normalise(number)[:24]
    report = session.scalar(sa.select(CreditReport).where(CreditReport.number == number)) if number else None
    if report is None or not hmac.compare_digest(report.code_hash, code_hash(number, code)):
        verification = Verification(UNKNOWN, None, None)
    else:
        verdict = REVOKED if report.revoked_at is not None else EXPIRED if report.valid_until <= now else GENUINE
        matches = None if file_bytes is None else hmac.compare_digest(hashlib.sha256(file_bytes).hexdigest(), report.digest)
        verification = Verification(verdict, report, matches)
    record(session, audit_action, actor_user_id=actor_user_id, remote_addr=remote_addr,
           subject_uscc=verification.report.uscc if verification.report else None,
           detail={"number": number, "verdict": verification.verdict, "file_checked": file_bytes is not None,
                   "file_matches": verification.file_matches,
                   **({"report_id": verification.report.id} if verification.report else {}), **(extra or {})})
    return verification


def attach_to_application(session: Session, application: Application, number: str, code: str, *, user_id: int,
                          file_bytes: bytes | None = None, remote_addr: str | None = None) -> ReportAttachment:
    """A bank officer attaches a report the enterprise gave it: checked like /verify, and against the application's
    enterprise (a genuine report of another enterprise is not this applicant's)."""
    verification = verify_report(session, number, code, file_bytes=file_bytes, audit_action="credit_report_attached",
                                 actor_user_id=user_id, remote_addr=remote_addr,
                                 extra={"application_id": application.id})
    outcome = verification.verdict
    if verification.report is not None and verification.report.uscc != application.uscc:
        outcome = OTHER_ENTERPRISE
    attachment = ReportAttachment(application_id=application.id,
                                  report_id=verification.report.id if verification.report else None,
                                  number=normalise(number)[:32] or "-", outcome=outcome,
                                  file_matches=verification.file_matches, checked_by_id=user_id)
    session.add(attachment)
    session.flush()
    return attachment


def attachments_of(session: Session, application_id: int) -> list[tuple[ReportAttachment, CreditReport | None]]:
    rows = session.execute(sa.select(ReportAttachment, CreditReport)
                           .outerjoin(CreditReport, CreditReport.id == ReportAttachment.report_id)
                           .where(ReportAttachment.application_id == application_id)
                           .order_by(ReportAttachment.checked_at.desc(), ReportAttachment.id.desc())).all()
    return [(a, r) for a, r in rows]
