"""The district finance office's pages under /office/… (the landing page /office/ belongs to xinyidai.web).

Every query is scoped by the logged-in office's district (the city office: all sixteen). A district,
whitelist version or alert outside that scope answers exactly like a missing one: the site's 404 page.
Views parse, call a service, commit, render or redirect.
"""

from __future__ import annotations

import math
from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import NotFound

from models.identity import Role, User
from models.lending import Bank
from models.monitoring import AlertKind
from models.scoring import GRADE_SCALE, WhitelistStatus
from xinyidai.audit import record
from xinyidai.auth import role_required
from xinyidai.domain import alerts as alert_service
from xinyidai.domain import credit_repair, inputs
from xinyidai.domain import whitelist_workflow as whitelist_service
from xinyidai.domain.figures import exports, reports
from xinyidai.domain.figures.cube import office_table
from xinyidai.domain.figures.metrics import KPI_BY_KEY, MIN_ENTERPRISES, Dimension
from xinyidai.domain.scope import (
    BadPeriod,
    OutOfScope,
    Scope,
    add_months,
    filters_from_args,
    office_scope,
    shanghai_month,
)
from xinyidai.domain.vocabulary import PUBLIC_CREDIT_KIND, SEVERITY, reason_family
from xinyidai.extensions import db
from xinyidai.i18n import locale_code, localized
from xinyidai.moments import local_time
from xinyidai.office import charts, forms
from xinyidai.reference import INDUSTRY_SECTIONS, SHANGHAI_DISTRICTS
from xinyidai.web.formats import ratio, wan

bp = Blueprint("office", __name__, url_prefix="/office")

VIEWS: dict[str, tuple[Dimension, object]] = {
    "overview": (Dimension.MONTH, _l("总览与月度趋势")),
    "banks": (Dimension.BANK, _l("按银行")),
    "products": (Dimension.PRODUCT, _l("按产品")),
    "industries": (Dimension.INDUSTRY, _l("按行业")),
    "sizes": (Dimension.SIZE, _l("按企业规模")),
    "qualifications": (Dimension.TECH_CLASS, _l("按科技资质")),
    "districts": (Dimension.DISTRICT, _l("各区对比")),
    "guarantors": (Dimension.GUARANTOR, _l("银担合作（按担保机构）")),
}
ALERT_KIND = {
    AlertKind.GRADE_DROP: _l("评分等级下降"),
    AlertKind.DISHONEST_RECORD: _l("新增失信记录"),
    AlertKind.SERIOUS_PENALTY: _l("新增严重行政处罚"),
    AlertKind.HEADCOUNT_COLLAPSE: _l("参保人数骤降"),
    AlertKind.UTILITY_ARREARS: _l("水电气欠费"),
    AlertKind.TAX_ARREARS: _l("欠税"),
}
WHITELIST_STATUS = {
    WhitelistStatus.DRAFT: _l("草稿"),
    WhitelistStatus.CONFIRMED: _l("已确认"),
    WhitelistStatus.PUBLISHED: _l("已发布"),
    WhitelistStatus.SUPERSEDED: _l("已被替代"),
}


@bp.before_request
@role_required(Role.OFFICE)
def only_offices():
    """Every page here is for district offices; others get 403 (anonymous visitors the login page)."""


@bp.errorhandler(OutOfScope)
@bp.errorhandler(alert_service.AlertNotFound)
@bp.errorhandler(credit_repair.RecordNotFound)
def out_of_scope(_error):
    db.session.rollback()
    return current_app.handle_http_exception(NotFound())


