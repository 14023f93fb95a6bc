"""The bank workspace pages under /bank/… (the landing page /bank/ belongs to xinyidai.web).

Views are thin: parse the form, call a service in `operations`, commit, redirect; on an error they render
the same page again with the officer's input and a plain message. Every query is scoped by the logged-in
officer's bank, so another bank's product or application is a 404 here too.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import NotFound as HTTPNotFound

from models.base import utcnow
from models.identity import Role, User
from models.lending import Application, ApplicationState, Bank, Channel, Product, ProductStatus
from models.messages import Side
from xinyidai.audit import record
from xinyidai.auth import role_required
from xinyidai.bank import forms
from xinyidai.bank.queries import shared_dashboard
from xinyidai.domain import (
    authorization_requests,
    cells,
    credit_report,
    guarantees,
    inputs,
    messages,
    outcome_upload,
    staff,
)
from xinyidai.domain import products as operations
from xinyidai.domain import vocabulary as wording
from xinyidai.domain.authorizations import enterprise_view, live_authorization
from xinyidai.domain.errors import Invalid, NotFound, Refused
from xinyidai.domain.lifecycle import DECLINE_REASONS, Actor, Disbursement, IllegalTransition
from xinyidai.domain.money import basis_points, fen
from xinyidai.domain.needs import shanghai_today
from xinyidai.domain.outcome_upload import COLUMNS, apply_upload
from xinyidai.domain.pipeline import PipelineFilters, bank_applications, pipeline_page
from xinyidai.domain.tokens import bank_tokens, issue_token, revoke_token
from xinyidai.extensions import db, limiter
from xinyidai.i18n import locale_code, localized, translated
from xinyidai.reference import INDUSTRY_SECTIONS, SHANGHAI_DISTRICTS
from xinyidai.web.forms import attach, csrf_or_400

S = ApplicationState
bp = Blueprint("bank", __name__, url_prefix="/bank")


@bp.before_request
@role_required(Role.BANK)
def only_bank_officers():
    """Every page here is for bank officers; the others get 403 (anonymous visitors the login page)."""


@bp.errorhandler(NotFound)
def not_found(_error):
    """Another bank's object answers exactly like a missing one: the site's 404 page."""
    db.session.rollback()
    return current_app.handle_http_exception(HTTPNotFound())


@bp.context_processor
def bank_helpers():
    def score_reason(reason: dict) -> str:
        """A score reason (as the privacy view hands it out) in the scoring engine's words, in the page's
        language — never a feature code."""
        return wording.reason_text(reason["family"], reason["feature"], reason["contribution"], locale_code())

    def district_name(code: str | None) -> str:
        names = SHANGHAI_DISTRICTS.get(code or "")
        return localized(*names) if names else (code or "—")

    def industry_name(section: str | None) -> str:
        entry = INDUSTRY_SECTIONS.get(section or "")
        return localized(entry[0], entry[1]) if entry else (section or "—")

    return {"decline_reasons": DECLINE_REASONS, "guarantee_decline_reasons": guarantees.DECLINE_REASONS,
            "district_name": district_name, "industry_name": industry_name,
            "now_ts": utcnow().timestamp(), "score_reason": score_reason}


def _bank_id() -> int:
    return current_user.bank_id


def _actor() -> Actor:
    return Actor(Channel.WEB, user_id=current_user.id)


def _tenant_admin_only() -> None:
    if not current_user.is_tenant_admin:
        abort(403)


# ---------------------------------------------------------------- products

@bp.route("/products")
def products():
    rows = db.session.scalars(db.select(Product).where(Product.bank_id == _bank_id()).order_by(Product.code)).all()
    return render_template("bank/products.html", products=rows, status_form=forms.RevokeForm())


def _product_form() -> forms.ProductForm:
    return forms.ProductForm().with_guarantors(guarantees.active_guarantors(db.session), localized)


@bp.route("/products/new", methods=["GET", "POST"])
def new_product():
    form = _product_form()
    if form.validate_on_submit():
        try:
            product = operations.create_product(db.session, _bank_id(), form.to_service(), _actor())
        except Invalid as error:
            db.session.rollback()
            form.add_service_errors(error.errors)
        else:
            db.session.commit()
            flash(_("产品“%(name)s”已上架，并已与当前开放的融资需求匹配。", name=product.name_zh), "success")
            return redirect(url_for("bank.products"))
    return render_template("bank/product_form.html", form=form, product=None), 422 if form.errors else 200


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
def edit_product(product_id: int):
    product = operations.bank_product(db.session, _bank_id(), product_id)
    form = _product_form()
    if request.method == "GET":
        form.fill_from(product)
    elif form.validate_on_submit():
        try:
            operations.update_product(db.session, product, form.to_service(), _actor())
        except Invalid as error:
            db.session.rollback()
            form.add_service_errors(error.errors)
        else:
            db.session.commit()
            flash(_("产品已保存。修改只影响今后的新匹配，已在处理中的申请不受影响。"), "success")
            return redirect(url_for("bank.products"))
    return render_template("bank/product_form.html", form=form, product=product), 422 if form.errors else 200


@bp.route("/products/<int:product_id>/status", methods=["POST"])
def product_status(product_id: int):
    product = operations.bank_product(db.session, _bank_id(), product_id)
    form = forms.RevokeForm()
    wanted = request.form.get("status")
    if not form.validate_on_submit() or wanted not in (ProductStatus.ACTIVE.value, ProductStatus.PAUSED.value):
        abort(400)
    operations.set_product_status(db.session, product, ProductStatus(wanted), _actor())
    db.session.commit()
    flash(_("产品已暂停，不再产生新的匹配。") if wanted == "paused" else _("产品已恢复在售。"), "success")
    return redirect(url_for("bank.products"))


# ---------------------------------------------------------------- the pipeline

def _filters(form: forms.PipelineFilterForm) -> PipelineFilters:
    return PipelineFilters(
        district=form.district.data or None, industry=form.industry.data or None,
        min_amount_fen=fen(form.min_amount.data), max_amount_fen=fen(form.max_amount.data),
        min_grade=form.min_grade.data or None,
        whitelisted={"yes": True, "no": False}.get(form.whitelisted.data or ""),
        max_age_days=form.max_age_days.data, sort=form.sort.data or "newest")


@bp.route("/pipeline")
def pipeline():
    form = forms.PipelineFilterForm(request.args)
    valid = form.validate()
    rejected = {} if valid else {getattr(form, name).label.text: errors for name, errors in form.errors.items()}
    if not valid:  # the list below is unfiltered: the form must say so, not keep showing the refused values
        errors = form.errors
        form = forms.PipelineFilterForm(formdata=None)
        for name, messages in errors.items():  # each refused field still says why, beside its (now empty) input
            getattr(form, name).errors = list(messages)
    page_number = inputs.page_number(request.args.get("page"))
    page = pipeline_page(db.session, _bank_id(), _filters(form) if valid else PipelineFilters(),
                         page=min(max(page_number, 1), 100_000),
                         sla_working_days=current_app.config["XYD_CLAIM_SLA_WORKING_DAYS"])
    args = {k: v for k, v in request.args.items() if k != "page"} if valid else {}
    authorized = {row.application.uscc for row in page.rows
                  if live_authorization(db.session, row.application.uscc, _bank_id()) is not None}
    from xinyidai.bank.joint_routes import joint_extras

    joint = joint_extras([row.application.id for row in page.rows], [row.application.uscc for row in page.rows])
    return render_template("bank/pipeline.html", form=form, page=page, args=args, claim_form=forms.ActionForm(),
                           rejected=rejected, authorized=authorized, joint=joint,
                           sla_days=current_app.config["XYD_CLAIM_SLA_WORKING_DAYS"]), 200 if valid else 422


@bp.route("/applications")
def applications():
    state = request.args.get("state") or None
    states = [S(state)] if state in {s.value for s in S} else None
    page = bank_applications(db.session, _bank_id(), states, page=inputs.page_number(request.args.get("page")))
    return render_template("bank/applications.html", page=page, state=states[0] if states else None)


# ---------------------------------------------------------------- one application

def _approve_form(application: Application) -> forms.ApproveForm:
    """Proposed terms: the need's amount and term, the product's lowest rate."""
    form = forms.ApproveForm(formdata=None)
    form.amount.data = Decimal(application.need.amount_fen) / 100
    form.term_months.data = application.need.term_months
    form.rate.data = Decimal(application.product.min_rate_bp) / 100
    return form


def _render_application(application: Application, status: int = 200, **overrides):
    from xinyidai.bank.joint_routes import joint_extras

    view = enterprise_view(db.session, application, _actor(), remote_addr=request.remote_addr)
    messages.mark_read(db.session, application, Side.BANK)
    db.session.commit()  # the audit row of the detail view, the read marks of the enterprise's messages
    joint = joint_extras([application.id], [application.uscc])
    reassign = overrides.get("reassign_form") or forms.ReassignForm()
    reassign.officer_id.choices = forms.options((u.id, u.display_name) for u in operations.bank_officers(db.session, _bank_id()))
    context = {
        "application": application, "view": view, "claim_form": forms.ActionForm(), "approve_form": _approve_form(application),
        "decline_form": forms.DeclineForm(), "disburse_form": forms.DisburseForm(),
        "repayment_form": forms.RepaymentForm(), "reassign_form": reassign,
        "attach_form": overrides.get("attach_form") or forms.AttachReportForm(formdata=None),
        "credit_reports": credit_report.attachments_of(db.session, application.id),
        "sla_days": current_app.config["XYD_CLAIM_SLA_WORKING_DAYS"], "joint": joint, "confirm_form": forms.ActionForm(),
        "thread": messages.thread(db.session, application), "may_write": messages.may_write(application),
        "message_form": forms.MessageForm(formdata=None), "request_form": forms.AuthorizationRequestForm(formdata=None),
        "may_request": authorization_requests.may_request(db.session, application),
        "guarantee_rows": guarantees.guarantees_of(db.session, application.id),
        "guarantee_form": _guarantee_form(application, overrides.pop("guarantee_form", None)),
        "guarantor_names": {g.id: localized(g.name_zh, g.name_en) for g in guarantees.active_guarantors(db.session)},
        "latest_request": authorization_requests.latest_request(db.session, application),
        **{k: v for k, v in overrides.items() if k not in ("reassign_form", "attach_form")},
    }
    if "disburse_form" not in overrides and application.product:
        disburse = context["disburse_form"]
        disburse.guarantee_type.data = application.product.guarantee_type.value
        disburse.term_months.data = application.approved_term_months or application.need.term_months
        if application.approved_amount_fen:
            disburse.amount.data = Decimal(application.approved_amount_fen) / 100
        if application.approved_rate_bp is not None:
            disburse.rate.data = Decimal(application.approved_rate_bp) / 100
    return render_template("bank/application.html", **context), status


def _guarantee_form(application: Application, form=None) -> forms.GuaranteeRequestForm:
    form = form or forms.GuaranteeRequestForm(formdata=None)
    offered = guarantees.offered_products(db.session, application) if application.product.guarantor_required else []
    return form.with_products(offered, localized, lambda bp: f"{bp / 100:.2f}%")


@bp.route("/applications/<int:application_id>")
def application_detail(application_id: int):
    return _render_application(operations.bank_application(db.session, _bank_id(), application_id))


def _plain_reason(error: IllegalTransition | Invalid) -> str:
    """The refusal in the page's language (the state machine words every reason in Chinese and English)."""
    if isinstance(error, IllegalTransition):
        return error.en if str(get_locale()) == "en" else error.zh
    return _("；").join(translated(str(m)) for texts in error.errors.values() for m in texts)


