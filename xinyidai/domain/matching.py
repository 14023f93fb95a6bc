"""Matching a financing need against bank products (DESIGN §5): one engine for web, API and portal.

Every rule that fails says why, in Chinese and English, so "why not this product" is always sayable.
Eligible pairs are ranked by how well the product fits the need and by the enterprise's grade.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.audit import AuditEntry
from models.enterprise import Enterprise, EnterpriseStatus
from models.joint import InPrincipleAnswer
from models.lending import (
    Application,
    ApplicationEvent,
    ApplicationState,
    Channel,
    FinancingNeed,
    NeedStatus,
    Product,
    ProductStatus,
)
from models.scoring import (
    GRADE_SCALE,
    grade_at_least,
)
from xinyidai.domain.lifecycle import TERMINAL, Actor, transition
from xinyidai.domain.qualifications import NAMES as QUALIFICATION_NAMES
from xinyidai.domain.qualifications import held_for_needs
from xinyidai.domain.standing import Standing, latest_grade_of, standing_of


@dataclass(frozen=True)
class Reason:
    code: str
    zh: str
    en: str


@dataclass
class Fit:
    product: Product
    reasons: list[Reason] = field(default_factory=list)
    rank: float = 0.0

    @property
    def eligible(self) -> bool:
        return not self.reasons


def _yuan(fen: int) -> str:
    return f"{fen / 100:,.0f}"


# How much a preferred qualification the enterprise holds lifts a product's rank (0–1 scale), at most twice.
PREFERRED_BONUS = 0.05


def assess(need: FinancingNeed, enterprise: Enterprise, product: Product, standing: Standing, today: date,
           held: frozenset[str] = frozenset()) -> Fit:
    """Check one product against one need; every failing rule adds a reason. `held`: the qualifications the
    enterprise holds on the need's day (xinyidai.domain.qualifications.held_for_needs)."""
    fit = Fit(product)
    fail = fit.reasons.append
    if product.status is not ProductStatus.ACTIVE:
        fail(Reason("product_paused", "产品已暂停", "product is paused"))
    if need.amount_fen > product.max_amount_fen:
        fail(Reason("amount_above_max", f"金额高于产品上限 {_yuan(product.max_amount_fen)} 元",
                    f"amount above product maximum ({_yuan(product.max_amount_fen)} yuan)"))
    if need.amount_fen < product.min_amount_fen:
        fail(Reason("amount_below_min", f"金额低于产品下限 {_yuan(product.min_amount_fen)} 元",
                    f"amount below product minimum ({_yuan(product.min_amount_fen)} yuan)"))
    if not product.min_term_months <= need.term_months <= product.max_term_months:
        fail(Reason("term_out_of_range", f"期限不在 {product.min_term_months}–{product.max_term_months} 个月之间",
                    f"term outside {product.min_term_months}–{product.max_term_months} months"))
    if product.guarantee_type.value not in need.guarantee_types:
        fail(Reason("guarantee_not_accepted", f"需要“{product.guarantee_type.value}”担保方式，企业未接受",
                    f"product requires {product.guarantee_type.name.lower()} guarantee, which the need does not accept"))
    if product.eligible_districts and enterprise.district_code not in product.eligible_districts:
        fail(Reason("district_not_eligible", "企业所在区不在产品服务范围内", "enterprise's district is not eligible"))
    if product.eligible_industries and enterprise.industry_section not in product.eligible_industries:
        fail(Reason("industry_not_eligible", "企业所属行业不在产品支持范围内", "enterprise's industry is not eligible"))
    if enterprise.status is not EnterpriseStatus.OPERATING:
        fail(Reason("not_operating", "企业登记状态不是存续", "enterprise is not operating"))
    years = (today - enterprise.established_on).days / 365.25
    if years < product.min_years_operating:
        fail(Reason("too_young", f"经营年限不足 {product.min_years_operating} 年",
                    f"fewer than {product.min_years_operating} years operating"))
    if product.min_grade and not grade_at_least(standing.grade, product.min_grade):
        fail(Reason("grade_below_min", f"信用等级低于产品要求的 {product.min_grade}",
                    f"grade below the product's minimum {product.min_grade}"))
    if product.whitelist_only and not standing.whitelisted:
        fail(Reason("not_whitelisted", "产品仅面向白名单企业", "product is for whitelisted enterprises only"))
    for kind in product.required_qualifications or []:
        if kind not in held:
            zh, en = QUALIFICATION_NAMES.get(kind, (kind, kind))
            fail(Reason("qualification_required", f"需持有有效的{zh}证书", f"requires a valid {en} certificate"))
    if fit.eligible:
        preferred = sum(kind in held for kind in product.preferred_qualifications or [])
        fit.rank = round(min(1.0, _rank(need, product, standing) + PREFERRED_BONUS * min(preferred, 2)), 6)
    return fit


