"""Producing the export files an office downloads or the CLI writes, each recorded in the audit log."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from models.base import utcnow
from xinyidai.audit import record
from xinyidai.domain.figures import exports
from xinyidai.domain.figures.cube import office_table
from xinyidai.domain.figures.metrics import KPI_BY_KEY, Cell, Dimension, Kpi
from xinyidai.domain.scope import Filters, Scope

FORMATS = {"csv": ("text/csv", exports.to_csv),
           "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", exports.to_xlsx)}


def monthly_report_file(session: Session, scope: Scope, month: date, file_format: str, *, audit: dict,
                        pre_aggregated: bool = False) -> tuple[bytes, str, str]:
    """(content, mimetype, filename) of the monthly report; audited as an export with `audit`'s actor fields."""
    report = exports.monthly_report(
        lambda filters, dimension: office_table(session, scope, filters, dimension, pre_aggregated=pre_aggregated),
        scope, month, utcnow())
    mimetype, write = FORMATS[file_format]
    filename = f"xinyidai-monthly-{scope.districts[0] if len(scope.districts) == 1 else scope.office_district}-{month:%Y-%m}.{file_format}"
    record(session, "export", **audit, detail={"what": "office_monthly_report", "office_district": scope.office_district,
                                      "districts": list(scope.districts), "month": f"{month:%Y-%m}",
                                      "format": file_format, "filename": filename})
    return write(report), mimetype, filename


def month_figures(session: Session, scope: Scope, month: date, *, pre_aggregated: bool = False) -> dict[str, tuple[Kpi, Cell]]:
    """The monthly report's main figures for `month` alone (its "本月" column: the same table, the same
    cells, suppression included), keyed like exports.SUMMARY_KPIS: what the city node receives and reconciles."""
    table = office_table(session, scope, Filters(month, month), Dimension.DISTRICT, pre_aggregated=pre_aggregated)
    return {key: (KPI_BY_KEY[key], table.total.cells[key]) for key in exports.SUMMARY_KPIS}


def table_file(session: Session, scope: Scope, filters: Filters, dimension: Dimension, title: str, file_format: str,
               *, audit: dict, pre_aggregated: bool = False) -> tuple[bytes, str, str]:
    table = office_table(session, scope, filters, dimension, pre_aggregated=pre_aggregated)
    report = exports.table_report(table, scope, title, utcnow())
    mimetype, write = FORMATS[file_format]
    filename = (f"xinyidai-{dimension.value}-{scope.districts[0] if len(scope.districts) == 1 else scope.office_district}"
                f"-{filters.start:%Y%m}-{filters.end:%Y%m}.{file_format}")
    record(session, "export", **audit, detail={"what": f"office_dashboard_{dimension.value}", "office_district": scope.office_district,
                                      "districts": list(scope.districts), "filters": filters.query_args(),
                                      "format": file_format, "filename": filename})
    return write(report), mimetype, filename
