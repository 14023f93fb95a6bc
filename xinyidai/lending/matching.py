"""Matching a financing need against bank products (DESIGN §5): one engine for web, API and portal.

Every rule that fails says why, in Chinese and English, so "why not this product" is always sayable.
Eligible pairs are ranked by how well the product fits the need and by the enterprise's grade.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.enterprise import Enterprise, EnterpriseStatus
from models.lending import Application, ApplicationState, FinancingNeed, NeedStatus, Product, ProductStatus
from models.scoring import (
    GRADE_SCALE,
    Score,
    WhitelistEntry,
    WhitelistStatus,
    WhitelistVersion,
    grade_at_least,
)


@dataclass(frozen=True)
class Reason:
    code: str
    zh: str
    en: str


@dataclass
class Standing:
    """What the rules need to know about the enterprise beyond the registry."""

    grade: str | None = None
    whitelisted: bool = False


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


def assess(need: FinancingNeed, enterprise: Enterprise, product: Product, standing: Standing, today: date) -> Fit:
    """Check one product against one need; every failing rule adds a reason."""
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
    fit.rank = _rank(need, product, standing) if fit.eligible else 0.0
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


def standing_of(session: Session, uscc: str) -> Standing:
    """The enterprise's latest grade and whether the latest published whitelist of its district lists it."""
    grade = session.scalar(sa.select(Score.grade).where(Score.uscc == uscc).order_by(Score.scored_at.desc()).limit(1))
    latest = (
        sa.select(WhitelistVersion.id)
        .join(Enterprise, Enterprise.district_code == WhitelistVersion.district_code)
        .where(Enterprise.uscc == uscc, WhitelistVersion.status == WhitelistStatus.PUBLISHED)
        .order_by(WhitelistVersion.published_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    listed = session.scalar(
        sa.select(sa.func.count()).select_from(WhitelistEntry).where(
            WhitelistEntry.whitelist_version_id == latest, WhitelistEntry.uscc == uscc)
    )
    return Standing(grade=grade, whitelisted=bool(listed))


def match_need(session: Session, need: FinancingNeed, today: date | None = None) -> list[Fit]:
    """Every product of every active bank assessed against the need: eligible ones first, best first."""
    enterprise = session.get(Enterprise, need.uscc)
    standing = standing_of(session, need.uscc)
    today = today or date.today()
    products = session.scalars(sa.select(Product).order_by(Product.id))
    fits = [assess(need, enterprise, product, standing, today) for product in products if product.bank.is_active]
    return sorted(fits, key=lambda f: (not f.eligible, -f.rank, len(f.reasons), f.product.id))


def refresh_matches(session: Session, need: FinancingNeed, today: date | None = None) -> list[Fit]:
    """Create a `matched` application for each newly eligible product of an open need; a still-`matched`
    application whose product no longer fits is withdrawn from the pipeline by the system."""
    fits = match_need(session, need, today)
    if need.status is not NeedStatus.OPEN:
        return fits
    existing = {a.product_id: a for a in session.scalars(sa.select(Application).where(Application.need_id == need.id))}
    for fit in fits:
        current = existing.get(fit.product.id)
        if fit.eligible and current is None:
            session.add(Application(need_id=need.id, product_id=fit.product.id, bank_id=fit.product.bank_id,
                                    uscc=need.uscc, match_rank=fit.rank))
        elif fit.eligible and current.state is ApplicationState.MATCHED:
            current.match_rank = fit.rank
        elif not fit.eligible and current is not None and current.state is ApplicationState.MATCHED:
            session.delete(current)
    session.flush()
    return fits
