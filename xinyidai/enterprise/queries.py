"""Read-side queries of the enterprise portal, every one filtered by the caller's USCC.

The score, grade, reasons and whitelist come straight from the scoring tables (Score, ScoreReason,
WhitelistVersion/Entry, WhitelistPolicy), which are the contract with the scoring engine.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import Session

from models.audit import AuditEntry
from models.base import utcnow
from models.consent import Authorization
from models.enterprise import CreditCommitment, Enterprise, SelfReport
from models.guarantee import Guarantor
from models.identity import User
from models.lending import Application, ApplicationEvent, ApplicationState, Bank, FinancingNeed
from models.scoring import Score, WhitelistEntry, WhitelistVersion
from models.sources import (
    AgriculturalOperator,
    EnvironmentalRating,
    HousingFundMonth,
    IntellectualProperty,
    PublicCreditEvent,
    Severity,
    SocialInsuranceMonth,
    Source,
    TaxMonth,
    TaxRating,
    UtilityKind,
    UtilityMonth,
)
from xinyidai.caching import remembered
from xinyidai.domain import lifecycle
from xinyidai.domain.banks import serves_enterprises
from xinyidai.domain.credit_policy import annual_fee_bp
from xinyidai.domain.matching import Fit
from xinyidai.domain.qualifications import certificates
from xinyidai.domain.standing import latest_score
from xinyidai.domain.whitelist import latest_published, policy_of

S = ApplicationState
MONTHS_SHOWN = 24
MIN_RECORD_SAMPLE = 5  # a bank's record is shown from this many decisions / responses on
AFTER_APPROVAL = (S.APPROVED, S.DISBURSED, S.REPAYING, S.REPAID, S.OVERDUE, S.DEFAULTED)


# ---------------------------------------------------------------- score and whitelist

@dataclass
class Standing:
    score: Score | None
    whitelist: WhitelistVersion | None  # the district's latest published list
    listed: bool
    min_grade: str | None  # the district's threshold


def standing(session: Session, enterprise: Enterprise) -> Standing:
    whitelist = latest_published(session, enterprise.district_code)
    listed = whitelist is not None and session.get(WhitelistEntry, (whitelist.id, enterprise.uscc)) is not None
    policy = policy_of(session, enterprise.district_code)
    return Standing(latest_score(session, enterprise.uscc), whitelist, listed,
                    policy.min_grade if policy else (whitelist.min_grade if whitelist else None))


# ---------------------------------------------------------------- the data held, month by month

@dataclass
class DataHeld:
    tax: list[TaxMonth]
    ratings: list[TaxRating]
    social: list[SocialInsuranceMonth]
    housing: list[HousingFundMonth]
    electricity: list[UtilityMonth]
    utilities_late: list[UtilityMonth]
    public_credit: list[PublicCreditEvent]
    coverage: dict[Source, tuple[int, date | None, date | None]] = field(default_factory=dict)
    # The later sources (DESIGN §13): everything delivered, newest first.
    intellectual_property: list = field(default_factory=list)
    qualifications: list = field(default_factory=list)
    environmental_ratings: list = field(default_factory=list)
    agricultural_operators: list = field(default_factory=list)


def _months(session: Session, model, uscc: str, *where) -> list:
    rows = session.scalars(sa.select(model).where(model.uscc == uscc, *where).order_by(model.month.desc())
                           .limit(MONTHS_SHOWN))
    return list(rows)[::-1]


def data_held(session: Session, uscc: str) -> DataHeld:
    late = (UtilityMonth.days_late > 0) | (UtilityMonth.paid_fen < UtilityMonth.billed_fen)
    held = DataHeld(
        tax=_months(session, TaxMonth, uscc),
        ratings=list(session.scalars(sa.select(TaxRating).where(TaxRating.uscc == uscc).order_by(TaxRating.year.desc()))),
        social=_months(session, SocialInsuranceMonth, uscc),
        housing=_months(session, HousingFundMonth, uscc),
        electricity=_months(session, UtilityMonth, uscc, UtilityMonth.kind == UtilityKind.ELECTRICITY),
        utilities_late=_months(session, UtilityMonth, uscc, late),
        public_credit=list(session.scalars(sa.select(PublicCreditEvent).where(PublicCreditEvent.uscc == uscc)
                                           .order_by(PublicCreditEvent.decided_on.desc()))),
    )
    monthly = ((Source.TAX, TaxMonth), (Source.SOCIAL_INSURANCE, SocialInsuranceMonth),
               (Source.HOUSING_FUND, HousingFundMonth), (Source.UTILITIES, UtilityMonth))
    coverage = {source: (count, first, last) for source, count, first, last in session.execute(sa.union_all(*(
        sa.select(sa.literal(source.value), sa.func.count(sa.distinct(model.month)), sa.func.min(model.month),
                  sa.func.max(model.month)).where(model.uscc == uscc)
        for source, model in monthly)))}  # one round trip for the four sources
    for source, _model in monthly:
        count, first, last = coverage[source.value]
        held.coverage[source] = (count, _as_date(first), _as_date(last))
    held.intellectual_property = list(session.scalars(
        sa.select(IntellectualProperty).where(IntellectualProperty.uscc == uscc)
        .order_by(IntellectualProperty.applied_on.desc(), IntellectualProperty.number)))
    held.qualifications = certificates(session, uscc)
    held.environmental_ratings = list(session.scalars(sa.select(EnvironmentalRating).where(
        EnvironmentalRating.uscc == uscc).order_by(EnvironmentalRating.year.desc())))
    held.agricultural_operators = list(session.scalars(sa.select(AgriculturalOperator).where(
        AgriculturalOperator.uscc == uscc).order_by(AgriculturalOperator.recognized_on.desc())))
    return held


def _as_date(value) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Advice:
    problem: str
    action: str


def advice(held: DataHeld, score: Score | None, today: date, locale: str = "zh") -> list[Advice]:
    """What the enterprise can do about what the data shows: repair records, clear arrears."""
    from flask_babel import gettext as _

    from xinyidai.domain.vocabulary import FAMILY_ADVICE, PUBLIC_CREDIT_KIND, gate_text, reason_family

    items = [Advice(*gate_text(gate, locale)) for gate in (score.failed_gates if score else [])]
    unrepaired = [e for e in held.public_credit if e.repaired_on is None and e.severity is not Severity.MINOR]
    if unrepaired:
        kinds = _("、").join(sorted({str(PUBLIC_CREDIT_KIND[e.kind]) for e in unrepaired}))
        items.append(Advice(_("有 %(count)s 条未修复的公共信用记录（%(kinds)s）", count=len(unrepaired), kinds=kinds),
                            _("完成整改后，通过“信用中国（上海）”申请信用修复；修复后评分会相应提高。")))
    recent = [m for m in held.tax[-12:] if m.in_arrears]
    if recent:
        items.append(Advice(_("近 12 个月有 %(count)s 个月欠税", count=len(recent)),
                            _("尽快结清欠税和滞纳金，之后按月按时申报缴纳。")))
    if held.ratings and held.ratings[0].rating.value in ("C", "D"):
        items.append(Advice(_("%(year)s 年纳税信用等级为 %(rating)s", year=held.ratings[0].year,
                              rating=held.ratings[0].rating.value),
                            _("纠正失信行为后可申请纳税信用修复；按时申报缴税可逐年提升等级。")))
    if held.social and held.social[-1].months_in_arrears > 0:
        items.append(Advice(_("社会保险欠缴 %(count)s 个月", count=held.social[-1].months_in_arrears),
                            _("补缴欠费，之后按月足额缴纳。")))
    if held.housing and held.housing[-1].in_arrears:
        items.append(Advice(_("住房公积金存在欠缴"), _("补缴欠缴的公积金，之后按月缴存。")))
    late = [u for u in held.utilities_late if (today - u.month).days <= 190]
    if late:
        items.append(Advice(_("近 6 个月有 %(count)s 笔水电气账单逾期或未缴清", count=len(late)),
                            _("结清水电气欠费并按时缴纳，可设置自动扣款。")))
    covered: set[str] = set()
    for reason in (score.reasons if score else []):
        if reason.contribution > 0 and reason.family in FAMILY_ADVICE and reason.family not in covered:
            covered.add(reason.family)
            items.append(Advice(_("“%(family)s”方面拉低了评分", family=reason_family(reason.family, locale)),
                                str(FAMILY_ADVICE[reason.family])))
    return items


# ---------------------------------------------------------------- what banks may see, and what they saw

def authorizations(session: Session, uscc: str) -> list[Authorization]:
    return list(session.scalars(sa.select(Authorization).where(Authorization.uscc == uscc)
                                .order_by(Authorization.granted_at.desc(), Authorization.id.desc())))


@dataclass
class BankVisibility:
    bank: Bank
    sources: set[str]
    until: date | None  # the last day (Shanghai) the longest of those authorizations runs


def visibility_by_bank(session: Session, uscc: str, now: datetime | None = None) -> list[BankVisibility]:
    """For each participating bank: which sources its live authorizations cover, and until when."""
    now = now or utcnow()
    live = [a for a in authorizations(session, uscc) if a.is_live(now)]
    rows = []
    for bank in session.scalars(sa.select(Bank).where(serves_enterprises()).order_by(Bank.code)):
        covering = [a for a in live if a.names_bank(bank.id)]
        rows.append(BankVisibility(bank, {s for a in covering for s in a.sources},
                                   max((a.last_day for a in covering), default=None)))
    return rows


@dataclass(frozen=True)
class DataView:
    at: datetime
    bank: Bank | None
    channel: str
    sources: list[str]
    authorization_id: int | None


def data_views(session: Session, uscc: str, limit: int = 100) -> list[DataView]:
    """Which bank looked at the enterprise's credit detail and when (the audit log's view records)."""
    entries = list(session.scalars(sa.select(AuditEntry).where(AuditEntry.subject_uscc == uscc,
                                                               AuditEntry.action == "view_credit_detail")
                                   .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc()).limit(limit)))
    bank_ids = {e.detail.get("bank_id") for e in entries if e.detail.get("bank_id")}
    banks = {b.id: b for b in session.scalars(sa.select(Bank).where(Bank.id.in_(bank_ids)))} if bank_ids else {}
    guarantor_ids = {e.detail.get("guarantor_id") for e in entries if e.detail.get("guarantor_id")}
    guarantors = ({g.id: g for g in session.scalars(sa.select(Guarantor).where(Guarantor.id.in_(guarantor_ids)))}
                  if guarantor_ids else {})
    # `bank` names whoever looked: a bank, or a guarantee institution the authorization named
    return [DataView(e.occurred_at, banks.get(e.detail.get("bank_id")) or guarantors.get(e.detail.get("guarantor_id")),
                     e.detail.get("channel", "web"), e.detail.get("sources", []), e.authorization_id) for e in entries]


# ---------------------------------------------------------------- offers and the banks' records

@dataclass(frozen=True)
class BankRecord:
    median_response_hours: float | None
    responses: int
    approval_rate: float | None
    decisions: int


RECORD_REFRESH_SECONDS = 300  # the published records are at most this old: one computation for every worker


def bank_records(session: Session, bank_ids: set[int]) -> dict[int, BankRecord]:
    """Each bank's published record on the platform: median time from match to claim (受理), and the
    share of its decisions after claiming that were approvals. Small samples are not shown (None).

    Every bank's record is computed in one pass over the platform's history and shared through the cache
    (xinyidai.caching) for a few minutes: a median over months of claims does not move with one more."""
    if not bank_ids:
        return {}
    records = remembered("bank_records", (), lambda: _all_bank_records(session), timeout=RECORD_REFRESH_SECONDS)
    empty = BankRecord(None, 0, None, 0)
    return {bank_id: records.get(bank_id, empty) for bank_id in bank_ids}


def _all_bank_records(session: Session) -> dict[int, BankRecord]:
    waits: dict[int, list[float]] = defaultdict(list)
    for bank_id, created, claimed in session.execute(
            sa.select(Application.bank_id, Application.created_at, Application.claimed_at)
            .where(Application.claimed_at.is_not(None))):
        waits[bank_id].append(max((claimed - created).total_seconds() / 3600, 0.0))
    outcomes = sa.case((ApplicationEvent.to_state == S.APPROVED, 1), else_=0)
    decided: dict[int, tuple[int, int]] = {}
    for bank_id, approved, total in session.execute(
            sa.select(Application.bank_id, sa.func.sum(outcomes), sa.func.count())
            .join(ApplicationEvent, ApplicationEvent.application_id == Application.id)
            .where(ApplicationEvent.from_state.in_([S.CLAIMED, S.GUARANTEE_REQUESTED, S.GUARANTEED]),
                   ApplicationEvent.to_state.in_([S.APPROVED, S.DECLINED]))
            .group_by(Application.bank_id)):
        decided[bank_id] = (int(approved or 0), int(total))
    records = {}
    for bank_id in waits.keys() | decided.keys():
        hours, (approved, total) = waits.get(bank_id, []), decided.get(bank_id, (0, 0))
        records[bank_id] = BankRecord(
            statistics.median(hours) if len(hours) >= MIN_RECORD_SAMPLE else None, len(hours),
            approved / total if total >= MIN_RECORD_SAMPLE else None, total)
    return records


@dataclass(frozen=True)
class Offer:
    fit: Fit
    application: Application | None
    min_cost_bp: int
    max_cost_bp: int
    record: BankRecord | None


def offers(session: Session, need: FinancingNeed, fits: list[Fit]) -> list[Offer]:
    """The eligible products for the need, each with its annualised cost (rate plus fee) and its bank's record."""
    eligible = [f for f in fits if f.eligible]
    applications = {a.product_id: a for a in session.scalars(sa.select(Application).where(Application.need_id == need.id))}
    records = bank_records(session, {f.product.bank_id for f in eligible})
    return [Offer(f, applications.get(f.product.id),
                  f.product.min_rate_bp + annual_fee_bp(f.product, need.term_months),
                  f.product.max_rate_bp + annual_fee_bp(f.product, need.term_months),
                  records.get(f.product.bank_id)) for f in eligible]


