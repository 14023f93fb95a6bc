"""A bank's pipeline (its open matches) and worklist, every query filtered by the bank: what the bank pages and
the API's /applications read alike.

The pipeline is paged by an indexed walk of `ix_applications_bank_state (bank_id, state, created_at)`:
no sort of the whole pipeline, and one count of the filtered matches for the page's total, so a bank with 100,000 open matches pages in
milliseconds (bench/pipeline_bench.py measures it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import Session

from models.base import utcnow
from models.enterprise import Enterprise
from models.lending import Application, ApplicationEvent, ApplicationState, FinancingNeed, NeedStatus
from models.scoring import GRADE_SCALE
from xinyidai.domain.standing import latest_grade_of
from xinyidai.domain.whitelist import listed_expression
from xinyidai.domain.working_days import current_calendar

S = ApplicationState
SORTS = ("newest", "oldest", "rank")
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class PipelineFilters:
    district: str | None = None
    industry: str | None = None
    min_amount_fen: int | None = None
    max_amount_fen: int | None = None
    min_grade: str | None = None
    whitelisted: bool | None = None
    max_age_days: int | None = None
    product_id: int | None = None
    sort: str = "newest"


@dataclass(frozen=True)
class PipelineRow:
    application: Application
    need: FinancingNeed
    district_code: str
    industry_section: str
    size_class: str
    grade: str | None
    whitelisted: bool
    sla_due_at: datetime
    handed_on: bool = False  # another bank let the claim SLA lapse and the platform passed the need on


@dataclass
class Page:
    rows: list = field(default_factory=list)
    page: int = 1
    per_page: int = 25
    has_more: bool = False
    total: int | None = None  # the pipeline: every open match the filters let through
    applied: int | None = None  # … of which the enterprise applied to this bank's product itself


def pipeline_page(session: Session, bank_id: int, filters: PipelineFilters, *, page: int = 1, per_page: int = 25,
                  sla_working_days: int = 3, now: datetime | None = None) -> Page:
    """Open matches of the bank's products (applications `matched`, need still open), filtered and paged."""
    now = now or utcnow()
    page, per_page = max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)
    grade = latest_grade_of(Application.uscc)
    listed = listed_expression(Enterprise.uscc, Enterprise.district_code)
    order = {"newest": (Application.created_at.desc(), Application.id.desc()),
             "oldest": (Application.created_at.asc(), Application.id.asc()),
             "rank": (Application.match_rank.desc(), Application.id.desc())}[filters.sort if filters.sort in SORTS
                                                                              else "newest"]
    # First the page's ids (the bank's open matches, joined to enterprises only when a filter needs them),
    # then the page's rows with their enterprise, grade and whitelist: the expensive columns for 26 rows,
    # not for every open match of the bank (8 ms → 2 ms for a bank with 2,000 open matches).
    matches = (
        sa.select(Application.id)
        .join(FinancingNeed, FinancingNeed.id == Application.need_id)
        .where(Application.bank_id == bank_id, Application.state == S.MATCHED,
               FinancingNeed.status == NeedStatus.OPEN)
    )
    if filters.district or filters.industry or filters.whitelisted is not None:
        matches = matches.join(Enterprise, Enterprise.uscc == Application.uscc)
    matches = _filtered(matches, filters, grade, listed, now)
    counted = matches.add_columns(Application.applied_by_enterprise).subquery()
    total, applied = session.execute(sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((counted.c.applied_by_enterprise.is_(True), 1),
                                                              else_=0)), 0)).select_from(counted)).one()
    page_ids = list(session.scalars(matches.order_by(*order).offset((page - 1) * per_page).limit(per_page + 1)))
    rows = session.execute(
        sa.select(Application, FinancingNeed, Enterprise.district_code, Enterprise.industry_section,
                  Enterprise.size_class, grade.label("grade"), listed.label("whitelisted"))
        .join(FinancingNeed, FinancingNeed.id == Application.need_id)
        .join(Enterprise, Enterprise.uscc == Application.uscc)
        .where(Application.id.in_(page_ids)).order_by(*order)).all() if page_ids else []
    calendar = current_calendar()
    has_more, rows = len(rows) > per_page, rows[:per_page]
    handed_on = set(session.scalars(sa.select(ApplicationEvent.application_id).where(
        ApplicationEvent.application_id.in_([row[0].id for row in rows]), ApplicationEvent.to_state == S.MATCHED,
        ApplicationEvent.detail["reason"].as_string() == "sla_release"))) if rows else set()
    items = [PipelineRow(app, need, district, industry, getattr(size, "value", size), grade_value, bool(is_listed),
                         calendar.add_working_days(app.created_at, sla_working_days), app.id in handed_on)
             for app, need, district, industry, size, grade_value, is_listed in rows]
    return Page(items, page, per_page, has_more=has_more, total=int(total), applied=int(applied))


def _filtered(query, filters: PipelineFilters, grade, listed, now: datetime):
    if filters.district:
        query = query.where(Enterprise.district_code == filters.district)
    if filters.industry:
        query = query.where(Enterprise.industry_section == filters.industry)
    if filters.min_amount_fen is not None:
        query = query.where(FinancingNeed.amount_fen >= filters.min_amount_fen)
    if filters.max_amount_fen is not None:
        query = query.where(FinancingNeed.amount_fen <= filters.max_amount_fen)
    if filters.min_grade in GRADE_SCALE:
        query = query.where(grade.in_(GRADE_SCALE[: GRADE_SCALE.index(filters.min_grade) + 1]))
    if filters.whitelisted is not None:
        query = query.where(listed if filters.whitelisted else ~listed)
    if filters.max_age_days is not None:
        query = query.where(FinancingNeed.published_at >= now - timedelta(days=filters.max_age_days))
    if filters.product_id is not None:
        query = query.where(Application.product_id == filters.product_id)
    return query


def bank_applications(session: Session, bank_id: int, states: list[ApplicationState] | None = None, *,
                      page: int = 1, per_page: int = 25) -> Page:
    """The bank's applications beyond the open pipeline (its worklist), newest activity first."""
    page, per_page = max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)
    # the list shows each application's need and product: two IN queries instead of two per row
    query = (sa.select(Application).where(Application.bank_id == bank_id)
             .options(orm.selectinload(Application.need), orm.selectinload(Application.product)))
    if states:
        query = query.where(Application.state.in_(states))
    rows = list(session.scalars(query.order_by(Application.updated_at.desc(), Application.id.desc())
                                .offset((page - 1) * per_page).limit(per_page + 1)))
    return Page(rows[:per_page], page, per_page, has_more=len(rows) > per_page)