EVIDENCE = {
    "from_grade": _l("原等级"), "to_grade": _l("现等级"), "notches": _l("下降级数"), "from_scored_at": _l("原评分时间"),
    "to_scored_at": _l("现评分时间"), "model_version": _l("模型版本"), "disbursed_on": _l("放款日期"),
    "record_id": _l("记录编号"), "record_kind": _l("记录类型"), "severity": _l("严重程度"), "decided_on": _l("决定日期"),
    "from_month": _l("起始月份"), "to_month": _l("最新月份"), "from_headcount": _l("起始参保人数"),
    "to_headcount": _l("最新参保人数"), "drop": _l("降幅"), "since_month": _l("欠缴起始月份"), "months": _l("欠缴月份"),
    "from_score_id": _l("原评分编号"), "to_score_id": _l("现评分编号"), "repaired_on": _l("已修复（修复日期）"),
}


def reason_label(reason) -> str:
    family = reason_family(reason.family, locale_code())
    return _("%(family)s：提升评分", family=family) if reason.contribution < 0 else _("%(family)s：拉低评分", family=family)


UTILITY_KIND = {"water": _l("水"), "electricity": _l("电"), "gas": _l("燃气")}


def evidence_value(key: str, value) -> str:
    """One piece of an alert's evidence in the page's language: stored vocabulary worded, moments in the
    display time zone, a utility month as what was billed, paid and how late."""
    if key == "record_kind":
        return str(PUBLIC_CREDIT_KIND.get(value, value))
    if key == "severity":
        return str(SEVERITY.get(value, value))
    if key.endswith("_scored_at") and isinstance(value, str):
        return local_time(value)
    if key == "months" and isinstance(value, dict):  # utility arrears: {month: {kind: {billed_fen, …}}}
        return "; ".join(f"{month} " + ", ".join(
            _("%(kind)s 应缴 %(billed)s 元，已缴 %(paid)s 元，逾期 %(days)s 天", kind=UTILITY_KIND.get(kind, kind),
              billed=f"{bill.get('billed_fen', 0) / 100:,.2f}", paid=f"{bill.get('paid_fen', 0) / 100:,.2f}",
              days=bill.get("days_late", 0)) for kind, bill in kinds.items()) for month, kinds in value.items())
    if isinstance(value, dict):
        return "; ".join(f"{k} {evidence_value(k, v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value * 100:.1f}%"
    return str(value)


@bp.context_processor
def office_helpers():
    return {"kpi_by_key": KPI_BY_KEY, "min_enterprises": MIN_ENTERPRISES, "alert_kind": ALERT_KIND,
            "whitelist_status": WHITELIST_STATUS, "format_cell": format_cell, "reason_label": reason_label,
            "evidence_label": lambda key: EVIDENCE.get(key, key), "evidence_value": evidence_value,
            "words_kind": PUBLIC_CREDIT_KIND, "words_severity": SEVERITY}


def _user_names(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids))).all())


def format_cell(kpi, cell) -> str:
    if cell.pending:
        return exports.not_yet_reported(cell.pending)
    if cell.suppressed:
        return "*"
    if cell.value is None:
        return "—"
    value = cell.value
    if kpi.unit == "wan":
        return wan(value, fixed=True)
    if kpi.unit == "ratio":
        return ratio(value)
    if kpi.unit == "percent":
        return f"{value:.2f}%"
    if kpi.unit == "days":
        return f"{value:.1f}"
    return f"{int(value):,}"


def _pre_aggregated() -> bool:
    """Views read the in-process cube (xinyidai.domain.figures.cube) unless XYD_OFFICE_PREAGGREGATE is off — the
    tests too (tests/conftest.py forgets the cube between tests, whose rolled-back transactions reuse ids)."""
    return bool(current_app.config.get("XYD_OFFICE_PREAGGREGATE", True))


def _scope() -> Scope:
    """The office's scope, narrowed to ?district= when given (which must lie inside it)."""
    return office_scope(current_user.district_code).narrowed(request.args.get("district") or None)


def _filters():
    filters = filters_from_args(request.args)
    if filters.bank_id is not None and db.session.get(Bank, filters.bank_id) is None:
        raise OutOfScope(filters.bank_id)
    return filters