NEAR_MISS_MAX_REASONS = 2
NOT_WORTH_SAYING = {"product_paused"}


def near_misses(fits: list[Fit], limit: int = 8) -> list[Fit]:
    """Products that fail on one or two sayable rules ("amount above product maximum")."""
    near = [f for f in fits if not f.eligible and len(f.reasons) <= NEAR_MISS_MAX_REASONS
            and not {r.code for r in f.reasons} & NOT_WORTH_SAYING]
    return near[:limit]


# ---------------------------------------------------------------- needs, applications, time lines

@dataclass(frozen=True)
class NeedRow:
    need: FinancingNeed
    matched: int  # applications of any state: the banks that had the need offered
    in_progress: int  # claimed, approved or disbursed


IN_PROGRESS = tuple(lifecycle.IN_PROGRESS)


def needs(session: Session, uscc: str) -> list[NeedRow]:
    rows = list(session.scalars(sa.select(FinancingNeed).where(FinancingNeed.uscc == uscc)
                                .order_by(FinancingNeed.published_at.desc(), FinancingNeed.id.desc())))
    counts: dict[int, dict[S, int]] = defaultdict(dict)
    if rows:
        for need_id, state, count in session.execute(
                sa.select(Application.need_id, Application.state, sa.func.count())
                .where(Application.uscc == uscc).group_by(Application.need_id, Application.state)):
            counts[need_id][state] = count
    return [NeedRow(need, sum(counts[need.id].values()), sum(counts[need.id].get(s, 0) for s in IN_PROGRESS))
            for need in rows]


