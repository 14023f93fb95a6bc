"""The financing-results figures of DESIGN §7 for an office's districts, by month, bank, product,
industry, size class, district or tech class (科技型: the borrower's highest tech qualification valid on the
record's own date, xinyidai.domain.qualifications), with the small cells suppressed.

Every figure belongs to a *family* of records counted on one date:

| family     | records                                           | dated by                   |
|------------|---------------------------------------------------|----------------------------|
| needs      | financing needs published                         | published_at               |
| matched    | applications (a need paired with a product)        | created_at                 |
| claimed    | applications a bank claimed (受理)                 | claimed_at                 |
| approved   | applications approved (even if later withdrawn)    | the approval               |
| decided    | applications approved or declined (last decision)  | decided_at                 |
| disbursed  | loans disbursed                                    | disbursed_on               |
| guaranteed | loans disbursed on a platform guarantor's guarantee (银担合作) | disbursed_on     |
| book       | month-end loan reports of outstanding loans        | as_of (the period's last complete month, or each month) |
| whitelist  | entries of each district's published whitelist     | the version now published  |

Every table is suppressed by the one disclosure-control rule (xinyidai.domain.disclosure): a cell of
1–4 enterprises is hidden with every figure derived from the same records, and more rows are hidden
until the total minus the rows shown gives nothing away. Timestamps are grouped by Shanghai calendar month.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from models.base import SHANGHAI
from models.enterprise import Enterprise, SizeClass
from models.lending import (
    Application,
    ApplicationEvent,
    ApplicationState,
    Bank,
    FinancingNeed,
    GuaranteeType,
    LoanPerformance,
    LoanStatus,
    Product,
)
from models.scoring import WhitelistEntry, WhitelistVersion
from xinyidai.caching import highest_id
from xinyidai.domain import disclosure
from xinyidai.domain.disclosure import MIN_ENTERPRISES  # noqa: F401 - the pages say the threshold
from xinyidai.domain.qualifications import CLASS_NAMES, CLASS_ORDER, tech_class_column
from xinyidai.domain.scope import Filters, Scope, add_months, shanghai_month
from xinyidai.domain.whitelist import published_versions
from xinyidai.reference import INDUSTRY_SECTIONS, SHANGHAI_DISTRICTS

S = ApplicationState
OUTSTANDING = (LoanStatus.REPAYING, LoanStatus.OVERDUE, LoanStatus.DEFAULTED)


class Dimension(enum.StrEnum):
    MONTH = "month"
    BANK = "bank"
    PRODUCT = "product"
    INDUSTRY = "industry"
    SIZE = "size"
    DISTRICT = "district"
    GUARANTOR = "guarantor"
    TECH_CLASS = "tech_class"  # the borrower's highest tech qualification valid on the record's date


class Family(enum.StrEnum):
    NEEDS = "needs"
    MATCHED = "matched"
    CLAIMED = "claimed"
    APPROVED = "approved"
    DECIDED = "decided"
    DISBURSED = "disbursed"
    GUARANTEED = "guaranteed"
    BOOK = "book"
    WHITELIST = "whitelist"


# Families that cannot be split by a dimension: a need has no bank yet; a whitelist has no month or bank.
NOT_BY = {
    Dimension.BANK: {Family.NEEDS, Family.WHITELIST},
    Dimension.PRODUCT: {Family.NEEDS, Family.WHITELIST},
    Dimension.MONTH: {Family.WHITELIST},
    # By guarantor only the guaranteed loans: every other record has no guarantor.
    Dimension.GUARANTOR: set(Family) - {Family.GUARANTEED},
}


def _ratio(numerator: str, denominator: str, scale: float = 1.0):
    def compute(f: dict) -> float | None:
        return f[numerator] * scale / f[denominator] if f.get(denominator) else None
    return compute


def _measure(name: str):
    return lambda f: f.get(name, 0)


@dataclass(frozen=True)
class Kpi:
    key: str
    label: object
    family: Family
    unit: str  # count, wan (money in 万元), percent (a rate in percent), ratio (0…1), days
    compute: object


KPIS: tuple[Kpi, ...] = (
    Kpi("needs", _l("发布需求（笔）"), Family.NEEDS, "count", _measure("count")),
    Kpi("needs_amount", _l("需求金额（万元）"), Family.NEEDS, "wan", _measure("amount")),
    Kpi("matched", _l("匹配对接（笔）"), Family.MATCHED, "count", _measure("count")),
    Kpi("claimed", _l("银行受理（笔）"), Family.CLAIMED, "count", _measure("count")),
    Kpi("response_days", _l("平均首次响应（天）"), Family.CLAIMED, "days", _ratio("days", "count")),
    Kpi("approved", _l("审批通过（笔）"), Family.APPROVED, "count", _measure("count")),
    Kpi("decision_days", _l("平均审批用时（天）"), Family.DECIDED, "days", _ratio("days", "count")),
    Kpi("disbursed", _l("放款（笔）"), Family.DISBURSED, "count", _measure("count")),
    Kpi("disbursed_amount", _l("放款金额（万元）"), Family.DISBURSED, "wan", _measure("amount")),
    Kpi("avg_rate", _l("加权平均利率"), Family.DISBURSED, "percent", _ratio("rate_amount", "amount", 0.01)),
    Kpi("first_time", _l("首贷户（户）"), Family.DISBURSED, "count", _measure("first_time")),
    Kpi("credit_share", _l("信用贷款占比"), Family.DISBURSED, "ratio", _ratio("credit_amount", "amount")),
    Kpi("default_rate", _l("违约率"), Family.DISBURSED, "ratio", _ratio("defaulted", "count")),
    Kpi("guaranteed", _l("银担合作放款（笔）"), Family.GUARANTEED, "count", _measure("count")),
    Kpi("guaranteed_amount", _l("银担合作放款金额（万元）"), Family.GUARANTEED, "wan", _measure("amount")),
    Kpi("guarantee_fee", _l("加权平均担保费率"), Family.GUARANTEED, "percent", _ratio("fee_amount", "amount", 0.01)),
    Kpi("guarantee_coverage", _l("加权平均担保比例"), Family.GUARANTEED, "percent",
        _ratio("coverage_amount", "amount", 0.01)),
    Kpi("overdue_rate", _l("逾期率（按余额）"), Family.BOOK, "ratio", _ratio("overdue_amount", "outstanding")),
    Kpi("outstanding", _l("贷款余额（万元）"), Family.BOOK, "wan", _measure("outstanding")),
    Kpi("whitelist_size", _l("白名单企业（户）"), Family.WHITELIST, "count", _measure("count")),
    Kpi("whitelist_conversion", _l("白名单获贷率"), Family.WHITELIST, "ratio", _ratio("converted", "count")),
)
KPI_BY_KEY = {kpi.key: kpi for kpi in KPIS}


@dataclass
class Cell:
    value: float | int | None
    enterprises: int
    suppressed: bool = False
    pending: int = 0  # month-end figures: banks yet to report the month (the figure would read too low)

    @property
    def shown(self):
        return None if self.suppressed else self.value


@dataclass
class Row:
    key: object
    label_zh: str
    label_en: str
    cells: dict[str, Cell] = field(default_factory=dict)


@dataclass
class Table:
    dimension: Dimension
    kpis: list[Kpi]
    rows: list[Row]
    total: Row
    filters: Filters
    book_month: date | None = None
    as_of: datetime | None = None  # when its figures were read from the records (None: just now)

    def column(self, key: str) -> list[float | int | None]:
        return [row.cells[key].shown for row in self.rows]


# ---------------------------------------------------------------- SQL pieces that differ by backend

def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _month_of(session: Session, column, *, is_date: bool = False):
    """'YYYY-MM' of a timestamp in Shanghai time, or of a date."""
    if _dialect(session) == "postgresql":
        local = column if is_date else sa.func.timezone("Asia/Shanghai", column)
        return sa.func.to_char(local, "YYYY-MM")
    return sa.func.strftime("%Y-%m", column) if is_date else sa.func.strftime("%Y-%m", column, "+8 hours")


def _day_of(session: Session, column, *, is_date: bool = False):
    """The Shanghai calendar day of a timestamp (a date as it is)."""
    if is_date:
        return column
    if _dialect(session) == "postgresql":
        return sa.cast(sa.func.timezone("Asia/Shanghai", column), sa.Date)
    return sa.func.date(column, "+8 hours")


def _days_between(session: Session, start, end):
    if _dialect(session) == "postgresql":
        return sa.extract("epoch", end - start) / 86400.0
    return sa.func.julianday(end) - sa.func.julianday(start)


# ---------------------------------------------------------------- one family, grouped or in total

def _dimension_column(dimension: Dimension | None, month, application=Application, *, uscc=None, day=None):
    """The grouping key; `uscc` and `day` (the record's enterprise and Shanghai day) for the tech class."""
    if dimension is None:
        return sa.literal("total")
    if dimension is Dimension.TECH_CLASS:
        return tech_class_column(uscc, day)
    return {
        Dimension.MONTH: month,
        Dimension.BANK: getattr(application, "bank_id", None),
        Dimension.PRODUCT: getattr(application, "product_id", None),
        Dimension.INDUSTRY: Enterprise.industry_section,
        Dimension.SIZE: Enterprise.size_class,
        Dimension.DISTRICT: Enterprise.district_code,
        Dimension.GUARANTOR: getattr(application, "guarantor_id", None),
    }[dimension]


def _scoped(query, scope: Scope, filters: Filters, application=Application):
    query = query.where(Enterprise.district_code.in_(scope.districts))
    if filters.industry:
        query = query.where(Enterprise.industry_section == filters.industry)
    if filters.bank_id is not None and application is not None:
        query = query.where(application.bank_id == filters.bank_id)
    return query


def _distinct(column):
    return sa.func.count(sa.distinct(column))


def _sum(expression):
    return sa.func.coalesce(sa.func.sum(expression), 0)


def _family_query(session: Session, family: Family, scope: Scope, filters: Filters, dimension: Dimension | None,
                  book_month: date | None):
    """A SELECT of (key, measures…, enterprises) for one family; key is 'total' without a dimension."""
    start, end = filters.start_utc, filters.end_utc
    if family is Family.NEEDS:
        month = _month_of(session, FinancingNeed.published_at)
        key = _dimension_column(dimension, month, None, uscc=FinancingNeed.uscc,
                                day=_day_of(session, FinancingNeed.published_at))
        query = (sa.select(key.label("key"), sa.func.count().label("count"),
                           _sum(FinancingNeed.amount_fen).label("amount"), _distinct(FinancingNeed.uscc).label("enterprises"))
                 .join(Enterprise, Enterprise.uscc == FinancingNeed.uscc)
                 .where(FinancingNeed.published_at >= start, FinancingNeed.published_at < end))
        query = _scoped(query, scope, filters, None)
        if filters.bank_id is not None:
            query = query.where(FinancingNeed.id.in_(
                sa.select(Application.need_id).where(Application.bank_id == filters.bank_id)))
        return query
    if family is Family.MATCHED:
        return _application_family(session, Application.created_at, scope, filters, dimension, [])
    if family is Family.CLAIMED:
        return _application_family(session, Application.claimed_at, scope, filters, dimension, [
            _sum(_days_between(session, Application.created_at, Application.claimed_at)).label("days")])
    if family is Family.DECIDED:
        return _application_family(session, Application.decided_at, scope, filters, dimension, [
            _sum(_days_between(session, Application.created_at, Application.decided_at)).label("days")])
    if family is Family.DISBURSED:
        return _disbursed(session, scope, filters, dimension)
    if family is Family.GUARANTEED:
        return _guaranteed(session, scope, filters, dimension)
    if family is Family.APPROVED:
        return _approved(session, scope, filters, dimension)
    if family is Family.BOOK:
        return _book(session, scope, filters, dimension, book_month)
    return _whitelist(session, scope, filters, dimension)


def _application_family(session, dated, scope, filters, dimension, measures):
    month = _month_of(session, dated)
    key = _dimension_column(dimension, month, uscc=Application.uscc, day=_day_of(session, dated))
    query = (sa.select(key.label("key"), sa.func.count().label("count"), *measures,
                       _distinct(Application.uscc).label("enterprises"))
             .join(Enterprise, Enterprise.uscc == Application.uscc)
             .where(dated >= filters.start_utc, dated < filters.end_utc))
    return _scoped(query, scope, filters)


def _disbursed(session, scope, filters, dimension):
    month = _month_of(session, Application.disbursed_on, is_date=True)
    amount = Application.disbursed_amount_fen
    key = _dimension_column(dimension, month, uscc=Application.uscc, day=Application.disbursed_on)
    query = (sa.select(
        key.label("key"), sa.func.count().label("count"), _sum(amount).label("amount"),
        _sum(amount * Application.rate_bp).label("rate_amount"),
        _sum(sa.case((Application.guarantee_type == GuaranteeType.CREDIT, amount), else_=0)).label("credit_amount"),
        _distinct(sa.case((Application.first_loan.is_(True), Application.uscc))).label("first_time"),
        _sum(sa.case((Application.state == S.DEFAULTED, 1), else_=0)).label("defaulted"),
        _distinct(Application.uscc).label("enterprises"))
        .join(Enterprise, Enterprise.uscc == Application.uscc)
        .where(Application.disbursed_on >= filters.start, Application.disbursed_on < filters.end_day))
    return _scoped(query, scope, filters)


def _guaranteed(session, scope, filters, dimension):
    """银担合作: loans disbursed on a guarantee a platform guarantor accepted, with its fee and coverage."""
    month = _month_of(session, Application.disbursed_on, is_date=True)
    amount = Application.disbursed_amount_fen
    key = _dimension_column(dimension, month, uscc=Application.uscc, day=Application.disbursed_on)
    query = (sa.select(
        key.label("key"), sa.func.count().label("count"), _sum(amount).label("amount"),
        _sum(amount * Application.guarantee_fee_bp).label("fee_amount"),
        _sum(amount * Application.guarantee_coverage_bp).label("coverage_amount"),
        _distinct(Application.uscc).label("enterprises"))
        .join(Enterprise, Enterprise.uscc == Application.uscc)
        .where(Application.guarantor_id.is_not(None),
               Application.disbursed_on >= filters.start, Application.disbursed_on < filters.end_day))
    return _scoped(query, scope, filters)


def _approved(session, scope, filters, dimension):
    """Approvals: an application whose last decision is not a decline was approved at decided_at; one
    declined after its approval keeps the approval in its history (read from the event)."""
    period = lambda column: sa.and_(column >= filters.start_utc, column < filters.end_utc)  # noqa: E731
    kept = (sa.select(Application.uscc, Application.bank_id, Application.product_id,
                      Application.decided_at.label("approved_at"))
            .where(Application.decided_at.is_not(None), Application.state != S.DECLINED, period(Application.decided_at)))
    reversed_later = (sa.select(Application.uscc, Application.bank_id, Application.product_id,
                                ApplicationEvent.occurred_at.label("approved_at"))
                      .join(ApplicationEvent, ApplicationEvent.application_id == Application.id)
                      .where(Application.state == S.DECLINED, ApplicationEvent.to_state == S.APPROVED,
                             period(ApplicationEvent.occurred_at)))
    approvals = sa.union_all(kept, reversed_later).subquery("approvals")
    month = _month_of(session, approvals.c.approved_at)
    key = _dimension_column(dimension, month, approvals.c, uscc=approvals.c.uscc,
                            day=_day_of(session, approvals.c.approved_at))
    query = (sa.select(key.label("key"), sa.func.count().label("count"),
                       _distinct(approvals.c.uscc).label("enterprises"))
             .select_from(approvals).join(Enterprise, Enterprise.uscc == approvals.c.uscc))
    return _scoped(query, scope, filters, approvals.c)


def book_month_of(filters: Filters, today=None) -> date:
    """The month whose month-end reports describe the loan book at the end of the period: the period's
    last month once it has ended, otherwise the month before it."""
    current = shanghai_month(today)
    return filters.end if filters.end < current else add_months(current, -1)


def _book(session, scope, filters, dimension, book_month):
    month = _month_of(session, LoanPerformance.as_of, is_date=True)
    if dimension is Dimension.MONTH:
        first, after = filters.start, min(filters.end_day, add_months(book_month, 1))
    else:
        first, after = book_month, add_months(book_month, 1)
    overdue = LoanPerformance.days_past_due > 0
    key = _dimension_column(dimension, month, uscc=Application.uscc, day=LoanPerformance.as_of)
    query = (sa.select(
        key.label("key"), sa.func.count().label("count"),
        _sum(LoanPerformance.outstanding_fen).label("outstanding"),
        _sum(sa.case((overdue, LoanPerformance.outstanding_fen), else_=0)).label("overdue_amount"),
        _distinct(Application.uscc).label("enterprises"))
        .select_from(LoanPerformance)
        .join(Application, Application.id == LoanPerformance.application_id)
        .join(Enterprise, Enterprise.uscc == Application.uscc)
        .where(LoanPerformance.as_of >= first, LoanPerformance.as_of < after,
               LoanPerformance.status.in_(OUTSTANDING)))
    return _scoped(query, scope, filters)


def _whitelist(session, scope, filters, dimension):
    versions = published_versions(session, scope.districts)
    if not versions:
        return None
    since = sa.case({v.id: v.published_at.astimezone(SHANGHAI).date() for v in versions},
                    value=WhitelistEntry.whitelist_version_id)
    borrowed = sa.select(Application.id).where(Application.uscc == WhitelistEntry.uscc,
                                               Application.disbursed_on >= since)
    if filters.bank_id is not None:
        borrowed = borrowed.where(Application.bank_id == filters.bank_id)
    key = _dimension_column(dimension, None, None, uscc=WhitelistEntry.uscc, day=since)
    query = (sa.select(key.label("key"), sa.func.count().label("count"),
                       _sum(sa.case((sa.exists(borrowed), 1), else_=0)).label("converted"),
                       sa.func.count().label("enterprises"))
             .select_from(WhitelistEntry).join(Enterprise, Enterprise.uscc == WhitelistEntry.uscc)
             .where(WhitelistEntry.whitelist_version_id.in_([v.id for v in versions])))
    return _scoped(query, scope, filters, None)


def family_figures(session: Session, family: Family, scope: Scope, filters: Filters,
                   dimension: Dimension | None, book_month: date) -> dict[object, dict]:
    """{key: {measure: value, "enterprises": n}} for one family (key "total" without a dimension)."""
    query = _family_query(session, family, scope, filters, dimension, book_month)
    if query is None:
        return {}
    if dimension is not None:
        query = query.group_by(sa.literal_column("key"))
    figures = {}
    for row in session.execute(query).mappings():
        values = {k: (float(v) if k in ("days",) else int(v or 0)) for k, v in row.items() if k != "key"}
        if values.get("enterprises") or dimension is None:
            figures[_plain_key(row["key"])] = values
    return figures


def _plain_key(key):
    return getattr(key, "value", key)


# ---------------------------------------------------------------- the table a view shows

def kpis_for(dimension: Dimension) -> list[Kpi]:
    excluded = NOT_BY.get(dimension, set())
    return [kpi for kpi in KPIS if kpi.family not in excluded]


def build_table(session: Session, scope: Scope, filters: Filters, dimension: Dimension, today=None, *,
                figures=None) -> Table:
    """The view's table. `figures(family, dimension, book_month)` gives one family's figures like
    `family_figures` (default: straight from SQL; the pre-aggregated cube passes its own)."""
    if figures is None:
        def figures(family, by, book_month):
            return family_figures(session, family, scope, filters, by, book_month)
    kpis = kpis_for(dimension)
    families = list(dict.fromkeys(kpi.family for kpi in kpis))
    book_month = book_month_of(filters, today)
    grouped = {f: figures(f, dimension, book_month) for f in families}
    totals = {f: figures(f, None, book_month).get("total", {}) for f in families}
    keys = _row_keys(session, scope, filters, dimension, grouped, book_month)
    labels = _labels(session, dimension, keys)
    rows = [Row(key, *labels[key], _cells(kpis, {f: grouped[f].get(key, {}) for f in families})) for key in keys]
    total = Row("total", "合计", "Total", _cells(kpis, totals))
    _suppress(rows, total, families, kpis)
    if Family.BOOK in families:
        _mark_unreported(session, scope, filters, dimension, rows, total, kpis, book_month)
    return Table(dimension, kpis, rows, total, filters, book_month)


def banks_yet_to_report(session: Session, scope: Scope, filters: Filters, month: date) -> set[int]:
    """The banks with a loan on their book in `month` (disbursed by its end and not repaid or written off
    before it) that have not yet sent a single month-end report for it."""
    start, after = month, add_months(month, 1)
    closed_before = sa.exists().where(LoanPerformance.application_id == Application.id, LoanPerformance.as_of < start,
                                      LoanPerformance.status.in_((LoanStatus.REPAID, LoanStatus.WRITTEN_OFF)))
    lending = _scoped(sa.select(Application.bank_id).join(Enterprise, Enterprise.uscc == Application.uscc)
                      .where(Application.disbursed_on < after, ~closed_before), scope, filters)
    reported = _scoped(sa.select(Application.bank_id).join(Enterprise, Enterprise.uscc == Application.uscc)
                       .join(LoanPerformance, LoanPerformance.application_id == Application.id)
                       .where(LoanPerformance.as_of >= start, LoanPerformance.as_of < after), scope, filters)
    return set(session.scalars(lending.distinct())) - set(session.scalars(reported.distinct()))


def _mark_unreported(session, scope, filters, dimension, rows, total, kpis, book_month) -> None:
    """Month-end figures of a month some banks have not reported are "not yet reported", never a zero."""
    keys = [kpi.key for kpi in kpis if kpi.family is Family.BOOK]

    def mark(cells, count):
        for key in keys:
            cells[key].pending = count

    missing = banks_yet_to_report(session, scope, filters, book_month)
    mark(total.cells, len(missing))
    for row in rows:
        if dimension is Dimension.MONTH:
            mark(row.cells, len(banks_yet_to_report(session, scope, filters, date.fromisoformat(f"{row.key}-01"))))
        elif dimension is Dimension.BANK:
            mark(row.cells, int(row.key in missing))
        elif dimension is Dimension.PRODUCT:
            bank = session.scalar(sa.select(Product.bank_id).where(Product.id == row.key))
            mark(row.cells, int(bank in missing))
        else:
            mark(row.cells, len(missing))


def _cells(kpis: list[Kpi], figures: dict[Family, dict]) -> dict[str, Cell]:
    cells = {}
    for kpi in kpis:
        f = figures.get(kpi.family) or {}
        n = int(f.get("enterprises", 0))
        cells[kpi.key] = Cell(kpi.compute(f) if f else (0 if kpi.unit in ("count", "wan") else None), n)
    return cells


# A figure computed from another family's records shares its fate: the average time to a decision stands
# next to the approvals, most of whose records it averages over.
LINKED_FAMILIES = ({Family.APPROVED, Family.DECIDED},)


def disclosure_groups(families: list[Family], kpis: list[Kpi]) -> list[list[str]]:
    """The KPI keys hidden together in a row: a family's figures, linked families merged."""
    merged: list[set[Family]] = []
    for family in families:
        linked = next((set(group) & set(families) for group in LINKED_FAMILIES if family in group), {family})
        if linked not in merged:
            merged.append(linked)
    return [[kpi.key for kpi in kpis if kpi.family in group] for group in merged]


def _suppress(rows: list[Row], total: Row, families: list[Family], kpis: list[Kpi]) -> None:
    disclosure.suppress([row.cells for row in rows], total.cells, disclosure_groups(families, kpis))


def _row_keys(session, scope, filters, dimension, grouped, book_month) -> list:
    present = {key for figures in grouped.values() for key in figures}
    if dimension is Dimension.MONTH:
        return [f"{m:%Y-%m}" for m in filters.months]
    if dimension is Dimension.DISTRICT:
        return list(scope.districts)
    if dimension is Dimension.TECH_CLASS:
        return list(CLASS_ORDER)  # every class, a zero included: 科技型 lending is reported even when none
    if dimension is Dimension.SIZE:
        return [size.value for size in SizeClass if size.value in present] or []
    if dimension is Dimension.INDUSTRY:
        return sorted(present)
    if dimension is Dimension.BANK:
        banks = session.scalars(sa.select(Bank.id).where(sa.or_(Bank.is_active, Bank.id.in_(present)))
                                .order_by(Bank.code)).all()
        return [b for b in banks if filters.bank_id in (None, b)]
    if dimension is Dimension.GUARANTOR:
        from models.guarantee import Guarantor

        return list(session.scalars(sa.select(Guarantor.id).where(sa.or_(Guarantor.is_active, Guarantor.id.in_(present)))
                                    .order_by(Guarantor.code)))
    products = session.execute(sa.select(Product.id).join(Bank, Bank.id == Product.bank_id)
                               .where(Product.id.in_(present)).order_by(Bank.code, Product.code)).scalars().all()
    return list(products)


def _labels(session, dimension, keys) -> dict:
    if dimension is Dimension.MONTH:
        return {k: (k, k) for k in keys}
    if dimension is Dimension.DISTRICT:
        return {k: SHANGHAI_DISTRICTS[k] for k in keys}
    if dimension is Dimension.TECH_CLASS:
        return {k: (CLASS_NAMES[k][0], CLASS_NAMES[k][1][:1].upper() + CLASS_NAMES[k][1][1:]) for k in keys}
    if dimension is Dimension.INDUSTRY:
        return {k: (f"{k} {INDUSTRY_SECTIONS[k][0]}", f"{k} {INDUSTRY_SECTIONS[k][1]}") if k in INDUSTRY_SECTIONS
                else (k, k) for k in keys}
    if dimension is Dimension.SIZE:
        english = {"大": "Large", "中": "Medium", "小": "Small", "微": "Micro"}
        return {k: (f"{k}型", english.get(k, k)) for k in keys}
    if dimension is Dimension.BANK:
        rows = session.execute(sa.select(Bank.id, Bank.name_zh, Bank.name_en).where(Bank.id.in_(keys))).all()
        return {i: (zh, en) for i, zh, en in rows}
    if dimension is Dimension.GUARANTOR:
        from models.guarantee import Guarantor

        rows = session.execute(sa.select(Guarantor.id, Guarantor.name_zh, Guarantor.name_en)
                               .where(Guarantor.id.in_(keys))).all()
        return {i: (zh, en) for i, zh, en in rows}
    rows = session.execute(sa.select(Product.id, Product.name_zh, Product.name_en, Bank.name_zh, Bank.name_en)
                           .join(Bank, Bank.id == Product.bank_id).where(Product.id.in_(keys))).all()
    return {i: (f"{pzh}（{bzh}）", f"{pen} ({ben})") for i, pzh, pen, bzh, ben in rows}


# ---------------------------------------------------------------- the data's version

# Audit actions that change what the figures count without adding an application, event, need, delivery
# or whitelist version (a month-end loan report that restates the state; a whitelist confirmed or published).
DATA_ACTIONS = ("loan_status_reported", "whitelist_confirmed", "whitelist_published")


def data_version(session: Session) -> tuple:
    """Highest ids of every table the figures read (each an index lookup): a change to the records, made
    through the platform, changes this tuple and so invalidates every cached table."""
    from models.audit import AuditEntry
    from models.sources import Delivery

    return tuple(session.execute(sa.select(
        highest_id(Application.id), highest_id(ApplicationEvent.id), highest_id(FinancingNeed.id),
        highest_id(Delivery.id), highest_id(WhitelistVersion.id),
        highest_id(AuditEntry.id, AuditEntry.action.in_(DATA_ACTIONS)),
    )).one())