def _view(view: str) -> Dimension:
    if view not in VIEWS or (view == "districts" and not office_scope(current_user.district_code).is_city):
        abort(404)
    return VIEWS[view][0]


def _audit_fields() -> dict:
    return {"actor_user_id": current_user.id, "remote_addr": request.remote_addr}


def _download(content: bytes, mimetype: str, filename: str):
    db.session.commit()  # the audit row of the export
    return current_app.response_class(content, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename={filename}", "Cache-Control": "no-store"})


# ---------------------------------------------------------------- dashboard

@bp.route("/dashboard", defaults={"view": "overview"})
@bp.route("/dashboard/<view>")
def dashboard(view: str):
    dimension = _view(view)
    scope, status = _scope(), 200
    try:
        filters = _filters()
    except BadPeriod as error:  # said on the page, the default period shown meanwhile
        flash(localized(error.zh, error.en), "error")
        filters, status = filters_from_args({}), 422
    table = office_table(db.session, scope, filters, dimension, pre_aggregated=_pre_aggregated())
    office = office_scope(current_user.district_code)
    banks = db.session.execute(sa.select(Bank.id, Bank.name_zh, Bank.name_en).order_by(Bank.code)).all()
    return render_template(
        "office/dashboard.html", view=view, views=VIEWS, table=table, filters=filters, scope=scope, office=office,
        figures=charts.figures_for(table), tiles=charts.district_tiles(table) if dimension is Dimension.DISTRICT else None,
        banks=[(b.id, localized(b.name_zh, b.name_en)) for b in banks], industries=INDUSTRY_SECTIONS,
        as_of=table.as_of and local_time(table.as_of),
        refresh_minutes=math.ceil(current_app.config.get("XYD_OFFICE_MAX_AGE_SECONDS", 0) / 60),
        months=_month_choices(filters), districts=SHANGHAI_DISTRICTS, args={**filters.query_args(), **({"district": request.args["district"]}
                                                                      if request.args.get("district") else {})}), status


def _month_choices(filters) -> list[date]:
    """The months a period may start or end in: the last three years, newest first, and the chosen ones."""
    latest = shanghai_month()
    months = {add_months(latest, -i) for i in range(36)} | {filters.start, filters.end}
    return sorted(months, reverse=True)


@bp.route("/dashboard/<view>/export.<file_format>")
def dashboard_export(view: str, file_format: str):
    """The view's table as CSV or Excel, with the same filters and suppression; audited."""
    dimension = _view(view)
    if file_format not in reports.FORMATS:
        abort(404)
    scope = _scope()
    try:
        filters = _filters()
    except BadPeriod as error:
        return current_app.response_class(localized(error.zh, error.en), status=422, mimetype="text/plain")
    content, mimetype, filename = reports.table_file(
        db.session, scope, filters, dimension, str(VIEWS[view][1]), file_format, audit=_audit_fields(),
        pre_aggregated=_pre_aggregated())
    return _download(content, mimetype, filename)


# ---------------------------------------------------------------- monthly report

def _report_month() -> date:
    """The month asked for, else last month; a month given that is not one (``9999-12``, ``2026-13``, outside
    the years every date keeps to) is an InputError, said rather than swapped for another month."""
    raw = request.args.get("month", "")
    if not raw.strip():
        return add_months(shanghai_month(), -1)
    return inputs.parse_month(raw)


@bp.route("/reports")
def report_page():
    office = office_scope(current_user.district_code)
    status = 200
    try:
        month = _report_month()
    except inputs.InputError as error:
        flash(_(error.message), "error")
        month, status = add_months(shanghai_month(), -1), 422
    recent = [add_months(shanghai_month(), -i) for i in range(1, 13)]
    return render_template("office/reports.html", month=month, recent=recent, office=office,
                           districts=SHANGHAI_DISTRICTS), status


@bp.route("/reports/monthly.<file_format>")
def monthly_report(file_format: str):
    if file_format not in reports.FORMATS:
        abort(404)
    scope = _scope()
    try:
        month = _report_month()
    except inputs.InputError as error:
        return current_app.response_class(str(_(error.message)), status=422, mimetype="text/plain")
    content, mimetype, filename = reports.monthly_report_file(
        db.session, scope, month, file_format, audit=_audit_fields(), pre_aggregated=_pre_aggregated())
    return _download(content, mimetype, filename)


# ---------------------------------------------------------------- whitelist

def _whitelist_district() -> str:
    """The district whose whitelist is managed: the office's own, or (city office) the one chosen."""
    office = office_scope(current_user.district_code)
    chosen = request.values.get("district") or office.districts[0]
    if chosen not in office.districts:  # another district's name is answered like a missing page, never ignored
        raise OutOfScope(chosen)
    return chosen


@bp.route("/whitelist")
def whitelist():
    district = _whitelist_district()
    policy = whitelist_service.policy_of(db.session, district)
    form = forms.ThresholdForm(min_grade=policy.min_grade if policy else whitelist_service.DEFAULT_MIN_GRADE)
    return render_template("office/whitelist.html", district=district, districts=SHANGHAI_DISTRICTS,
                           office=office_scope(current_user.district_code), policy=policy, form=form,
                           action_form=forms.ActionForm(), model=whitelist_service.active_model(db.session),
                           versions=(versions := whitelist_service.versions(db.session, district)),
                           confirmers=_user_names(v.confirmed_by_id for v, _n in versions))


@bp.route("/whitelist/threshold", methods=["POST"])
def set_threshold():
    district = _whitelist_district()
    form = forms.ThresholdForm()
    if not form.validate_on_submit():
        flash(_("请选择有效的门槛等级。"), "error")
    else:
        whitelist_service.set_threshold(db.session, district, form.min_grade.data, current_user.id)
        db.session.commit()
        flash(_("白名单门槛已设为 %(grade)s，下次生成名单时生效。", grade=form.min_grade.data), "success")
    return redirect(url_for("office.whitelist", district=district))


@bp.route("/whitelist/draft", methods=["POST"])
def draft_whitelist():
    district = _whitelist_district()
    if not forms.ActionForm().validate_on_submit():
        abort(400)
    try:
        version = whitelist_service.build_draft(db.session, district, current_user.id)
    except whitelist_service.WorkflowError as error:
        db.session.rollback()
        flash(localized(error.zh, error.en), "error")
        return redirect(url_for("office.whitelist", district=district))
    db.session.commit()
    flash(_("已按最新评分生成白名单草稿，请审核后确认。"), "success")
    return redirect(url_for("office.whitelist_version", version_id=version.id))


@bp.route("/whitelist/versions/<int:version_id>")
def whitelist_version(version_id: int):
    scope = office_scope(current_user.district_code)
    version = whitelist_service.office_version(db.session, scope, version_id)
    page = inputs.page_number(request.args.get("page"))
    grade = request.args.get("grade") if request.args.get("grade") in GRADE_SCALE else None
    rows, total = whitelist_service.candidates(db.session, version, page=page, grade=grade)
    return render_template("office/whitelist_version.html", version=version, rows=rows, total=total, page=page,
                           grade=grade, grades=GRADE_SCALE, per_page=50, action_form=forms.ActionForm(),
                           removed=whitelist_service.removed_since_previous(db.session, version),
                           confirmer=_user_names([version.confirmed_by_id]).get(version.confirmed_by_id),
                           publish_form=forms.PublishForm(), override_form=forms.OverrideForm(),
                           overrides=whitelist_service.overrides(db.session, version),
                           deciders=_user_names(o.decided_by_id for o, _n in whitelist_service.overrides(db.session, version)),
                           district_name=localized(*SHANGHAI_DISTRICTS[version.district_code]))


def _workflow_step(version_id: int, step, done: str, form=None):
    scope = office_scope(current_user.district_code)
    version = whitelist_service.office_version(db.session, scope, version_id, lock=True)
    form = form or forms.ActionForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors or not form.errors:
            abort(400)
        db.session.rollback()
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return whitelist_version(version_id), 422  # the page again, saying why (a browser shows no 4xx redirect)
    try:
        step(db.session, version, current_user.id)
    except whitelist_service.WorkflowError as error:
        db.session.rollback()
        flash(localized(error.zh, error.en), "error")
        return whitelist_version(version_id), 409
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("office.whitelist_version", version_id=version_id))