def applications(session: Session, uscc: str, need_id: int | None = None) -> list[Application]:
    query = (sa.select(Application).where(Application.uscc == uscc)
             .options(orm.selectinload(Application.need), orm.selectinload(Application.product)))
    if need_id is not None:
        query = query.where(Application.need_id == need_id)
    return list(session.scalars(query.order_by(Application.updated_at.desc(), Application.id.desc())))


@dataclass(frozen=True)
class Step:
    at: datetime
    state: ApplicationState
    by: str  # "bank", "guarantor", "enterprise" or "platform"
    channel: str
    detail: dict


def _who(event: ApplicationEvent, own_users: set[int]) -> str:
    if event.to_state is S.GUARANTEED or event.from_state is S.GUARANTEE_REQUESTED and event.to_state is S.CLAIMED:
        return "guarantor"  # the guarantor's answer (its user, or the platform recording it)
    if event.actor_token_id is not None or (event.actor_user_id and event.actor_user_id not in own_users):
        return "bank"
    if event.actor_user_id in own_users:
        return "enterprise"
    return "platform"


def own_user_ids(session: Session, uscc: str) -> set[int]:
    return set(session.scalars(sa.select(User.id).where(User.enterprise_uscc == uscc)))


def timeline(session: Session, application: Application) -> list[Step]:
    """The application's history, oldest first; the match itself when no event recorded it."""
    own = own_user_ids(session, application.uscc)
    steps = [Step(e.occurred_at, e.to_state, _who(e, own), e.channel.value, e.detail or {}) for e in application.events]
    if not any(step.state is S.MATCHED for step in steps):
        steps.insert(0, Step(application.created_at, S.MATCHED, "platform", "system", {}))
    return steps


# ---------------------------------------------------------------- what the enterprise says itself

def commitments(session: Session, uscc: str) -> list[CreditCommitment]:
    return list(session.scalars(sa.select(CreditCommitment).where(CreditCommitment.uscc == uscc)
                                .order_by(CreditCommitment.made_at.desc(), CreditCommitment.id.desc())))


def self_reports(session: Session, uscc: str) -> list[SelfReport]:
    return list(session.scalars(sa.select(SelfReport).where(SelfReport.uscc == uscc)
                                .order_by(SelfReport.reported_at.desc(), SelfReport.id.desc())))


def staff(session: Session, uscc: str) -> list[User]:
    return list(session.scalars(sa.select(User).where(User.enterprise_uscc == uscc).order_by(User.created_at, User.id)))
