"""One feature row per enterprise as of a date, from the provider data of DESIGN §3.

The same code serves training (as of each loan's disbursement date) and scoring (as of the data end).
Only data a lender could have seen before the as-of date counts:

- a month of tax, social-insurance, housing-fund or utility data is dated by its last day, so it is
  visible when the month ended before the as-of date (months before the as-of date's month);
- a public-credit record when it was decided before the as-of date, its repair when that came before it;
- a year's tax credit rating once published (纳税信用等级: by the end of April of the next year);
- a patent or trademark counts as applied for from its application day and as granted from its grant day,
  a qualification from its issue day through its expiry day, a new-type agricultural operator from its
  recognition until its revocation — each only when that day came before the as-of date;
- a year's environmental credit rating once published (环保信用评价: by the end of June of the next year).

Work is vectorised: each source is aggregated by the database (one GROUP BY per source over every
enterprise), and the few remaining steps run on whole pandas columns. "No record" stays NaN: an
enterprise without housing-fund months gets NaN housing-fund features, never 0. Counts of public-credit
records are 0 when there is none, because the public-credit source covers every enterprise; so are the
counts of patents and trademarks and the qualification and agricultural-operator flags (the patent office
and the recognising departments list every holder: not being listed is a fact, 0). The environmental
rating alone stays NaN without a record: most enterprises are not under environmental supervision, and
"not rated" is not a grade.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from models.enterprise import Enterprise
from models.sources import (
    AgriculturalOperator,
    EnvironmentalRating,
    HousingFundMonth,
    IntellectualProperty,
    PublicCreditEvent,
    Qualification,
    SocialInsuranceMonth,
    TaxMonth,
    TaxRating,
    UtilityMonth,
)

WINDOW = 12  # months of monthly data behind most features
LOOKBACK = 24  # months searched for the most recent arrears
RATING_PUBLISHED = (5, 1)  # a year's rating is visible from 1 May of the next year
RATING_ORDER = {"A": 0, "B": 1, "M": 2, "C": 3, "D": 4}  # the official order, best first
ENV_RATING_PUBLISHED = (7, 1)  # a year's environmental rating is visible from 1 July of the next year
ENV_ORDER = {"绿": 0, "蓝": 1, "黄": 2, "红": 3}  # best first
AGRI_LEVEL_ORDER = {"区级": 1, "市级": 2, "国家级": 3}  # none recorded: 0
QUALIFICATION_FEATURES = {"高新技术企业": "qual_high_tech", "科技型中小企业": "qual_tech_sme",
                          "专精特新": "qual_specialised", "科技小巨人": "qual_little_giant"}
SIZE_ORDER = {"大": 0, "中": 1, "小": 2, "微": 3}
SECTIONS = "ABCDEFGHIJKLMNOPQRST"  # GB/T 4754-2017 sections, coded 0…19
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Feature:
    name: str
    family: str  # tax, employment, utilities, public_credit, age_size (ml.reasons.FAMILIES)
    direction: int  # +1: a higher value means a higher PD; -1: lower; 0: not known (no constraint)
    zh: str
    en: str
    source: str = "registry"  # the delivery it is computed from (xinyidai.ingest.sources declares each)


FEATURES: tuple[Feature, ...] = (
    Feature("tax_coverage", "tax", -1, "纳税申报完整度", "share of months with tax filings", source="tax"),
    Feature("sales_level", "tax", -1, "开票销售额水平", "invoiced sales level", source="tax"),
    Feature("sales_trend", "tax", -1, "近半年开票销售额走势", "invoiced sales trend over six months", source="tax"),
    Feature("sales_slope", "tax", -1, "开票销售额月度斜率", "monthly slope of invoiced sales", source="tax"),
    Feature("sales_volatility", "tax", 1, "开票销售额波动", "volatility of invoiced sales", source="tax"),
    Feature("sales_growth_yoy", "tax", -1, "开票销售额同比增长", "invoiced sales year on year", source="tax"),
    Feature("zero_sales_months", "tax", 1, "零开票月数", "months without invoiced sales", source="tax"),
    Feature("tax_paid_months", "tax", -1, "有纳税月数", "months with tax paid", source="tax"),
    Feature("tax_arrears_months", "tax", 1, "欠税月数", "months in tax arrears", source="tax"),
    Feature("tax_arrears_recency", "tax", -1, "欠税记录的时效", "how recent any tax arrears are", source="tax"),
    Feature("tax_rating", "tax", 1, "纳税信用等级", "tax credit rating", source="tax_rating"),
    Feature("headcount_level", "employment", -1, "参保人数", "insured headcount", source="social_insurance"),
    Feature("headcount_trend", "employment", -1, "参保人数变化", "change in insured headcount", source="social_insurance"),
    Feature("si_coverage", "employment", -1, "社保缴费完整度", "share of months with social insurance", source="social_insurance"),
    Feature("si_arrears_max", "employment", 1, "社保最长欠缴月数", "longest social-insurance arrears", source="social_insurance"),
    Feature("si_arrears_months", "employment", 1, "社保欠缴月数", "months in social-insurance arrears", source="social_insurance"),
    Feature("si_arrears_recency", "employment", -1, "社保欠缴的时效", "how recent any social-insurance arrears are", source="social_insurance"),
    Feature("hf_contributors_level", "employment", -1, "公积金缴存人数", "housing-fund contributors", source="housing_fund"),
    Feature("hf_contributors_trend", "employment", -1, "公积金缴存人数变化", "change in housing-fund contributors", source="housing_fund"),
    Feature("hf_arrears_months", "employment", 1, "公积金欠缴月数", "months in housing-fund arrears", source="housing_fund"),
    Feature("hf_arrears_recency", "employment", -1, "公积金欠缴的时效", "how recent any housing-fund arrears are", source="housing_fund"),
    Feature("electricity_trend", "utilities", -1, "用电量走势", "electricity use trend", source="utilities"),
    Feature("utility_usage_trend", "utilities", -1, "水电气用量走势", "water, power and gas use trend", source="utilities"),
    Feature("electricity_days_late", "utilities", 1, "近半年电费平均逾期天数",
            "average days late on electricity bills, last six months", source="utilities"),
    Feature("utility_days_late_max", "utilities", 1, "水电气最长逾期天数", "longest delay on a utility bill", source="utilities"),
    Feature("utility_unpaid_months", "utilities", 1, "水电气欠费月数", "utility bills left unpaid", source="utilities"),
    Feature("utility_unpaid_recency", "utilities", -1, "水电气欠费的时效", "how recent any unpaid utility bill is", source="utilities"),
    Feature("pc_minor_penalties", "public_credit", 1, "轻微行政处罚", "minor administrative penalties", source="public_credit"),
    Feature("pc_penalties", "public_credit", 1, "一般及以上行政处罚", "administrative penalties", source="public_credit"),
    Feature("pc_serious_penalties", "public_credit", 1, "严重行政处罚", "serious administrative penalties", source="public_credit"),
    Feature("pc_abnormal_listings", "public_credit", 1, "经营异常名录", "listings as operating abnormally", source="public_credit"),
    Feature("pc_dishonest_debtor", "public_credit", 1, "失信被执行人", "listings as a dishonest judgment debtor", source="public_credit"),
    Feature("pc_serious_violation", "public_credit", 1, "严重违法失信名单", "listings for serious violations", source="public_credit"),
    Feature("pc_repaired", "public_credit", 0, "已修复信用记录", "repaired credit records", source="public_credit"),
    Feature("pc_record_recency", "public_credit", -1, "未修复信用记录的时效", "how recent any unrepaired record is", source="public_credit"),
    Feature("age_years", "age_size", -1, "成立年限", "years in business", source="registry"),
    Feature("registered_capital", "age_size", -1, "注册资本", "registered capital", source="registry"),
    Feature("size_class", "age_size", 1, "企业规模", "enterprise size", source="registry"),
    Feature("industry_section", "age_size", 0, "所属行业", "industry"),
    Feature("ip_invention_patents", "innovation", -1, "已授权发明专利", "granted invention patents",
            source="intellectual_property"),
    Feature("ip_other_patents", "innovation", -1, "已授权实用新型和外观设计专利",
            "granted utility-model and design patents", source="intellectual_property"),
    Feature("ip_patent_applications", "innovation", 0, "在审专利申请", "patent applications pending",
            source="intellectual_property"),
    Feature("ip_trademarks", "innovation", -1, "注册商标", "registered trademarks", source="intellectual_property"),
    Feature("qual_high_tech", "innovation", -1, "有效的高新技术企业认定", "a valid high-tech enterprise certificate",
            source="qualifications"),
    Feature("qual_tech_sme", "innovation", -1, "有效的科技型中小企业评价", "a valid tech-based SME certificate",
            source="qualifications"),
    Feature("qual_specialised", "innovation", -1, "有效的专精特新认定",
            "a valid specialised-and-innovative (专精特新) certificate", source="qualifications"),
    Feature("qual_little_giant", "innovation", -1, "有效的科技小巨人认定", "a valid little-giant certificate",
            source="qualifications"),
    Feature("env_rating", "environment", 1, "环保信用评价等级", "environmental credit rating",
            source="environmental_rating"),
    Feature("agri_operator", "agriculture", -1, "新型农业经营主体认定", "recognition as a new-type agricultural operator",
            source="agricultural_operator"),
    Feature("agri_level", "agriculture", -1, "农业经营主体示范级别", "level of the agricultural recognition",
            source="agricultural_operator"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_BY_NAME = {f.name: f for f in FEATURES}
CATEGORICAL = ("industry_section",)
MONOTONE = {f.name: f.direction for f in FEATURES if f.direction}

LENIENT_KINDS = ("行政处罚", "经营异常名录")


def month_add(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def window_end(as_of: date) -> date:
    """First month that is not visible as of `as_of` (months are dated by their last day)."""
    return as_of.replace(day=1)


def env_year_visible(as_of: date) -> int:
    """The latest environmental rating year published by `as_of`."""
    return as_of.year - 1 if (as_of.month, as_of.day) >= ENV_RATING_PUBLISHED else as_of.year - 2


def rating_year_visible(as_of: date) -> int:
    """The latest rating year published by `as_of`."""
    return as_of.year - 1 if (as_of.month, as_of.day) >= RATING_PUBLISHED else as_of.year - 2


def data_end_as_of(session: Session, *, max_age: float | None = None) -> date:
    """The as-of date that sees every delivered month: the first day after the newest tax month.

    Finding it scans the tax table's index, so on-demand scoring passes `max_age` (seconds) to reuse a
    recent answer for the same database."""
    key = (session.get_bind().engine.url.render_as_string(hide_password=True), os.getpid())
    if max_age is not None and key in _DATA_END and time.monotonic() - _DATA_END[key][1] < max_age:
        return _DATA_END[key][0]
    newest = session.scalar(sa.select(sa.func.max(TaxMonth.month)))
    if isinstance(newest, str):  # SQLite returns the aggregate as text
        newest = date.fromisoformat(newest)
    answer = month_add(newest, 1) if newest is not None else date.today()
    _DATA_END[key] = (answer, time.monotonic())
    return answer


_DATA_END: dict[tuple, tuple[date, float]] = {}


# ---------------------------------------------------------------- how the window appears in SQL


class _Bounds:
    """Window bounds as SQL expressions: bind parameters when every row shares one as-of date, columns
    of the temporary query table when each row (a loan) has its own. `month(-k)` is the first day of the
    month k months before the window end; the window end itself is `month(0)`."""

    key = uscc = as_of = rating_year = env_year = None

    def month(self, offset: int):
        raise NotImplementedError

    def select(self, table, columns, *, since: int | None):
        """GROUP BY the query key over `table`'s rows from `since` months before the window end up to it
        (`since=None`: every row of the enterprise)."""
        raise NotImplementedError


class _SharedBounds(_Bounds):
    """One as-of date for every row, as bind parameters: the statements are built once and reused, which
    keeps an on-demand rescore from paying for SQL construction every time."""

    OFFSETS = (0, 3, 6, 9, WINDOW, LOOKBACK)

    def __init__(self, filtered: bool):
        self.filtered = filtered
        self.as_of = sa.bindparam("as_of", type_=sa.Date)
        self.rating_year = sa.bindparam("rating_year", type_=sa.Integer)
        self.env_year = sa.bindparam("env_year", type_=sa.Integer)
        self._months = {-k: sa.bindparam(f"m{k}", type_=sa.Date) for k in self.OFFSETS}

    def month(self, offset: int):
        return self._months[offset]

    def select(self, table, columns, *, since: int | None):
        query = sa.select(table.c.uscc.label("key"), *columns).group_by(table.c.uscc)
        if since is not None:
            query = query.where(table.c.month >= self.month(since), table.c.month < self.month(0))
        if self.filtered:
            query = query.where(table.c.uscc.in_(sa.bindparam("usccs", expanding=True)))
        return query

    @classmethod
    def params(cls, as_of: date, usccs: list[str] | None) -> dict:
        end = window_end(as_of)
        values = {"as_of": as_of, "rating_year": rating_year_visible(as_of), "env_year": env_year_visible(as_of),
                  **{f"m{k}": month_add(end, -k) for k in cls.OFFSETS}}
        if usccs is not None:
            values["usccs"] = usccs
        return values


@functools.cache
def _shared_statement(builder, filtered: bool):
    return builder(_SharedBounds(filtered))


class _QueryTableBounds(_Bounds):
    def __init__(self, queries: sa.Table):
        self.q = queries
        self.as_of, self.rating_year, self.env_year = queries.c.as_of, queries.c.rating_year, queries.c.env_year

    def month(self, offset: int):
        return self.q.c[f"m{-offset}"] if offset else self.q.c.window_end

    def select(self, table, columns, *, since: int | None):
        condition = table.c.uscc == self.q.c.uscc
        if since is not None:
            condition &= (table.c.month >= self.month(since)) & (table.c.month < self.month(0))
        return (sa.select(self.q.c.qid.label("key"), *columns)
                .select_from(self.q.join(table, condition)).group_by(self.q.c.qid))


# ---------------------------------------------------------------- aggregates per source


def _when(condition, value, otherwise=None):
    return sa.case((condition, value), else_=otherwise)


def _count_if(condition):
    return sa.func.sum(sa.case((condition, 1), else_=0))


class months_before(ColumnElement):
    """(day - end) in average months, negative before the window end: one cheap date difference per row
    (strftime-based month arithmetic costs SQLite several times more)."""

    type = sa.Float()
    inherit_cache = True
    # Both operands are part of the statement's cache key (and their bind parameters are extracted).
    _traverse_internals = [("day", InternalTraversal.dp_clauseelement), ("end", InternalTraversal.dp_clauseelement)]

    def __init__(self, day, end):
        self.day, self.end = day, end


@compiles(months_before)
def _months_before_default(element, compiler, **kw):
    return f"(({compiler.process(element.day, **kw)} - {compiler.process(element.end, **kw)}) / 30.4375)"


@compiles(months_before, "sqlite")
def _months_before_sqlite(element, compiler, **kw):
    return (f"((julianday({compiler.process(element.day, **kw)}) - julianday({compiler.process(element.end, **kw)}))"
            " / 30.4375)")


def _series_aggregates(prefix: str, value, month, bounds: _Bounds, *, in_window=None) -> list:
    """Sums from which level, half-year trend, linear slope and residual volatility follow (no per-row fetch)."""
    window = month >= bounds.month(-WINDOW) if in_window is None else in_window
    t = months_before(month, bounds.month(0))
    v = _when(window, value)
    return [
        sa.func.count(v).label(f"{prefix}_n"),
        sa.func.sum(v).label(f"{prefix}_sx"),
        sa.func.sum(v * v).label(f"{prefix}_sxx"),
        sa.func.sum(_when(window, t)).label(f"{prefix}_st"),
        sa.func.sum(_when(window, t * t)).label(f"{prefix}_stt"),
        sa.func.sum(v * t).label(f"{prefix}_stx"),
        sa.func.avg(_when(window & (month >= bounds.month(-6)), value)).label(f"{prefix}_late"),
        sa.func.avg(_when(window & (month < bounds.month(-6)), value)).label(f"{prefix}_early"),
    ]


def _tax(bounds: _Bounds):
    t = TaxMonth.__table__
    sales = sa.func.ln(t.c.invoiced_sales_fen / 100.0 + 1000.0)
    in_window = t.c.month >= bounds.month(-WINDOW)
    return bounds.select(t, [
        *_series_aggregates("sales", sales, t.c.month, bounds),
        sa.func.sum(_when(~in_window, t.c.invoiced_sales_fen / 100.0)).label("sales_prior_sum"),
        sa.func.count(_when(~in_window, t.c.month)).label("sales_prior_n"),
        sa.func.sum(_when(in_window, t.c.invoiced_sales_fen / 100.0)).label("sales_sum"),
        _count_if(in_window & (t.c.invoiced_sales_fen == 0)).label("zero_sales_months"),
        _count_if(in_window & (t.c.tax_paid_fen > 0)).label("tax_paid_months"),
        _count_if(in_window & t.c.in_arrears).label("tax_arrears_months"),
        sa.func.max(_when(t.c.in_arrears, t.c.month)).label("tax_last_arrears"),
    ], since=-LOOKBACK)


def _social_insurance(bounds: _Bounds):
    t = SocialInsuranceMonth.__table__
    return bounds.select(t, [
        sa.func.count(t.c.month).label("si_n"),
        sa.func.avg(_when(t.c.month >= bounds.month(-3), t.c.insured_headcount)).label("si_last3"),
        sa.func.avg(_when(t.c.month < bounds.month(-9), t.c.insured_headcount)).label("si_first3"),
        sa.func.max(t.c.months_in_arrears).label("si_arrears_max"),
        _count_if(t.c.months_in_arrears > 0).label("si_arrears_months"),
        sa.func.max(_when(t.c.months_in_arrears > 0, t.c.month)).label("si_last_arrears"),
    ], since=-WINDOW)


def _housing_fund(bounds: _Bounds):
    t = HousingFundMonth.__table__
    return bounds.select(t, [
        sa.func.count(t.c.month).label("hf_n"),
        sa.func.avg(_when(t.c.month >= bounds.month(-3), t.c.contributors)).label("hf_last3"),
        sa.func.avg(_when(t.c.month < bounds.month(-9), t.c.contributors)).label("hf_first3"),
        _count_if(t.c.in_arrears).label("hf_arrears_months"),
        sa.func.max(_when(t.c.in_arrears, t.c.month)).label("hf_last_arrears"),
    ], since=-WINDOW)


def _utilities(bounds: _Bounds):
    t = UtilityMonth.__table__
    late = t.c.month >= bounds.month(-6)
    power = t.c.kind == "electricity"
    use = sa.func.ln(t.c.consumption + 1.0)
    unpaid = t.c.paid_fen < t.c.billed_fen
    return bounds.select(t, [
        sa.func.count(t.c.month).label("util_n"),
        sa.func.avg(_when(late & power, use)).label("power_late"),
        sa.func.avg(_when(~late & power, use)).label("power_early"),
        sa.func.avg(_when(late, use)).label("use_late"),
        sa.func.avg(_when(~late, use)).label("use_early"),
        sa.func.avg(_when(late & power, t.c.days_late)).label("electricity_days_late"),
        sa.func.max(t.c.days_late).label("utility_days_late_max"),
        _count_if(unpaid).label("utility_unpaid_months"),
        sa.func.max(_when(unpaid, t.c.month)).label("util_last_unpaid"),
    ], since=-WINDOW)


def _ratings(bounds: _Bounds):
    t = TaxRating.__table__
    ordinal = sa.case(*((t.c.rating == grade, value) for grade, value in RATING_ORDER.items()), else_=None)
    latest = sa.func.max(_when(t.c.year <= bounds.rating_year, t.c.year * 10 + ordinal))
    return bounds.select(t, [latest.label("rating_code")], since=None)


def _intellectual_property(bounds: _Bounds):
    t = IntellectualProperty.__table__
    granted = t.c.granted_on < bounds.as_of
    patent = t.c.kind != "商标"
    return bounds.select(t, [
        _count_if((t.c.kind == "发明专利") & granted).label("ip_invention_patents"),
        _count_if(t.c.kind.in_(("实用新型", "外观设计")) & granted).label("ip_other_patents"),
        _count_if(patent & (t.c.applied_on < bounds.as_of) & (t.c.granted_on.is_(None) | ~granted))
        .label("ip_patent_applications"),
        _count_if((t.c.kind == "商标") & granted).label("ip_trademarks"),
    ], since=None)


def _qualifications(bounds: _Bounds):
    """Held on the as-of date: issued before it and not expired by it (the expiry day itself still valid)."""
    t = Qualification.__table__
    valid = (t.c.issued_on < bounds.as_of) & (t.c.expires_on >= bounds.as_of)
    return bounds.select(t, [sa.func.max(_when(valid & (t.c.kind == kind), 1, 0)).label(name)
                             for kind, name in QUALIFICATION_FEATURES.items()], since=None)


def _environmental_ratings(bounds: _Bounds):
    t = EnvironmentalRating.__table__
    ordinal = sa.case(*((t.c.grade == grade, value) for grade, value in ENV_ORDER.items()), else_=None)
    latest = sa.func.max(_when(t.c.year <= bounds.env_year, t.c.year * 10 + ordinal))
    return bounds.select(t, [latest.label("env_code")], since=None)


def _agricultural_operators(bounds: _Bounds):
    t = AgriculturalOperator.__table__
    live = (t.c.recognized_on < bounds.as_of) & (t.c.revoked_on.is_(None) | (t.c.revoked_on >= bounds.as_of))
    level = sa.case(*((t.c.level == name, value) for name, value in AGRI_LEVEL_ORDER.items()), else_=0)
    return bounds.select(t, [sa.func.max(_when(live, 1, 0)).label("agri_operator"),
                             sa.func.max(_when(live, level, 0)).label("agri_level")], since=None)


def _events(bounds: _Bounds):
    t = PublicCreditEvent.__table__
    columns = [t.c.record_id, t.c.kind, t.c.severity, t.c.decided_on, t.c.repaired_on, t.c.force_majeure]
    if isinstance(bounds, _SharedBounds):
        query = sa.select(t.c.uscc.label("key"), *columns).where(t.c.decided_on < bounds.as_of)
        if bounds.filtered:
            query = query.where(t.c.uscc.in_(sa.bindparam("usccs", expanding=True)))
        return query
    q = bounds.q
    return (sa.select(q.c.qid.label("key"), *columns)
            .select_from(q.join(t, (t.c.uscc == q.c.uscc) & (t.c.decided_on < q.c.as_of))))


# ---------------------------------------------------------------- assembling the frame
# Plain numpy from here on: one enterprise is rescored on demand, and pandas' per-operation overhead
# would cost more than its SQL.


def _month_numbers(values) -> np.ndarray:
    """Month number (months since 1970-01) of each date or ISO date text; NaN for None."""
    out = np.full(len(values), np.nan)
    present = [i for i, v in enumerate(values) if v is not None]
    if present:
        days = np.array([str(values[i])[:10] for i in present], dtype="datetime64[D]")
        out[present] = days.astype("datetime64[M]").astype(float)
    return out


class _Rows:
    """One source's result rows placed in query order: column arrays with NaN where a query has no row."""

    def __init__(self, connection, query, keys: pd.Index, params: dict | None = None):
        result = connection.execute(query, params or {})
        rows = result.fetchall()
        self.n = len(keys)
        self.names = list(result.keys())
        self.columns = dict(zip(self.names, zip(*rows, strict=True), strict=True)) if rows else {}
        self.position = keys.get_indexer(self.columns["key"]) if rows else np.array([], dtype=int)

    def floats(self, name: str) -> np.ndarray:
        out = np.full(self.n, np.nan)
        if self.columns:
            out[self.position] = np.array(self.columns[name], dtype=float)
        return out

    def months(self, name: str) -> np.ndarray:
        out = np.full(self.n, np.nan)
        if self.columns:
            out[self.position] = _month_numbers(self.columns[name])
        return out


