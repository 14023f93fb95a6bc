"""An in-process pre-aggregation of the office figures: one row per counted record, with the enterprise's
district, industry and size and the application's bank and product, loaded once per data version.

Every dashboard view, whatever its filters, is then a filter and a group-by in pandas instead of a dozen
scans of the lending tables. The cube is rebuilt when `metrics.data_version` changes (any new application,
transition, need, delivery, whitelist version or month-end report through the platform), so its figures
are the SQL figures: a test compares the two on the same records.

The schema change that would replace it (see the issue report): a table `office_facts` with these rows,
kept up to date by the lifecycle and the loan reports, indexed by (district_code, month).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.enterprise import Enterprise
from models.lending import Application, ApplicationEvent, FinancingNeed, GuaranteeType, LoanPerformance
from xinyidai.office import metrics
from xinyidai.office.metrics import OUTSTANDING, Dimension, Family, S, _days_between
from xinyidai.office.scope import Filters, Scope

DIMENSION_COLUMN = {Dimension.MONTH: "month", Dimension.BANK: "bank_id", Dimension.PRODUCT: "product_id",
                    Dimension.INDUSTRY: "industry", Dimension.SIZE: "size", Dimension.DISTRICT: "district"}
MEASURES = {
    Family.NEEDS: ("amount",), Family.MATCHED: (), Family.CLAIMED: ("days",), Family.APPROVED: (),
    Family.DECIDED: ("days",), Family.DISBURSED: ("amount", "rate_amount", "credit_amount", "defaulted"),
    Family.BOOK: ("outstanding", "overdue_amount"),
}


@dataclass
class Cube:
    version: tuple
    frames: dict  # Family -> DataFrame
    need_banks: pd.DataFrame  # need_id, bank_id: which banks a need was matched to
    built_seconds: float


def _month_number(day) -> int:
    return day.year * 100 + day.month


def _month_number_of(session: Session, column, *, is_date: bool = False):
    """yyyymm as an integer, in Shanghai time for timestamps (the same months as metrics._month_of)."""
    if session.get_bind().dialect.name == "postgresql":
        local = column if is_date else sa.func.timezone("Asia/Shanghai", column)
        return sa.cast(sa.func.to_char(local, "YYYYMM"), sa.Integer)
    shifted = sa.func.strftime("%Y%m", column) if is_date else sa.func.strftime("%Y%m", column, "+8 hours")
    return sa.cast(shifted, sa.Integer)


def _enterprise_columns():
    # type_coerce: plain strings back, without the Enum's per-row conversion
    return (Enterprise.district_code.label("district"), Enterprise.industry_section.label("industry"),
            sa.type_coerce(Enterprise.size_class, sa.String).label("size"))


def _rows(session: Session, query) -> pd.DataFrame:
    """The query's rows as plain DBAPI tuples (no per-row type processing: ~3x faster on a million rows).
    Its only parameters are constants of this module, rendered inline."""
    connection = session.connection()
    sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    rows = connection.exec_driver_sql(sql).fetchall()
    return pd.DataFrame(rows, columns=list(query.selected_columns.keys()))


def _categorical(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("district", "industry", "size", "uscc"):
        if column in frame:
            frame[column] = frame[column].astype("category")
    return frame


DIMENSIONS = ["district", "industry", "size", "bank_id", "product_id", "uscc"]


def build_cube(session: Session) -> Cube:
    """Three scans (needs, applications, month-end reports) and a small one (approvals later declined)."""
    started = time.perf_counter()
    version = metrics.data_version(session)
    month, days, amount = _month_number_of, _days_between, Application.disbursed_amount_fen
    apps = _categorical(_rows(session, sa.select(
        Application.id, *_enterprise_columns(), Application.bank_id, Application.product_id, Application.uscc,
        month(session, Application.created_at).label("created"),
        month(session, Application.claimed_at).label("claimed"),
        days(session, Application.created_at, Application.claimed_at).label("claim_days"),
        month(session, Application.decided_at).label("decided"),
        days(session, Application.created_at, Application.decided_at).label("decision_days"),
        sa.case((Application.state == S.DECLINED, 0), else_=1).label("not_declined"),
        month(session, Application.disbursed_on, is_date=True).label("disbursed"),
        amount.label("amount"), (amount * Application.rate_bp).label("rate_amount"),
        sa.case((Application.guarantee_type == GuaranteeType.CREDIT, amount), else_=0).label("credit_amount"),
        sa.case((Application.state == S.DEFAULTED, 1), else_=0).label("defaulted"),
        sa.case((Application.first_loan.is_(True), 1), else_=0).label("first"))
        .join(Enterprise, Enterprise.uscc == Application.uscc)))

    def family(month_column: str, **measures) -> pd.DataFrame:
        rows = apps[apps[month_column].notna()]
        frame = rows[DIMENSIONS].copy()
        frame["month"] = rows[month_column].astype("int32")
        for name, source in measures.items():
            frame[name] = pd.to_numeric(rows[source]).fillna(0)
        return frame

    reversed_later = _rows(session, sa.select(
        Application.id, month(session, ApplicationEvent.occurred_at).label("month"))
        .join(ApplicationEvent, ApplicationEvent.application_id == Application.id)
        .where(Application.state == S.DECLINED, ApplicationEvent.to_state == S.APPROVED))
    kept = family("decided")[(apps.loc[apps["decided"].notna(), "not_declined"] == 1).to_numpy()]
    reversed_frame = apps.set_index("id").loc[reversed_later["id"], DIMENSIONS].reset_index(drop=True)
    reversed_frame["month"] = reversed_later["month"].astype("int32").to_numpy()
    book = _rows(session, sa.select(
        LoanPerformance.application_id.label("id"), month(session, LoanPerformance.as_of, is_date=True).label("month"),
        LoanPerformance.outstanding_fen.label("outstanding"),
        sa.case((LoanPerformance.days_past_due > 0, LoanPerformance.outstanding_fen), else_=0).label("overdue_amount"))
        .where(LoanPerformance.status.in_(OUTSTANDING)))
    book = book.merge(apps[["id", *DIMENSIONS]], on="id", how="inner").drop(columns="id")
    needs = _categorical(_rows(session, sa.select(
        month(session, FinancingNeed.published_at).label("month"), *_enterprise_columns(),
        FinancingNeed.id.label("need_id"), FinancingNeed.uscc, FinancingNeed.amount_fen.label("amount"))
        .join(Enterprise, Enterprise.uscc == FinancingNeed.uscc)))
    frames = {
        Family.NEEDS: needs,
        Family.MATCHED: family("created"),
        Family.CLAIMED: family("claimed", days="claim_days"),
        Family.DECIDED: family("decided", days="decision_days"),
        Family.APPROVED: pd.concat([kept, reversed_frame], ignore_index=True),
        Family.DISBURSED: family("disbursed", amount="amount", rate_amount="rate_amount",
                                 credit_amount="credit_amount", defaulted="defaulted", first="first"),
        Family.BOOK: book,
    }
    need_banks = apps.merge(_rows(session, sa.select(Application.id, Application.need_id)), on="id")[
        ["need_id", "bank_id"]].drop_duplicates()
    return Cube(version, frames, need_banks, time.perf_counter() - started)


def figures_from(cube: Cube, session: Session, scope: Scope, filters: Filters):
    """A `figures(family, dimension, book_month)` function for metrics.build_table, reading the cube."""
    first, last = _month_number(filters.start), _month_number(filters.end)

    def figures(family: Family, dimension: Dimension | None, book_month) -> dict:
        if family is Family.WHITELIST:  # a few rows: straight from SQL
            return metrics.family_figures(session, family, scope, filters, dimension, book_month)
        frame = cube.frames[family]
        months = frame["month"]
        if family is Family.BOOK:
            book = _month_number(book_month)
            in_period = (months >= first) & (months <= book) if dimension is Dimension.MONTH else months == book
        else:
            in_period = (months >= first) & (months <= last)
        mask = in_period & frame["district"].isin(scope.districts)
        if filters.industry:
            mask &= frame["industry"] == filters.industry
        if filters.bank_id is not None:
            if family is Family.NEEDS:
                matched = cube.need_banks.loc[cube.need_banks["bank_id"] == filters.bank_id, "need_id"]
                mask &= frame["need_id"].isin(matched)
            else:
                mask &= frame["bank_id"] == filters.bank_id
        return _aggregate(frame[mask], family, dimension)

    return figures


def _aggregate(rows: pd.DataFrame, family: Family, dimension: Dimension | None) -> dict:
    measures = MEASURES[family]
    if dimension is None:
        figures = {"count": len(rows), **{m: _number(m, rows[m].sum()) for m in measures},
                   "enterprises": int(rows["uscc"].nunique())}
        if family is Family.DISBURSED:
            figures["first_time"] = int(rows.loc[rows["first"] == 1, "uscc"].nunique())
        return {"total": figures}
    if rows.empty:
        return {}
    column = DIMENSION_COLUMN[dimension]
    keys = rows[column].astype(object)
    grouped = rows.groupby(keys, observed=True, sort=False)
    sums = grouped[list(measures)].sum() if measures else None
    counts = grouped.size()
    enterprises = grouped["uscc"].nunique()
    firsts = (rows[rows["first"] == 1].groupby(keys[rows["first"] == 1], observed=True)["uscc"].nunique()
              if family is Family.DISBURSED else None)
    out = {}
    for key, count in counts.items():
        figures = {"count": int(count), "enterprises": int(enterprises[key])}
        for m in measures:
            figures[m] = _number(m, sums.at[key, m])
        if firsts is not None:
            figures["first_time"] = int(firsts.get(key, 0))
        out[f"{key // 100:04d}-{key % 100:02d}" if dimension is Dimension.MONTH else key] = figures
    return out


def _number(measure: str, value):
    return float(value) if measure == "days" else int(value)


# ---------------------------------------------------------------- one cube per process and data version

_LOCK = threading.Lock()
_CURRENT: Cube | None = None


def current_cube(session: Session) -> Cube:
    """The cube for the data as it is now; built (once, under a lock) when the data version moved."""
    global _CURRENT
    version = metrics.data_version(session)
    cube = _CURRENT
    if cube is not None and cube.version == version:
        return cube
    with _LOCK:
        if _CURRENT is None or _CURRENT.version != version:
            _CURRENT = build_cube(session)
        return _CURRENT


def forget_cube() -> None:
    global _CURRENT
    with _LOCK:
        _CURRENT = None


def cube_table(session: Session, scope: Scope, filters: Filters, dimension: Dimension, today=None):
    cube = current_cube(session)
    return metrics.build_table(session, scope, filters, dimension, today, figures=figures_from(cube, session, scope, filters))


def office_table(session: Session, scope: Scope, filters: Filters, dimension: Dimension, *, pre_aggregated: bool,
                 today=None):
    """The table of a view: from the cube when pre-aggregation is on, else straight from SQL."""
    if pre_aggregated:
        return cube_table(session, scope, filters, dimension, today)
    return metrics.build_table(session, scope, filters, dimension, today)
