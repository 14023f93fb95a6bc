"""An in-process pre-aggregation of the office figures: one row per counted record, with the enterprise's
district, industry and size, its tech class on the record's date and the application's bank and product.

Every dashboard view, whatever its filters, is then a filter and a group-by in pandas instead of a dozen
scans of the lending tables. The cube is rebuilt when `metrics.data_version` changes (any new application,
transition, need, delivery, whitelist version or month-end report through the platform) — at once, or,
as served (XYD_OFFICE_MAX_AGE_SECONDS), in the background once the cube is older than that; either way its
figures are the SQL figures of the moment it was built: a test compares the two on the same records.

The schema change that would replace it (see the issue report): a table `office_facts` with these rows,
kept up to date by the lifecycle and the loan reports, indexed by (district_code, month).
"""

from __future__ import annotations

import fcntl
import logging
import os
import pickle
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from models.enterprise import Enterprise
from models.lending import Application, ApplicationEvent, FinancingNeed, GuaranteeType, LoanPerformance
from xinyidai.caching import remembered
from xinyidai.domain.figures import metrics
from xinyidai.domain.figures.metrics import OUTSTANDING, Dimension, Family, S, _days_between
from xinyidai.domain.qualifications import CLASS_ORDER, certificate_frame, tech_classes_on
from xinyidai.domain.scope import Filters, Scope
from xinyidai.extensions import db

log = logging.getLogger(__name__)
DIMENSION_COLUMN = {Dimension.MONTH: "month", Dimension.BANK: "bank_id", Dimension.PRODUCT: "product_id",
                    Dimension.INDUSTRY: "industry", Dimension.SIZE: "size", Dimension.DISTRICT: "district",
                    Dimension.GUARANTOR: "guarantor_id", Dimension.TECH_CLASS: "tech_class"}
MEASURES = {
    Family.NEEDS: ("amount",), Family.MATCHED: (), Family.CLAIMED: ("days",), Family.APPROVED: (),
    Family.DECIDED: ("days",), Family.DISBURSED: ("amount", "rate_amount", "credit_amount", "defaulted"),
    Family.GUARANTEED: ("amount", "fee_amount", "coverage_amount"),
    Family.BOOK: ("outstanding", "overdue_amount"),
}


# What a cube holds; a snapshot written by an earlier layout (one without a column a view groups by) is not read.
LAYOUT = 2  # 2: each record's tech class


@dataclass
class Cube:
    version: tuple
    frames: dict  # Family -> DataFrame
    need_banks: pd.DataFrame  # need_id, bank_id: which banks a need was matched to
    built_seconds: float
    built_at: float = field(default_factory=time.time)  # wall clock: shared with other processes
    layout: int = LAYOUT


def _month_number(day) -> int:
    return day.year * 100 + day.month


def _month_number_of(session: Session, column, *, is_date: bool = False):
    """yyyymm as an integer, in Shanghai time for timestamps (the same months as metrics._month_of)."""
    if session.get_bind().dialect.name == "postgresql":
        local = column if is_date else sa.func.timezone("Asia/Shanghai", column)
        return sa.cast(sa.func.to_char(local, "YYYYMM"), sa.Integer)
    shifted = sa.func.strftime("%Y%m", column) if is_date else sa.func.strftime("%Y%m", column, "+8 hours")
    return sa.cast(shifted, sa.Integer)


def _day_text_of(session: Session, column, *, is_date: bool = False):
    """'YYYY-MM-DD' of the Shanghai day of a timestamp, or of a date (the days of metrics._day_of)."""
    if session.get_bind().dialect.name == "postgresql":
        local = column if is_date else sa.func.timezone("Asia/Shanghai", column)
        return sa.func.to_char(local, "YYYY-MM-DD")
    return sa.func.date(column) if is_date else sa.func.date(column, "+8 hours")


def _days(values) -> np.ndarray:
    return np.array([v if v is None else str(v) for v in values], dtype="datetime64[D]")


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
    for column in ("district", "industry", "size", "uscc", "tech_class"):
        if column in frame:
            frame[column] = frame[column].astype("category")
    return frame


DIMENSIONS = ["district", "industry", "size", "bank_id", "product_id", "uscc"]


def _tech_class(certificates: pd.DataFrame, usccs, day_texts) -> pd.Categorical:
    return pd.Categorical(tech_classes_on(certificates, np.asarray(usccs, dtype=object), _days(day_texts)),
                          categories=CLASS_ORDER)