def _series_features(rows: _Rows, prefix: str) -> dict[str, np.ndarray]:
    """Level, half-year trend, linear slope and residual volatility from the sums SQL returned."""
    g = {c: rows.floats(f"{prefix}_{c}") for c in ("n", "sx", "sxx", "st", "stt", "stx", "late", "early")}
    n = np.where(g["n"] > 0, g["n"], np.nan)
    with np.errstate(all="ignore"):
        stt = g["stt"] - g["st"] ** 2 / n
        sxy = g["stx"] - g["st"] * g["sx"] / n
        syy = g["sxx"] - g["sx"] ** 2 / n
        slope = np.where((n >= 3) & (stt > 0), sxy / stt, np.nan)
        residual = np.sqrt(np.clip(syy - slope * sxy, 0, None) / (n - 2))
    return {"level": g["sx"] / n, "trend": g["late"] - g["early"], "slope": slope, "volatility": residual}


def _where(condition, values) -> np.ndarray:
    return np.where(condition, values, np.nan)


PC_COUNTS = ("pc_minor_penalties", "pc_penalties", "pc_serious_penalties", "pc_abnormal_listings",
             "pc_dishonest_debtor", "pc_serious_violation", "pc_repaired")


def _event_features(rows: _Rows, as_of: np.ndarray, end_month: np.ndarray) -> dict[str, np.ndarray]:
    out = {name: np.zeros(rows.n) for name in PC_COUNTS}
    out["pc_record_recency"] = np.full(rows.n, np.nan)
    if not rows.columns:
        return out
    position = rows.position
    counted = ~np.array(rows.columns["force_majeure"], dtype=bool)  # 宽容审慎: force majeure never counts
    repaired_on = np.array([str(v)[:10] if v is not None else "NaT" for v in rows.columns["repaired_on"]],
                           dtype="datetime64[D]")
    repaired = repaired_on < as_of[position]  # NaT compares False: not repaired
    live = counted & ~repaired
    kind = np.array([str(getattr(v, "value", v)) for v in rows.columns["kind"]])
    severity = np.array([str(getattr(v, "value", v)) for v in rows.columns["severity"]])
    penalty = kind == "行政处罚"
    flags = {
        "pc_minor_penalties": live & penalty & (severity == "轻微"),
        "pc_penalties": live & penalty & (severity != "轻微"),
        "pc_serious_penalties": live & penalty & (severity == "严重"),
        "pc_abnormal_listings": live & (kind == "经营异常名录"),
        "pc_dishonest_debtor": live & (kind == "失信被执行人"),
        "pc_serious_violation": live & (kind == "严重违法失信名单"),
        "pc_repaired": counted & repaired,
    }
    for name, flag in flags.items():
        out[name] = np.bincount(position, weights=flag.astype(float), minlength=rows.n)
    decided = _month_numbers(rows.columns["decided_on"])
    latest = np.full(rows.n, -np.inf)
    np.maximum.at(latest, position[live], decided[live])
    out["pc_record_recency"] = np.where(np.isfinite(latest), end_month - latest, np.nan)
    return out