def _act(application_id: int, form, build_report, form_name: str, done_message: str):
    application = operations.bank_application(db.session, _bank_id(), application_id, lock=True)
    if not form.validate_on_submit():
        db.session.rollback()
        return _render_application(application, 422, **{form_name: form})
    try:
        applied = operations.report_outcome(db.session, application, build_report(form), _actor(),
                                            idempotency_key=form.idempotency_key.data)
    except (IllegalTransition, Invalid) as error:
        db.session.rollback()
        flash(_("未能保存：%(reason)s", reason=_plain_reason(error)), "error")
        return _render_application(db.session.get(Application, application_id), 409, **{form_name: form})
    db.session.commit()
    flash(_("这项操作此前已经保存过，未重复执行。") if applied.repeated else done_message, "info" if applied.repeated else "success")
    return redirect(url_for("bank.application_detail", application_id=application_id))


@bp.route("/applications/<int:application_id>/credit-report", methods=["POST"])
def attach_credit_report(application_id: int):
    """Attach a credit report the enterprise gave the bank; the platform checks it like /verify (audited)."""
    application = operations.bank_application(db.session, _bank_id(), application_id)
    form = forms.AttachReportForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _render_application(application, 422, attach_form=form)
    upload = form.report.data
    file_bytes = upload.read(credit_report_max_bytes() + 1) if upload and getattr(upload, "filename", "") else None
    attachment = credit_report.attach_to_application(db.session, application, form.number.data, form.code.data,
                                                     user_id=current_user.id, file_bytes=file_bytes,
                                                     remote_addr=request.remote_addr)
    db.session.commit()
    if attachment.outcome == credit_report.GENUINE and attachment.file_matches is not False:
        flash(_("报告核验通过：真实有效，已附到本申请。"), "success")
    else:
        flash(_("报告核验未通过，已记录在本申请中，请查看结果。"), "error")
    return redirect(url_for("bank.application_detail", application_id=application_id) + "#credit-reports")