def _rank(need: FinancingNeed, product: Product, standing: Standing) -> float:
    """0–1: half how well the product fits the need (amount near the middle of its range, cheap rate,
    unsecured preferred), half the enterprise's grade — banks and enterprises read the same order."""
    span = max(product.max_amount_fen - product.min_amount_fen, 1)
    amount_fit = 1 - abs((need.amount_fen - product.min_amount_fen) / span - 0.5)
    rate_fit = max(0.0, 1 - product.min_rate_bp / 1500)
    unsecured = 1.0 if product.guarantee_type.value == "信用" else 0.6
    fit = (amount_fit + rate_fit + unsecured) / 3
    grade = (1 - GRADE_SCALE.index(standing.grade) / len(GRADE_SCALE)) if standing.grade in GRADE_SCALE else 0.3
    return round(0.5 * fit + 0.5 * grade, 6)


def match_need(session: Session, need: FinancingNeed, today: date | None = None) -> list[Fit]:
    """Every product of every active bank assessed against the need: eligible ones first, best first."""
    enterprise = session.get(Enterprise, need.uscc)
    standing = standing_of(session, need.uscc)
    today = today or date.today()
    products = session.scalars(sa.select(Product).order_by(Product.id))
    held = held_for_needs(session, [need], today).get(need.id, frozenset())
    fits = [assess(need, enterprise, product, standing, today, held) for product in products if product.bank.is_active]
    return sorted(fits, key=lambda f: (not f.eligible, -f.rank, len(f.reasons), f.product.id))


# Why a bank is not offered the same need again: it declined it, the enterprise took its application back,
# or it let the claim SLA lapse (the "second chance" goes to the other banks, never back to these).
TURNED_AWAY_REASONS = ("withdrawn_by_enterprise", "sla_lapsed")
SYSTEM = Actor(Channel.SYSTEM)


def turned_away_banks(session: Session, need_ids: list[int], bank_id: int | None = None) -> dict[int, set[int]]:
    """Per need, the banks that may not be offered it again (optionally asking about one bank only)."""
    if not need_ids:
        return {}
    withdrawn_for_cause = sa.exists().where(
        ApplicationEvent.application_id == Application.id, ApplicationEvent.to_state == ApplicationState.WITHDRAWN,
        ApplicationEvent.detail["reason"].as_string().in_(TURNED_AWAY_REASONS))
    query = sa.select(Application.need_id, Application.bank_id).where(
        Application.need_id.in_(need_ids),
        sa.or_(Application.state == ApplicationState.DECLINED,
               sa.and_(Application.state == ApplicationState.WITHDRAWN, withdrawn_for_cause)))
    if bank_id is not None:
        query = query.where(Application.bank_id == bank_id)
    banks: dict[int, set[int]] = {}
    for need_id, bank in session.execute(query):
        banks.setdefault(need_id, set()).add(bank)
    return banks


def within_contact_control(need: FinancingNeed, bank_id: int, live_banks: set[int], turned_away: set[int]) -> bool:
    """Whether `bank_id` may have the need in its pipeline, given the banks that already do (DESIGN §5: the
    enterprise says how many banks may contact it, and which)."""
    if bank_id in turned_away:
        return False
    return bank_id in live_banks or not need.max_contacts or len(live_banks) < need.max_contacts


def touched_application_ids(session: Session, applications: list[Application]) -> set[int]:
    """Matches someone already acted on: the enterprise applied, a transition was recorded, or a bank viewed the
    enterprise's detail through it. These are never deleted; they keep their history."""
    ids = [a.id for a in applications if a.id is not None]
    if not ids:
        return set()
    touched = {a.id for a in applications if a.applied_by_enterprise}
    touched.update(session.scalars(sa.select(ApplicationEvent.application_id)
                                   .where(ApplicationEvent.application_id.in_(ids)).distinct()))
    viewed = AuditEntry.detail["application_id"].as_integer()
    touched.update(session.scalars(sa.select(viewed).where(
        AuditEntry.action == "view_credit_detail", AuditEntry.subject_uscc == applications[0].uscc, viewed.in_(ids))))
    touched.update(session.scalars(sa.select(InPrincipleAnswer.application_id)  # answered in principle (预授信)
                                   .where(InPrincipleAnswer.application_id.in_(ids)).distinct()))
    return touched


@dataclass
class Rematch:
    """What re-running the matches of one need did."""

    fits: list[Fit]
    created: list[Application] = field(default_factory=list)
    withdrawn: list[Application] = field(default_factory=list)
    deleted: int = 0