def build_cube(session: Session) -> Cube:
    """Three scans (needs, applications, month-end reports), a small one (approvals later declined) and the
    certificates (each record's tech class on its own date)."""
    started = time.perf_counter()
    version = metrics.data_version(session)
    month, days, amount = _month_number_of, _days_between, Application.disbursed_amount_fen
    day = _day_text_of
    certificates = certificate_frame(session)
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
        sa.case((Application.first_loan.is_(True), 1), else_=0).label("first"),
        Application.guarantor_id, (amount * Application.guarantee_fee_bp).label("fee_amount"),
        (amount * Application.guarantee_coverage_bp).label("coverage_amount"),
        day(session, Application.created_at).label("created_day"),
        day(session, Application.claimed_at).label("claimed_day"),
        day(session, Application.decided_at).label("decided_day"),
        day(session, Application.disbursed_on, is_date=True).label("disbursed_day"))
        .join(Enterprise, Enterprise.uscc == Application.uscc)))

    def family(month_column: str, **measures) -> pd.DataFrame:
        rows = apps[apps[month_column].notna()]
        frame = rows[DIMENSIONS].copy()
        frame["month"] = rows[month_column].astype("int32")
        frame["tech_class"] = _tech_class(certificates, rows["uscc"], rows[f"{month_column}_day"])
        for name, source in measures.items():
            frame[name] = pd.to_numeric(rows[source]).fillna(0)
        return frame

    reversed_later = _rows(session, sa.select(
        Application.id, month(session, ApplicationEvent.occurred_at).label("month"),
        day(session, ApplicationEvent.occurred_at).label("day"))
        .join(ApplicationEvent, ApplicationEvent.application_id == Application.id)
        .where(Application.state == S.DECLINED, ApplicationEvent.to_state == S.APPROVED))
    kept = family("decided")[(apps.loc[apps["decided"].notna(), "not_declined"] == 1).to_numpy()]
    reversed_frame = apps.set_index("id").loc[reversed_later["id"], DIMENSIONS].reset_index(drop=True)
    reversed_frame["month"] = reversed_later["month"].astype("int32").to_numpy()
    reversed_frame["tech_class"] = _tech_class(certificates, reversed_frame["uscc"], reversed_later["day"])
    guaranteed = family("disbursed", amount="amount", fee_amount="fee_amount", coverage_amount="coverage_amount")
    backed = apps.loc[apps["disbursed"].notna(), "guarantor_id"].notna().to_numpy()
    guaranteed = guaranteed[backed]
    guaranteed["guarantor_id"] = apps.loc[apps["disbursed"].notna(), "guarantor_id"][backed].astype("int64").to_numpy()
    book = _rows(session, sa.select(
        LoanPerformance.application_id.label("id"), month(session, LoanPerformance.as_of, is_date=True).label("month"),
        day(session, LoanPerformance.as_of, is_date=True).label("day"),
        LoanPerformance.outstanding_fen.label("outstanding"),
        sa.case((LoanPerformance.days_past_due > 0, LoanPerformance.outstanding_fen), else_=0).label("overdue_amount"))
        .where(LoanPerformance.status.in_(OUTSTANDING)))
    book = book.merge(apps[["id", *DIMENSIONS]], on="id", how="inner").drop(columns="id")
    book["tech_class"] = _tech_class(certificates, book["uscc"], book.pop("day"))
    needs = _categorical(_rows(session, sa.select(
        month(session, FinancingNeed.published_at).label("month"), *_enterprise_columns(),
        FinancingNeed.id.label("need_id"), FinancingNeed.uscc, FinancingNeed.amount_fen.label("amount"),
        day(session, FinancingNeed.published_at).label("day"))
        .join(Enterprise, Enterprise.uscc == FinancingNeed.uscc)))
    needs["tech_class"] = _tech_class(certificates, needs["uscc"], needs.pop("day"))
    frames = {
        Family.NEEDS: needs,
        Family.MATCHED: family("created"),
        Family.CLAIMED: family("claimed", days="claim_days"),
        Family.DECIDED: family("decided", days="decision_days"),
        Family.APPROVED: pd.concat([kept, reversed_frame], ignore_index=True),
        Family.DISBURSED: family("disbursed", amount="amount", rate_amount="rate_amount",
                                 credit_amount="credit_amount", defaulted="defaulted", first="first"),
        Family.GUARANTEED: guaranteed,
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
        # Shared by every worker (xinyidai.caching): the same view asked again costs a cache read.
        key = (cube.version, scope, filters, family, dimension, book_month)
        return remembered("office_figures", key, lambda: _figures(family, dimension, book_month))

    def _figures(family: Family, dimension: Dimension | None, book_month) -> dict:
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


# ---------------------------------------------------------------- one cube per process, shared by the host

_LOCK = threading.Lock()
_REFRESHING = threading.Lock()  # held while this process rebuilds in the background
_CURRENT: Cube | None = None
SNAPSHOT = "office-cube.pickle"


def current_cube(session: Session, *, max_age_seconds: float = 0, folder: Path | None = None) -> Cube:
    """The cube the office's views read.

    max_age_seconds 0: the cube of the data exactly as it is now, rebuilt (under a lock) whenever the data
    version moved. Otherwise a cube at most that old is good enough: during a working day the version moves
    with every claim and decision, and a rebuild (about 10 s on 100,000 enterprises) per move would be paid
    by the office pages. A cube past that age whose data has moved is still served while this process
    rebuilds it in the background, so no page waits for a rebuild once a cube exists.

    folder: where the host keeps its latest cube (the instance folder). A fresh worker (a restart, or
    gunicorn recycling workers) starts from that snapshot instead of rebuilding, and of several workers
    needing a new cube at once, one builds it and the others read its snapshot.
    """
    global _CURRENT
    cube = _CURRENT
    if cube is None and folder is not None:  # a fresh worker: the host's latest cube, whatever its age
        cube = _CURRENT = _read_snapshot(folder)
    if cube is not None:
        if max_age_seconds and time.time() - cube.built_at < max_age_seconds:
            return cube
        if cube.version == metrics.data_version(session):
            return cube
        if max_age_seconds:
            _refresh_in_background(folder)
            return cube
    with _LOCK:
        if _CURRENT is None or _CURRENT.version != metrics.data_version(session):
            _CURRENT = _build(session, folder)
        return _CURRENT


def forget_cube() -> None:
    global _CURRENT
    with _LOCK:
        _CURRENT = None


def _build(session: Session, folder: Path | None) -> Cube:
    """A new cube; with a folder, built by one process of the host at a time (the others wait, then take
    the snapshot it wrote if it holds the data version they need)."""
    if folder is None:
        return build_cube(session)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{SNAPSHOT}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            version = metrics.data_version(session)
            ready = _read_snapshot(folder)
            if ready is not None and ready.version == version:
                return ready
            cube = build_cube(session)
            part = folder / f"{SNAPSHOT}.{os.getpid()}.part"
            with open(part, "wb") as out:
                pickle.dump(cube, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(part, folder / SNAPSHOT)  # readers see the old cube or the new one, never half of one
            return cube
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read_snapshot(folder: Path) -> Cube | None:
    """The host's latest cube (written by this app into its own instance folder), or None."""
    try:
        with open(folder / SNAPSHOT, "rb") as source:
            cube = pickle.load(source)  # noqa: S301 - our own file in the instance folder, like the models
    # ImportError: a snapshot written before its classes moved (xinyidai.office.cube) is rebuilt, not a 500
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    return cube if getattr(cube, "layout", 1) == LAYOUT else None


def _refresh_in_background(folder: Path | None) -> None:
    if not _REFRESHING.acquire(blocking=False):
        return  # already rebuilding
    app = current_app._get_current_object()

    def refresh():
        global _CURRENT
        try:
            with app.app_context():
                try:
                    cube = _build(db.session, folder)
                    with _LOCK:
                        _CURRENT = cube
                finally:
                    db.session.remove()
        except Exception:  # a failed refresh keeps the cube being served; the next request tries again
            log.exception("office cube refresh failed")
        finally:
            _REFRESHING.release()

    threading.Thread(target=refresh, name="office-cube-refresh", daemon=True).start()


def cube_table(session: Session, scope: Scope, filters: Filters, dimension: Dimension, today=None, *,
               max_age_seconds: float = 0, folder: Path | None = None):
    cube = current_cube(session, max_age_seconds=max_age_seconds, folder=folder)
    table = metrics.build_table(session, scope, filters, dimension, today, figures=figures_from(cube, session, scope, filters))
    table.as_of = datetime.fromtimestamp(cube.built_at, UTC)
    return table


def office_table(session: Session, scope: Scope, filters: Filters, dimension: Dimension, *, pre_aggregated: bool,
                 today=None):
    """The table of a view: from the cube when pre-aggregation is on (as old as XYD_OFFICE_MAX_AGE_SECONDS
    allows), else straight from SQL."""
    if pre_aggregated:
        config = current_app.config
        return cube_table(session, scope, filters, dimension, today,
                          max_age_seconds=config.get("XYD_OFFICE_MAX_AGE_SECONDS", 0),
                          folder=Path(config["XYD_INSTANCE_PATH"]) / "cache")
    return metrics.build_table(session, scope, filters, dimension, today)