@bp.route("/whitelist/versions/<int:version_id>/confirm", methods=["POST"])
def confirm_whitelist(version_id: int):
    return _workflow_step(version_id, whitelist_service.confirm,
                          _("名单已确认。请由另一位工作人员核对后发布。"))


@bp.route("/whitelist/versions/<int:version_id>/publish", methods=["POST"])
def publish_whitelist(version_id: int):
    return _workflow_step(version_id, whitelist_service.publish, _("名单已发布，银行与匹配即刻按此版本执行。"),
                          form=forms.PublishForm())


@bp.route("/whitelist/versions/<int:version_id>/overrides", methods=["POST"])
def override_whitelist(version_id: int):
    """Include or exclude one firm of a draft, with a reason (the form on each row and above the list)."""
    form = forms.OverrideForm()

    def step(session, version, user_id):
        whitelist_service.override(session, version, (form.uscc.data or "").strip().upper(), form.action.data,
                                   form.reason.data, user_id)

    done = _("已纳入该企业。") if form.action.data == "include" else _("已移出该企业。")
    return _workflow_step(version_id, step, done, form=form)


@bp.route("/whitelist/versions/<int:version_id>/list.csv")
def download_whitelist(version_id: int):
    """The published list (USCC, name, grade) as a CSV; audited like every export."""
    version = whitelist_service.office_version(db.session, office_scope(current_user.district_code), version_id)
    try:
        rows = whitelist_service.published_list(db.session, version)
    except whitelist_service.WorkflowError:
        abort(404)
    content = exports.whitelist_csv(version, rows)
    filename = f"xinyidai-whitelist-{version.district_code}-v{version.id}.csv"
    record(db.session, "export", **_audit_fields(), detail={"what": "whitelist", "version_id": version.id,
                                                "district_code": version.district_code, "rows": len(rows),
                                                "filename": filename})
    return _download(content, "text/csv", filename)