@dataclass
class _Base:
    """The queries in order: key, as-of day, and the registry attributes (as-of independent)."""

    keys: pd.Index
    as_of: np.ndarray  # datetime64[D]
    established: np.ndarray  # datetime64[D]
    capital_fen: np.ndarray
    size_class: np.ndarray
    section: np.ndarray


# One aggregate query per delivered source (keyed as xinyidai.ingest.sources declares them), biggest first.
SOURCES = {"tax": _tax, "utilities": _utilities, "social_insurance": _social_insurance,
           "housing_fund": _housing_fund, "tax_rating": _ratings, "public_credit": _events,
           "intellectual_property": _intellectual_property, "qualifications": _qualifications,
           "environmental_rating": _environmental_ratings, "agricultural_operator": _agricultural_operators}
# The sources added after the first six (DESIGN §13): the model card measures what they add (ml.train).
LATER_SOURCES = ("intellectual_property", "qualifications", "environmental_rating", "agricultural_operator")
# Sources whose features are 0, not missing, for an enterprise they list nothing for (see the module notes).
COVER_EVERY_ENTERPRISE = ("intellectual_property", "qualifications", "agricultural_operator")


def _assemble(rows: dict[str, _Rows], base: _Base) -> pd.DataFrame:
    keys = base.keys
    end_month = base.as_of.astype("datetime64[M]").astype(float)  # months since 1970 of the window end
    out: dict[str, np.ndarray] = {}

    tax = rows["tax"]
    sales = _series_features(tax, "sales")
    founded = base.established.astype("datetime64[M]").astype(float)
    expected = np.clip(end_month - founded - 1, 0, WINDOW)
    n_tax = np.nan_to_num(tax.floats("sales_n"))
    has_tax = n_tax > 0
    with np.errstate(all="ignore"):
        out["tax_coverage"] = _where(expected > 0, np.minimum(n_tax / expected, 1))
        out["sales_level"], out["sales_trend"] = sales["level"], sales["trend"]
        out["sales_slope"], out["sales_volatility"] = sales["slope"], sales["volatility"]
        prior_n = tax.floats("sales_prior_n")
        prior = tax.floats("sales_prior_sum") / prior_n * WINDOW
        recent = tax.floats("sales_sum") / _where(has_tax, n_tax) * WINDOW
        out["sales_growth_yoy"] = _where(prior_n >= 6, np.log(recent + 12_000) - np.log(prior + 12_000))
    for name in ("zero_sales_months", "tax_paid_months", "tax_arrears_months"):
        out[name] = _where(has_tax, tax.floats(name))
    out["tax_arrears_recency"] = end_month - tax.months("tax_last_arrears")
    out["tax_rating"] = rows["tax_rating"].floats("rating_code") % 10

    si = rows["social_insurance"]
    si_n = si.floats("si_n")
    last3, first3 = si.floats("si_last3"), si.floats("si_first3")
    with np.errstate(all="ignore"):
        out["headcount_level"] = np.log1p(last3)
        out["headcount_trend"] = np.log((last3 + 1) / (first3 + 1))
        out["si_coverage"] = _where(expected > 0, np.minimum(np.nan_to_num(si_n) / expected, 1))
    for name in ("si_arrears_max", "si_arrears_months"):
        out[name] = _where(si_n > 0, si.floats(name))
    out["si_arrears_recency"] = end_month - si.months("si_last_arrears")

    hf = rows["housing_fund"]
    last3, first3 = hf.floats("hf_last3"), hf.floats("hf_first3")
    with np.errstate(all="ignore"):
        out["hf_contributors_level"] = np.log1p(last3)
        out["hf_contributors_trend"] = np.log((last3 + 1) / (first3 + 1))
    out["hf_arrears_months"] = _where(hf.floats("hf_n") > 0, hf.floats("hf_arrears_months"))
    out["hf_arrears_recency"] = end_month - hf.months("hf_last_arrears")

    util = rows["utilities"]
    util_n = util.floats("util_n")
    out["electricity_trend"] = util.floats("power_late") - util.floats("power_early")
    out["utility_usage_trend"] = util.floats("use_late") - util.floats("use_early")
    out["electricity_days_late"] = util.floats("electricity_days_late")
    for name in ("utility_days_late_max", "utility_unpaid_months"):
        out[name] = _where(util_n > 0, util.floats(name))
    out["utility_unpaid_recency"] = end_month - util.months("util_last_unpaid")

    out.update(_event_features(rows["public_credit"], base.as_of, end_month))

    for source in COVER_EVERY_ENTERPRISE:
        for feature in FEATURES:
            if feature.source == source:
                out[feature.name] = np.nan_to_num(rows[source].floats(feature.name))
    out["env_rating"] = rows["environmental_rating"].floats("env_code") % 10

    out["age_years"] = (base.as_of - base.established).astype(float) / DAYS_PER_YEAR
    with np.errstate(all="ignore"):
        out["registered_capital"] = np.log1p(base.capital_fen / 100.0)
    out["size_class"] = np.array([SIZE_ORDER.get(s, np.nan) for s in base.size_class], dtype=float)
    out["industry_section"] = np.array([SECTIONS.find(s) if isinstance(s, str) and len(s) == 1 and s in SECTIONS
                                        else np.nan for s in base.section], dtype=float)
    return pd.DataFrame({name: out[name] for name in FEATURE_NAMES}, index=keys)