def credit_report_max_bytes() -> int:
    from xinyidai.web.verify import MAX_PDF_BYTES

    return MAX_PDF_BYTES


@bp.route("/applications/<int:application_id>/claim", methods=["POST"])
def claim(application_id: int):
    return _act(application_id, forms.ActionForm(), lambda f: operations.OutcomeReport(S.CLAIMED), "claim_form",
                _("已受理。其他银行不能再受理这笔需求。"))


def _fen(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


@bp.route("/applications/<int:application_id>/guarantee", methods=["POST"])
def request_guarantee(application_id: int):
    """申请担保 (银担合作): claimed → guarantee_requested with one of the guarantee products on offer."""
    return _act(application_id, forms.GuaranteeRequestForm(),
                lambda f: operations.OutcomeReport(S.GUARANTEE_REQUESTED,
                                                   guarantee_product_id=inputs.parse_id(f.guarantee_product_id.data)),
                "guarantee_form", _("已向担保机构申请担保，担保机构同意后即可审批。"))


@bp.route("/applications/<int:application_id>/approve", methods=["POST"])
def approve(application_id: int):
    return _act(application_id, forms.ApproveForm(),
                lambda f: operations.OutcomeReport(S.APPROVED, approval=operations.Approval(
                    _fen(f.amount.data), f.term_months.data, _fen(f.rate.data))),
                "approve_form", _("已审批通过，企业会看到批准的金额、期限和利率。"))


@bp.route("/applications/<int:application_id>/decline", methods=["POST"])
def decline(application_id: int):
    return _act(application_id, forms.DeclineForm(),
                lambda f: operations.OutcomeReport(S.DECLINED, reason_code=f.reason_code.data,
                                                   reason_text=(f.reason_text.data or "").strip() or None),
                "decline_form", _("已拒绝。这笔需求将重新开放给其他匹配的银行。"))


@bp.route("/applications/<int:application_id>/disburse", methods=["POST"])
def disburse(application_id: int):
    def report(f):
        loan = Disbursement(fen(f.amount.data), basis_points(f.rate.data), f.term_months.data, f.disbursed_on.data, f.guarantee_type.data)
        return operations.OutcomeReport(S.DISBURSED, disbursement=loan)

    return _act(application_id, forms.DisburseForm(), report, "disburse_form", _("放款信息已报送。"))


@bp.route("/applications/<int:application_id>/repayment", methods=["POST"])
def repayment(application_id: int):
    form = forms.RepaymentForm()

    def report(f):
        return operations.OutcomeReport(S(f.status.data), days_past_due=f.days_past_due.data, as_of=f.as_of.data,
                                        outstanding_fen=fen(f.outstanding.data))

    return _act(application_id, form, report, "repayment_form", _("还款状态已报送。"))


@bp.route("/applications/<int:application_id>/reassign", methods=["POST"])
def reassign(application_id: int):
    application = operations.bank_application(db.session, _bank_id(), application_id, lock=True)
    form = forms.ReassignForm()
    form.officer_id.choices = forms.options((u.id, u.display_name) for u in operations.bank_officers(db.session, _bank_id()))
    if not form.validate_on_submit():
        return _render_application(application, 422, reassign_form=form)
    try:
        operations.reassign(db.session, application, form.officer_id.data, _actor())
    except (IllegalTransition, Invalid) as error:
        db.session.rollback()
        flash(_("未能转交：%(reason)s", reason=_plain_reason(error)), "error")
        return _render_application(db.session.get(Application, application_id), 409, reassign_form=form)
    db.session.commit()
    flash(_("已转交。"), "success")
    return redirect(url_for("bank.application_detail", application_id=application_id))


def _write(application_id: int, form, name: str, action, done_message: str, anchor: str):
    """A post on one application that is not a lifecycle step (a message, an authorization request)."""
    application = operations.bank_application(db.session, _bank_id(), application_id, lock=True)
    if not form.validate_on_submit():
        csrf_or_400(form)
        db.session.rollback()
        return _render_application(application, 422, **{name: form})
    try:
        action(application, form)
    except Invalid as error:
        db.session.rollback()
        attach(form, error.errors)
        return _render_application(db.session.get(Application, application_id), 422, **{name: form})
    except Refused as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return _render_application(db.session.get(Application, application_id), 409, **{name: form})
    db.session.commit()
    flash(done_message, "success")
    return redirect(url_for("bank.application_detail", application_id=application_id) + anchor)


@bp.route("/applications/<int:application_id>/messages", methods=["POST"])
def send_message(application_id: int):
    return _write(application_id, forms.MessageForm(), "message_form",
                  lambda application, f: messages.send(db.session, application, current_user.user, Side.BANK,
                                                       f.body.data),
                  _("留言已发送，企业会在申请页面看到。"), "#thread")


@bp.route("/applications/<int:application_id>/authorization-request", methods=["POST"])
def request_authorization(application_id: int):
    return _write(application_id, forms.AuthorizationRequestForm(), "request_form",
                  lambda application, f: authorization_requests.request_authorization(
                      db.session, application, current_user.user, note=f.note.data),
                  _("已向企业发出授权请求。企业同意后，本页即显示其授权范围内的明细。"), "#authorization")


# ---------------------------------------------------------------- dashboard

@bp.route("/dashboard")
def bank_dashboard():
    figures = shared_dashboard(db.session, _bank_id(), sla_working_days=current_app.config["XYD_CLAIM_SLA_WORKING_DAYS"])
    return render_template("bank/dashboard.html", figures=figures)


@bp.route("/dashboard.csv")
def dashboard_csv():
    figures = shared_dashboard(db.session, _bank_id(), sla_working_days=current_app.config["XYD_CLAIM_SLA_WORKING_DAYS"])
    out = io.StringIO()
    writer = cells.csv_writer(out)
    # Headers in the page's language: whoever exported it reads the file (the API is for systems).
    writer.writerow([_("产品代码"), _("产品名称"), _("匹配"), _("受理"), _("审批通过"), _("拒绝"), _("放款"), _("违约"),
                     _("放款金额（元）"), _("审批通过率"), _("违约率")])
    for p in figures.products:
        writer.writerow([p.code, localized(p.name_zh, p.name_en), p.matched, p.claimed, p.approved, p.declined, p.disbursed, p.defaulted,
                         f"{p.disbursed_fen / 100:.2f}",
                         "" if p.approval_rate is None else f"{p.approval_rate:.4f}",
                         "" if p.default_rate is None else f"{p.default_rate:.4f}"])
    writer.writerow([])
    stage_names = {"matched": _("匹配"), "claimed": _("受理"), "approved": _("审批通过"), "disbursed": _("放款")}
    writer.writerow([_("漏斗"), *(stage_names.get(k, k) for k in figures.funnel)])
    writer.writerow(["", *figures.funnel.values()])
    writer.writerow([_("受理笔数"), _("时限内受理"), _("受理时限（工作日）"), _("受理用时中位数（工作日）"), _("超时未受理")])
    writer.writerow([figures.claims, figures.claimed_within_sla, figures.sla_working_days,
                     "" if figures.median_claim_working_days is None else figures.median_claim_working_days,
                     figures.open_past_sla])
    record(db.session, "export", actor_user_id=current_user.id, remote_addr=request.remote_addr,
           detail={"what": "bank_dashboard", "bank_id": _bank_id()})
    db.session.commit()
    return current_app.response_class(
        "\ufeff" + out.getvalue(), mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=bank-dashboard-{date.today():%Y%m%d}.csv"})


# ---------------------------------------------------------------- outcome upload

def _results_dir() -> Path:
    return Path(current_app.config["XYD_INSTANCE_PATH"]) / "outcome_results" / str(_bank_id())


@bp.route("/outcomes/upload", methods=["GET", "POST"])
def upload_outcomes():
    form = forms.UploadForm()
    summary = None
    if form.validate_on_submit():
        try:
            summary = apply_upload(db.session, _bank_id(), form.file.data.read(), Actor(Channel.CSV, user_id=current_user.id),
                                   _results_dir())
        except Invalid as error:
            db.session.rollback()
            form.file.errors = [*form.file.errors, *error.errors.get("file", [])]
        else:
            db.session.commit()
            flash(_("已处理 %(rows)s 行：新保存 %(applied)s 行，此前已保存 %(unchanged)s 行，未通过 %(rejected)s 行。",
                    rows=len(summary.results), applied=summary.count("applied"), unchanged=summary.count("unchanged"),
                    rejected=summary.count("rejected")), "warning" if summary.count("rejected") else "success")
    status = 422 if form.errors else 200
    return render_template("bank/upload.html", form=form, summary=summary, columns=COLUMNS,
                           rules=[(column, outcome_upload.allowed_values(column, english=locale_code() == "en"),
                                   outcome_upload.COLUMN_RULES[column][1]) for column in COLUMNS],
                           english=locale_code() == "en"), status


_TEMPLATE_EXAMPLES = [  # (outcome, {column: value}) — one example row per kind of report
    ("claimed", {}),
    ("approved", {"amount_yuan": "500000", "rate_percent": "3.85", "term_months": "12"}),
    ("declined", {"reason_code": "credit_record", "reason_text": "__reason__"}),
    ("disbursed", {"amount_yuan": "500000", "rate_percent": "3.85", "term_months": "12", "disbursed_on": "__today__",
                   "guarantee_type": "__credit__"}),
    ("repaying", {"as_of": "__month_end__", "outstanding_yuan": "480000"}),
    ("overdue", {"days_past_due": "35", "as_of": "__month_end__", "outstanding_yuan": "480000"}),
    ("repaid", {"as_of": "__month_end__", "outstanding_yuan": "0"}),
]


@bp.route("/outcomes/template.csv")
def upload_template():
    """The upload's CSV template in the page's language: the header, one note row saying what each column
    allows, and one example row per kind of report. Note rows start with "#" and are never applied, so the
    file can be filled in below them and uploaded as it is."""
    english = locale_code() == "en"
    today = shanghai_today()
    month_end = today.replace(day=1) - timedelta(days=1)
    fill = {"__reason__": _("纳税信用 D 级"), "__today__": today.isoformat(), "__month_end__": month_end.isoformat(),
            "__credit__": "credit" if english else "信用"}
    buffer = io.StringIO()
    writer = cells.csv_writer(buffer)
    writer.writerow(COLUMNS)
    allowed = []
    for column in COLUMNS:
        values, rule = outcome_upload.allowed_values(column, english=english), outcome_upload.COLUMN_RULES[column][1]
        allowed.append((" | ".join(values) + " — " if values else "") + _(rule))
    allowed[0] = f"{outcome_upload.NOTE_MARK} " + _("允许的值：") + allowed[0]
    writer.writerow(allowed)
    for outcome, values in _TEMPLATE_EXAMPLES:
        example = {column: fill.get(value, value) for column, value in values.items()}
        writer.writerow([f"{outcome_upload.NOTE_MARK} " + _("示例"), outcome,
                         *(example.get(column, "") for column in COLUMNS[2:])])
    response = current_app.response_class("\ufeff" + buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=xinyidai-outcomes-template.csv"
    return response


@bp.route("/outcomes/results/<name>")
def upload_results(name: str):
    """A per-row result file; looked up in this bank's own folder only."""
    if "/" in name or "\\" in name or not name.endswith(".csv"):
        abort(404)
    return send_from_directory(_results_dir(), name, mimetype="text/csv", as_attachment=True)


# ---------------------------------------------------------------- API tokens (the bank's administrator)

def _token_create_limit() -> str:
    return current_app.config["XYD_TOKEN_CREATE_RATE_LIMIT"]


def _per_user() -> str:
    return f"user:{current_user.id}" if current_user.is_authenticated else request.remote_addr or ""


@bp.route("/tokens", methods=["GET", "POST"])
@limiter.limit(_token_create_limit, methods=["POST"], key_func=_per_user)  # a stolen session cannot mint many
def tokens():
    _tenant_admin_only()
    form = forms.TokenForm()
    issued = None
    if form.validate_on_submit():
        try:
            issued = issue_token(db.session, db.session.get(Bank, _bank_id()), form.name.data, created_by_id=current_user.id)
        except Invalid as error:
            db.session.rollback()
            form.name.errors = [*form.name.errors, *error.errors["name"]]
        else:
            db.session.commit()
            form = forms.TokenForm(formdata=None)
    response = current_app.make_response((render_template(
        "bank/tokens.html", form=form, issued=issued, tokens=bank_tokens(db.session, _bank_id()),
        revoke_form=forms.RevokeForm()), 422 if form.errors else 200))
    response.headers["Cache-Control"] = "no-store"  # the new token is on this page once; keep it out of caches
    return response


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke(token_id: int):
    _tenant_admin_only()
    if not forms.RevokeForm().validate_on_submit():
        abort(400)
    revoke_token(db.session, _bank_id(), token_id, revoked_by_id=current_user.id)
    db.session.commit()
    flash(_("令牌已吊销，使用它的系统将无法再访问接口。"), "success")
    return redirect(url_for("bank.tokens"))


# ---------------------------------------------------------------- staff (the bank's administrator)

def _render_staff(form=None, status: int = 200, invited=None):
    _tenant_admin_only()
    rows = staff.bank_staff(db.session, _bank_id())
    response = current_app.make_response((render_template(
        "bank/staff.html", rows=rows, form=form or forms.StaffForm(formdata=None), invited=invited,
        action_form=forms.RevokeForm(), colleagues=[r.user for r in rows if r.user.is_active]), status))
    response.headers["Cache-Control"] = "no-store"  # a one-time password may be on this page
    return response


def _current_admin() -> User:
    return current_user.user


@bp.route("/staff", methods=["GET", "POST"])
def staff_page():
    _tenant_admin_only()
    form = forms.StaffForm()
    if not form.is_submitted():
        return _render_staff(form)
    if form.validate():
        try:
            invited = staff.invite(db.session, _current_admin(), display_name=form.display_name.data,
                                   username=form.username.data, email=form.email.data, phone=form.phone.data,
                                   tenant_admin=bool(form.tenant_admin.data))
        except Invalid as error:
            db.session.rollback()
            attach(form, error.errors)
        else:
            db.session.commit()
            return _render_staff(forms.StaffForm(formdata=None), 200, invited=invited)
    csrf_or_400(form)
    return _render_staff(form, 422)


def _staff_action(action, done_message: str):
    _tenant_admin_only()
    if not forms.RevokeForm().validate_on_submit():
        abort(400)
    try:
        action(_current_admin())
    except Refused as error:
        db.session.rollback()
        flash(str(error.message), "error")
    except Invalid as error:
        db.session.rollback()
        flash(_plain_reason(error), "error")
    else:
        db.session.commit()
        flash(done_message, "success")
    return redirect(url_for("bank.staff_page"))


@bp.route("/staff/<int:user_id>/deactivate", methods=["POST"])
def deactivate_staff(user_id: int):
    return _staff_action(lambda admin: staff.deactivate_officer(db.session, admin, user_id), _("该员工账户已停用。"))


@bp.route("/staff/<int:user_id>/role", methods=["POST"])
def staff_role(user_id: int):
    wanted = request.form.get("tenant_admin") == "1"
    return _staff_action(lambda admin: staff.set_administrator(db.session, admin, user_id, tenant_admin=wanted),
                         _("角色已更新。"))


@bp.route("/staff/<int:user_id>/hand-over", methods=["POST"])
def hand_over(user_id: int):
    to_user_id = request.form.get("to_user_id", type=int) or 0
    return _staff_action(lambda admin: staff.hand_over(db.session, admin, user_id, to_user_id),
                         _("已转交名下的在办申请。"))