# ---------------------------------------------------------------- alerts

@bp.route("/alerts")
def alerts():
    office = office_scope(current_user.district_code)
    status = request.args.get("status", "open")
    status = status if status in ("open", "acknowledged", "all") else "open"
    kind = request.args.get("kind") or None
    page = inputs.page_number(request.args.get("page"))
    rows, has_more = alert_service.office_alerts(db.session, office.districts, status=None if status == "all" else status,
                                                 kind=kind, page=page)
    return render_template("office/alerts.html", rows=rows, has_more=has_more, page=page, status=status, kind=kind,
                           counts=alert_service.open_counts(db.session, office.districts),
                           action_form=forms.ActionForm(), districts=SHANGHAI_DISTRICTS)


@bp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
def acknowledge_alert(alert_id: int):
    office = office_scope(current_user.district_code)
    alert = alert_service.office_alert(db.session, office.districts, alert_id)
    if not forms.ActionForm().validate_on_submit():
        abort(400)
    changed = alert_service.acknowledge(db.session, alert, current_user.id)
    db.session.commit()
    flash(_("预警已确认知悉。") if changed else _("该预警此前已确认。"), "success" if changed else "info")
    return redirect(request.form.get("next") if (request.form.get("next") or "").startswith("/office/alerts")
                    else url_for("office.alerts"))


# ---------------------------------------------------------------- credit repair (信用修复) applications