def _enterprises(connection, usccs: list[str] | None) -> dict[str, np.ndarray]:
    e = Enterprise.__table__
    # Raw text for the date and the enum: SQLAlchemy's per-row conversion would cost more than the query.
    query = sa.select(e.c.uscc, sa.type_coerce(e.c.established_on, sa.String),
                      e.c.registered_capital_fen, sa.type_coerce(e.c.size_class, sa.String), e.c.industry_section)
    if usccs is not None:
        query = query.where(e.c.uscc.in_(usccs))
    rows = connection.execute(query.order_by(e.c.uscc)).all()
    uscc, established, capital, size, section = zip(*rows, strict=True) if rows else ((),) * 5
    return {"uscc": np.array(uscc, dtype=object),
            "established": np.array([str(d)[:10] for d in established], dtype="datetime64[D]"),
            "capital_fen": np.array(capital, dtype=float), "size_class": np.array(size, dtype=object),
            "section": np.array(section, dtype=object)}


IN_LIST_LIMIT = 500  # above this many enterprises the whole table is aggregated and then filtered


def features_as_of(session: Session, as_of: date | None = None, usccs: Iterable[str] | None = None, *,
                   threads: int = 1) -> pd.DataFrame:
    """Feature rows indexed by USCC, every enterprise (or those in `usccs`) as of one date (default: the
    data end). Enterprises unknown to the registry are left out.

    `threads` > 1 runs the sources' queries side by side on their own connections (the database does the
    work, outside the GIL); they then see committed data only, so the session should have committed."""
    as_of = as_of or data_end_as_of(session)
    connection = session.connection()
    wanted = None if usccs is None else list(dict.fromkeys(usccs))
    in_list = wanted if wanted is not None and len(wanted) <= IN_LIST_LIMIT else None
    firms = _enterprises(connection, in_list)
    if wanted is not None and in_list is None:
        keep = np.isin(firms["uscc"], wanted)
        firms = {k: v[keep] for k, v in firms.items()}
    base = _Base(pd.Index(firms["uscc"], name="uscc"), np.full(len(firms["uscc"]), np.datetime64(as_of, "D")),
                 firms["established"], firms["capital_fen"], firms["size_class"], firms["section"])
    params = _SharedBounds.params(as_of, in_list)
    filtered = in_list is not None
    if threads > 1 and _parallel_safe(session):
        engine = session.get_bind()

        def fetch(builder):
            with engine.connect() as own:
                return _Rows(own, _shared_statement(builder, filtered), base.keys, params)

        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ml-features") as pool:
            rows = dict(zip(SOURCES, pool.map(fetch, SOURCES.values()), strict=True))
    else:
        rows = {name: _Rows(connection, _shared_statement(builder, filtered), base.keys, params)
                for name, builder in SOURCES.items()}
    return _assemble(rows, base)


