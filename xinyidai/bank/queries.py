"""The bank's dashboard, filtered by the caller's bank (its pipeline and worklist: xinyidai.domain.pipeline)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import utcnow
from models.lending import Application, ApplicationEvent, ApplicationState, FinancingNeed, NeedStatus, Product
from xinyidai.caching import lending_version, remembered
from xinyidai.domain.working_days import current_calendar

S = ApplicationState


# ---------------------------------------------------------------- the dashboard

@dataclass
class ProductFigures:
    product_id: int
    code: str
    name_zh: str
    name_en: str
    matched: int = 0
    claimed: int = 0
    approved: int = 0
    declined: int = 0
    disbursed: int = 0
    defaulted: int = 0
    disbursed_fen: int = 0

    @property
    def approval_rate(self) -> float | None:
        decided = self.approved + self.declined_before_approval
        return self.approved / decided if decided else None

    declined_before_approval: int = 0

    @property
    def default_rate(self) -> float | None:
        return self.defaulted / self.disbursed if self.disbursed else None


@dataclass
class Dashboard:
    funnel: dict[str, int]
    products: list[ProductFigures]
    sla_working_days: int
    claims: int
    claimed_within_sla: int
    median_claim_working_days: float | None
    mean_claim_hours: float | None
    open_past_sla: int

    @property
    def within_sla_rate(self) -> float | None:
        return self.claimed_within_sla / self.claims if self.claims else None


DASHBOARD_MAX_AGE_SECONDS = 60  # the open-past-SLA count moves with the clock as well as with the data


def shared_dashboard(session: Session, bank_id: int, *, sla_working_days: int) -> Dashboard:
    """The bank's dashboard as of now, computed once per change of the pipeline (xinyidai.caching) rather
    than once per page view: it reads every application the bank ever had."""
    return remembered("bank_dashboard", (bank_id, sla_working_days, lending_version(session)),
                      lambda: dashboard(session, bank_id, sla_working_days=sla_working_days),
                      timeout=DASHBOARD_MAX_AGE_SECONDS)


def dashboard(session: Session, bank_id: int, *, sla_working_days: int, now: datetime | None = None) -> Dashboard:
    """Funnel matched → claimed → approved → disbursed, claim times against the SLA, rates by product."""
    now = now or utcnow()
    ever_approved = (sa.select(ApplicationEvent.application_id)
                     .where(ApplicationEvent.to_state == S.APPROVED).scalar_subquery())
    was_approved = Application.id.in_(ever_approved)
    count_if = lambda condition: sa.func.sum(sa.case((condition, 1), else_=0))  # noqa: E731
    rows = session.execute(
        sa.select(Product.id, Product.code, Product.name_zh, Product.name_en,
                  sa.func.count(Application.id),
                  count_if(Application.claimed_at.is_not(None)),
                  count_if(was_approved),
                  count_if(Application.state == S.DECLINED),
                  count_if(sa.and_(Application.state == S.DECLINED, ~was_approved)),
                  count_if(Application.disbursed_on.is_not(None)),
                  count_if(Application.state == S.DEFAULTED),
                  sa.func.coalesce(sa.func.sum(Application.disbursed_amount_fen), 0))
        .select_from(Product)
        .outerjoin(Application, sa.and_(Application.product_id == Product.id, Application.bank_id == bank_id))
        .where(Product.bank_id == bank_id)
        .group_by(Product.id, Product.code, Product.name_zh, Product.name_en)
        .order_by(Product.code)
    ).all()
    products = [ProductFigures(pid, code, zh, en, int(m or 0), int(c or 0), int(a or 0), int(d or 0), int(disb or 0),
                               int(dflt or 0), int(amount or 0), declined_before_approval=int(dba or 0))
                for pid, code, zh, en, m, c, a, d, dba, disb, dflt, amount in rows]
    funnel = {key: sum(getattr(p, key) for p in products) for key in ("matched", "claimed", "approved", "disbursed")}
    claims = session.execute(sa.select(Application.created_at, Application.claimed_at)
                             .where(Application.bank_id == bank_id, Application.claimed_at.is_not(None))).all()
    calendar = current_calendar()
    waits = sorted(calendar.working_days_between(created, claimed) for created, claimed in claims)
    hours = [(claimed - created).total_seconds() / 3600 for created, claimed in claims]
    within = sum(1 for created, claimed in claims if claimed <= calendar.add_working_days(created, sla_working_days))
    cutoff = calendar.add_working_days(now, -sla_working_days)
    open_past_sla = session.scalar(
        sa.select(sa.func.count()).select_from(Application).join(FinancingNeed, FinancingNeed.id == Application.need_id)
        .where(Application.bank_id == bank_id, Application.state == S.MATCHED,
               FinancingNeed.status == NeedStatus.OPEN, Application.created_at < cutoff)
    )
    median = None
    if waits:
        middle = len(waits) // 2
        median = float(waits[middle]) if len(waits) % 2 else (waits[middle - 1] + waits[middle]) / 2
    return Dashboard(funnel, products, sla_working_days, len(claims), within, median,
                     sum(hours) / len(hours) if hours else None, int(open_past_sla or 0))