@bp.route("/repairs")
def repairs():
    office = office_scope(current_user.district_code)
    state = request.args.get("state", "applied")
    state = state if state in ("applied", "repaired", "rejected", "all") else "applied"
    rows = credit_repair.office_cases(db.session, office.districts, state=None if state == "all" else state)
    return render_template("office/repairs.html", rows=rows, state=state, today=_shanghai_today(),
                           districts=SHANGHAI_DISTRICTS)


def _shanghai_today() -> date:
    from models.base import SHANGHAI, utcnow

    return utcnow().astimezone(SHANGHAI).date()


def _render_repair_case(case, form, status: int = 200):
    from models.enterprise import Enterprise
    from models.sources import PublicCreditEvent

    return render_template("office/repair_case.html", case=case, form=form, today=_shanghai_today(),
                           event=db.session.get(PublicCreditEvent, case.record_id),
                           enterprise=db.session.get(Enterprise, case.uscc),
                           applicant=_user_names([case.applied_by_id]).get(case.applied_by_id),
                           decider=_user_names([case.decided_by_id]).get(case.decided_by_id)), status


@bp.route("/repairs/<int:case_id>")
def repair_case(case_id: int):
    case = credit_repair.office_case(db.session, office_scope(current_user.district_code).districts, case_id)
    form = forms.RepairOutcomeForm(formdata=None, decided_on=_shanghai_today())
    return _render_repair_case(case, form)


@bp.route("/repairs/<int:case_id>/outcome", methods=["POST"])
def repair_outcome(case_id: int):
    """Record the deciding authority's outcome; a repair re-scores, re-matches and updates alerts at once."""
    case = credit_repair.office_case(db.session, office_scope(current_user.district_code).districts, case_id, lock=True)
    form = forms.RepairOutcomeForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _render_repair_case(case, form, 422)
    try:
        credit_repair.record_outcome(db.session, case, form.outcome.data, decided_on=form.decided_on.data,
                                     note=form.note.data, user_id=current_user.id, today=_shanghai_today(),
                                     instance_path=current_app.config["XYD_INSTANCE_PATH"])
    except credit_repair.RepairRefused as error:
        db.session.rollback()
        form.outcome.errors = [localized(error.zh, error.en)]
        return _render_repair_case(credit_repair.office_case(db.session, office_scope(current_user.district_code)
                                                             .districts, case_id), form, 409 if error.conflict else 422)
    db.session.commit()
    flash(_("已登记：记录已修复，企业已重新评分并重新匹配。") if form.outcome.data == "repaired"
          else _("已登记不予修复，企业会看到说明。"), "success")
    return redirect(url_for("office.repair_case", case_id=case_id))


@bp.route("/repairs/<int:case_id>/evidence")
def repair_evidence(case_id: int):
    """The enterprise's evidence file, as uploaded (audited)."""
    from xinyidai.audit import record

    case = credit_repair.office_case(db.session, office_scope(current_user.district_code).districts, case_id)
    path = credit_repair.evidence_path(credit_repair.evidence_dir(current_app.instance_path), case) \
        if case.evidence_sha256 else None
    if path is None or not path.is_file():
        abort(404)
    record(db.session, "credit_repair_evidence_viewed", subject_uscc=case.uscc, **_audit_fields(),
           detail={"case_id": case.id, "record_id": case.record_id})
    db.session.commit()
    mimetype = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg"}[case.evidence_type]
    return current_app.response_class(path.read_bytes(), mimetype=mimetype, headers={  # 5 MB at most
        "Content-Disposition": f"attachment; filename=repair-{case.id}.{case.evidence_type}", "Cache-Control": "no-store"})


# ---------------------------------------------------------------- plotly.js, from the installed package

@bp.route("/assets/plotly.min.js")
def plotly_js():
    from importlib.resources import files

    path = files("plotly") / "package_data" / "plotly.min.js"
    return send_file(str(path), mimetype="text/javascript", max_age=7 * 24 * 3600, conditional=True)