def _offered(need: FinancingNeed, fits: list[Fit], existing: dict[int, Application], touched: set[int],
             turned_away: set[int], leaving: frozenset[int] = frozenset()) -> list[Fit]:
    """The eligible products whose banks may have the need, within the enterprise's contact control.

    Banks already handling the need hold their places; then matches someone already acted on, then the
    products the enterprise applied to, then the rest by rank. `leaving` are applications about to go.
    """
    live = [a for a in existing.values() if a.state not in TERMINAL and a.id not in leaving]
    banks = {a.bank_id for a in live if a.state is not ApplicationState.MATCHED}
    blocked = turned_away | {a.bank_id for a in existing.values() if a.id in leaving}

    def may_offer(fit: Fit) -> bool:
        current = existing.get(fit.product.id)
        if not fit.eligible or (current is not None and (current.state is not ApplicationState.MATCHED
                                                         or current.id in leaving)):
            return False
        return need.open_to_all_banks or (current is not None and current.applied_by_enterprise)

    def priority(fit: Fit) -> tuple[bool, bool]:
        current = existing.get(fit.product.id)
        return (current is None or current.id not in touched, current is None or not current.applied_by_enterprise)

    offered = []
    for fit in sorted((f for f in fits if may_offer(f)), key=priority):  # stable: rank order within a priority
        if within_contact_control(need, fit.product.bank_id, banks, blocked):
            banks.add(fit.product.bank_id)
            offered.append(fit)
    return offered


def _standing_matches(session: Session, need: FinancingNeed) -> tuple[dict[int, Application], set[int], set[int]]:
    existing = {a.product_id: a for a in session.scalars(
        sa.select(Application).where(Application.need_id == need.id).order_by(Application.id))}
    touched = touched_application_ids(session, list(existing.values()))
    return existing, touched, turned_away_banks(session, [need.id]).get(need.id, set())


def newcomers_without(session: Session, need: FinancingNeed, leaving: frozenset[int], today: date | None = None) -> list[Fit]:
    """The products that would newly get the need if the applications `leaving` went: who it would go to next."""
    existing, touched, turned_away = _standing_matches(session, need)
    offered = _offered(need, match_need(session, need, today), existing, touched, turned_away, leaving)
    return [f for f in offered if f.product.id not in existing]


def rematch(session: Session, need: FinancingNeed, today: date | None = None, *, actor: Actor = SYSTEM,
            by_enterprise: bool = False) -> Rematch:
    """Re-run the matches of an open need after the need, a product, a score or the contact control changed.

    Adds a `matched` application for each newly offered product and re-ranks the still-matched ones. A match
    no longer offered is deleted only when nobody has touched it; one a bank viewed or anyone acted on is
    withdrawn instead (by `actor`), keeping its history. Claimed applications and later ones are never touched.
    """
    result = Rematch(match_need(session, need, today))
    if need.status is not NeedStatus.OPEN:
        return result
    existing, touched, turned_away = _standing_matches(session, need)
    offered = _offered(need, result.fits, existing, touched, turned_away)
    for fit in offered:
        current = existing.get(fit.product.id)
        if current is None:
            application = Application(need_id=need.id, product_id=fit.product.id, bank_id=fit.product.bank_id,
                                      uscc=need.uscc, match_rank=fit.rank)
            session.add(application)
            result.created.append(application)
        else:
            current.match_rank = fit.rank
    kept = {f.product.id for f in offered}
    for product_id, application in existing.items():
        if application.state is not ApplicationState.MATCHED or product_id in kept:
            continue
        if application.id in touched:
            transition(session, application, ApplicationState.WITHDRAWN, actor, by_enterprise=by_enterprise,
                       detail={"reason": "no_longer_offered"})
            result.withdrawn.append(application)
        else:
            session.delete(application)
            result.deleted += 1
    session.flush()
    from xinyidai.domain import in_principle  # the policies answer the matches now standing (预授信)

    in_principle.refresh_need(session, need)
    return result


def refresh_matches(session: Session, need: FinancingNeed, today: date | None = None, *, actor: Actor = SYSTEM,
                    by_enterprise: bool = False) -> list[Fit]:
    """`rematch`, returning the assessed products (eligible first, best first)."""
    return rematch(session, need, today, actor=actor, by_enterprise=by_enterprise).fits


def latest_grades(session: Session, usccs: list[str] | None = None) -> dict[str, str]:
    """The latest grade of each scored enterprise that has an open need (of `usccs` only, when given)."""
    query = (sa.select(FinancingNeed.uscc, latest_grade_of(FinancingNeed.uscc)).distinct()
             .where(FinancingNeed.status == NeedStatus.OPEN))
    if usccs is not None:
        query = query.where(FinancingNeed.uscc.in_(usccs))
    return {uscc: grade for uscc, grade in session.execute(query) if grade is not None}


def rematch_enterprises(session: Session, usccs, today: date | None = None) -> int:
    """Re-run the matches of every open need of these enterprises, whose grade or whitelist listing changed
    (products with a minimum grade or a whitelist requirement may now take or lose them). Returns the needs."""
    usccs = sorted(set(usccs))
    if not usccs:
        return 0
    needs = session.scalars(sa.select(FinancingNeed).where(
        FinancingNeed.uscc.in_(usccs), FinancingNeed.status == NeedStatus.OPEN).order_by(FinancingNeed.id)).all()
    for need in needs:
        rematch(session, need, today)
    return len(needs)