def _parallel_safe(session: Session) -> bool:
    """Other connections see what this session sees only when it is bound to an engine (not to one
    connection holding an open outer transaction, as in the tests) of a database that is not in memory."""
    bind = session.get_bind()
    return isinstance(bind, sa.engine.Engine) and bind.url.database not in (None, "", ":memory:")


def features_for(session: Session, queries: pd.DataFrame) -> pd.DataFrame:
    """Feature rows for (uscc, as_of) pairs — e.g. loans at their disbursement dates — aligned with
    `queries.index`. The pairs go to a temporary table that each source is joined against."""
    if queries.empty:
        return pd.DataFrame(columns=list(FEATURE_NAMES), index=queries.index, dtype=float)
    connection = session.connection()
    as_of = [d.date() if isinstance(d, datetime) else d for d in pd.to_datetime(queries.as_of).dt.date]
    table = sa.Table(
        "ml_feature_queries", sa.MetaData(),
        sa.Column("qid", sa.Integer, primary_key=True), sa.Column("uscc", sa.String(18), index=True),
        sa.Column("as_of", sa.Date), sa.Column("window_end", sa.Date), sa.Column("rating_year", sa.Integer),
        sa.Column("env_year", sa.Integer),
        *(sa.Column(f"m{k}", sa.Date) for k in (3, 6, 9, WINDOW, LOOKBACK)),
        prefixes=["TEMPORARY"],
    )
    table.create(connection)
    try:
        connection.execute(table.insert(), [
            {"qid": i, "uscc": u, "as_of": a, "window_end": window_end(a), "rating_year": rating_year_visible(a),
             "env_year": env_year_visible(a),
             **{f"m{k}": month_add(window_end(a), -k) for k in (3, 6, 9, WINDOW, LOOKBACK)}}
            for i, (u, a) in enumerate(zip(queries.uscc, as_of, strict=True))])
        firms = _enterprises(connection, None)
        where = pd.Index(firms["uscc"]).get_indexer(queries.uscc.to_numpy())
        found = where >= 0

        def pick(values, missing):
            out = np.full(len(where), missing, dtype=values.dtype)
            out[found] = values[where[found]]
            return out

        base = _Base(pd.RangeIndex(len(queries)), np.array(as_of, dtype="datetime64[D]"),
                     pick(firms["established"], np.datetime64("NaT")), pick(firms["capital_fen"], np.nan),
                     pick(firms["size_class"], None), pick(firms["section"], None))
        bounds = _QueryTableBounds(table)
        frame = _assemble({name: _Rows(connection, builder(bounds), base.keys) for name, builder in SOURCES.items()},
                          base)
    finally:
        table.drop(connection)
    frame.index = queries.index
    return frame
