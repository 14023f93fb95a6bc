"""The enterprise portal under /enterprise/… and registration at /register.

Views parse the form, call a service in `operations`, commit and redirect; on bad input they render the
same page again with what was typed and a message beside each field (HTTP 422), having changed nothing.
Every look-up goes through the logged-in user's enterprise, so another enterprise's need, application or
authorization is a 404 here.
"""

from __future__ import annotations

import math
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import NotFound as HTTPNotFound

from models.enterprise import Enterprise
from models.identity import Role
from models.lending import Bank
from models.messages import Side
from xinyidai.auth import role_required
from xinyidai.auth.session import start_session
from xinyidai.domain import (
    authorization_requests,
    credit_repair,
    credit_report,
    guarantees,
    in_principle,
    inputs,
    messages,
    score_explanation,
)
from xinyidai.domain import needs as operations
from xinyidai.domain import notifications as notification_service
from xinyidai.domain.banks import serves_enterprises
from xinyidai.domain.errors import Invalid, NotFound
from xinyidai.domain.matching import match_need
from xinyidai.domain.need_schema import need_errors
from xinyidai.domain.standing import standing_of
from xinyidai.domain.working_days import current_calendar
from xinyidai.enterprise import forms, helpers, queries
from xinyidai.extensions import db, limiter
from xinyidai.i18n import locale_code
from xinyidai.moments import local_date
from xinyidai.web.actions import act
from xinyidai.web.forms import attach, csrf_or_400

bp = Blueprint("enterprise", __name__, url_prefix="/enterprise")
registration = Blueprint("registration", __name__)
DEFAULT_AUTHORIZATION_DAYS = 180
bp.context_processor(helpers.template_helpers)
registration.context_processor(helpers.template_helpers)


@bp.before_request
@role_required(Role.ENTERPRISE)
def only_enterprise_users():
    """Every page here is for an enterprise's staff; other roles get 403, anonymous visitors the login page."""


@bp.errorhandler(NotFound)
def not_found(_error):
    """Another enterprise's object answers exactly like a missing one."""
    db.session.rollback()
    return current_app.handle_http_exception(HTTPNotFound())


def _user():
    return current_user.user


def _uscc() -> str:
    return current_user.enterprise_uscc


# ---------------------------------------------------------------- registration

def _register_limit() -> str:
    return current_app.config.get("XYD_REGISTER_RATE_LIMIT", "5/minute;30/hour")


@registration.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
def register():
    """GET shows the form; POST registers the enterprise and logs its administrator in (rate-limited)."""
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    form = forms.RegistrationForm()
    if not form.is_submitted():
        return render_template("enterprise/register.html", form=form)
    if form.validate():
        data = operations.Registration(form.uscc.data, form.name.data, form.contact_name.data,
                                       form.contact_phone.data.replace(" ", ""),
                                       (form.contact_email.data or "").strip() or None,
                                       form.username.data, form.password.data)
        try:
            user = operations.register_enterprise(db.session, data, remote_addr=request.remote_addr)
        except Invalid as error:
            db.session.rollback()
            attach(form, error.errors)
        except operations.RegistrationRefused:
            db.session.commit()  # only the audit row of the refusal
            flash(_("无法完成注册：请核对统一社会信用代码和企业名称是否与营业执照一致。"
                    "如果贵企业已开通账户，请联系企业管理员为您添加员工账户。"), "error")
        else:
            db.session.commit()
            start_session(user)
            flash(_("注册成功。下一步：授权银行查看您的信用信息。"), "success")
            return redirect(url_for("enterprise.authorizations"))
    csrf_or_400(form)
    return render_template("enterprise/register.html", form=form), 422


# ---------------------------------------------------------------- data authorization (授权)

def _authorization_form(form=None):
    form = form or forms.AuthorizationForm()
    banks = db.session.scalars(db.select(Bank).where(serves_enterprises()).order_by(Bank.code)).all()
    form.bank_ids.choices = forms.options((str(bank.id), bank.name_en if locale_code() == "en" else bank.name_zh)
                                          for bank in banks)
    form.guarantor_ids.choices = forms.options((str(g.id), g.name_en if locale_code() == "en" else g.name_zh)
                                               for g in guarantees.active_guarantors(db.session))
    if not form.is_submitted():
        form.expires_on.data = operations.shanghai_today() + timedelta(days=DEFAULT_AUTHORIZATION_DAYS)
    return form


def _render_authorizations(form, status: int = 200):
    uscc = _uscc()
    return render_template(
        "enterprise/authorizations.html", form=form, revoke_form=forms.ActionForm(),
        authorizations=queries.authorizations(db.session, uscc), now=operations.utcnow(),
        visibility=queries.visibility_by_bank(db.session, uscc), views=queries.data_views(db.session, uscc),
    ), status


@bp.route("/authorizations", methods=["GET"])
def authorizations():
    return _render_authorizations(_authorization_form())


@bp.route("/authorizations", methods=["POST"])
def grant():
    form = _authorization_form()
    return act(form, lambda: operations.grant_authorization(db.session, _user(), operations.Grant(
        sources=list(form.sources.data or []), all_banks=form.scope.data != "chosen",
        bank_ids=[inputs.parse_id(i) or -1 for i in form.bank_ids.data or []],
        guarantor_ids=[inputs.parse_id(i) or -1 for i in form.guarantor_ids.data or []],
        expires_on=form.expires_on.data)),
        done=_("授权已生效。您可以随时撤销。"), to=url_for("enterprise.authorizations"), again=_render_authorizations)


@bp.route("/authorizations/<int:authorization_id>/revoke", methods=["POST"])
def revoke(authorization_id: int):
    return act(forms.ActionForm(), lambda: operations.revoke_authorization(db.session, _user(), authorization_id),
               done=_("授权已撤销，银行从现在起不能再查看您的明细。"), to=url_for("enterprise.authorizations"))


# ---------------------------------------------------------------- my credit profile

def _render_profile(status: int = 200, **form_overrides):
    uscc = _uscc()
    enterprise = db.session.get(Enterprise, uscc)
    standing = queries.standing(db.session, enterprise)
    held = queries.data_held(db.session, uscc)
    explanation = (score_explanation.explain(db.session, current_app.config["XYD_INSTANCE_PATH"], standing.score,
                                             enterprise.district_code) if standing.score else None)
    return render_template(
        "enterprise/profile.html", enterprise=enterprise, standing=standing, held=held, explanation=explanation,
        advice=queries.advice(held, standing.score, operations.shanghai_today(), locale_code()),
        commitments=queries.commitments(db.session, uscc), reports=queries.self_reports(db.session, uscc),
        commitment_form=form_overrides.get("commitment_form") or forms.CommitmentForm(formdata=None),
        report_form=form_overrides.get("report_form") or forms.SelfReportForm(formdata=None),
        action_form=forms.ActionForm(), today=operations.shanghai_today(),
    ), status


@bp.route("/profile")
def profile():
    return _render_profile()


@bp.route("/profile/commitments", methods=["POST"])
def commit():
    form = forms.CommitmentForm()
    return act(form, lambda: operations.make_commitment(db.session, _user(), form.text.data),
               done=_("信用承诺已保存，银行查看时会标明“企业自愿承诺”。"), to=url_for("enterprise.profile") + "#commitments",
               again=lambda form, status: _render_profile(status, commitment_form=form))


@bp.route("/profile/commitments/<int:commitment_id>/withdraw", methods=["POST"])
def withdraw_commitment(commitment_id: int):
    return act(forms.ActionForm(), lambda: operations.withdraw_commitment(db.session, _user(), commitment_id),
               done=_("承诺已撤回。"), to=url_for("enterprise.profile") + "#commitments")


@bp.route("/profile/self-reports", methods=["POST"])
def self_report():
    form = forms.SelfReportForm()
    return act(form, lambda: operations.add_self_report(db.session, _user(), topic=form.topic.data,
                                                        period=form.period.data, value=form.value.data),
               done=_("已保存。这是企业自愿填报的信息，会标明“自愿填报，未经核验”。"),
               to=url_for("enterprise.profile") + "#self-reports",
               again=lambda form, status: _render_profile(status, report_form=form))


# ---------------------------------------------------------------- the enterprise's own credit report (专用信用报告)

def _render_reports(form, status: int = 200):
    return render_template("enterprise/reports.html", form=form, action_form=forms.ActionForm(),
                           reports=credit_report.reports_of(db.session, _uscc()), now=operations.utcnow()), status


@bp.route("/reports", methods=["GET"])
def reports():
    return _render_reports(forms.CreditReportForm(formdata=None))


@bp.route("/reports", methods=["POST"])
def generate_report():
    """Issue a report and answer with its PDF (the platform keeps only its header and digest)."""
    from xinyidai.web import credit_report_pdf
    from xinyidai.web.verify import verify_url

    form = forms.CreditReportForm()
    if not form.validate():
        csrf_or_400(form)
    try:
        request_ = credit_report.report_request(form.sections.data, form.years.data, form.language.data)
    except credit_report.ReportRefused as error:
        form.sections.errors = [error.en if locale_code() == "en" else error.zh]
        return _render_reports(form, 422)
    issued = credit_report.issue_report(
        db.session, db.session.get(Enterprise, _uscc()), request_, render=credit_report_pdf.render,
        verify_url=verify_url, by_user_id=_user().id, remote_addr=request.remote_addr,
        valid_days=current_app.config.get("XYD_CREDIT_REPORT_VALID_DAYS", credit_report.VALID_DAYS))
    db.session.commit()
    response = make_response(issued.pdf)
    response.headers.update({"Content-Type": "application/pdf", "Cache-Control": "no-store",
                             "Content-Disposition": f"attachment; filename={issued.report.number}.pdf"})
    return response


@bp.route("/reports/<int:report_id>/revoke", methods=["POST"])
def revoke_report(report_id: int):
    def revoke_it() -> bool:
        try:
            return credit_report.revoke_report(db.session, _uscc(), report_id, _user().id)
        except credit_report.ReportNotFound:
            raise NotFound(report_id) from None

    return act(forms.ActionForm(), revoke_it, to=url_for("enterprise.reports"),
               done=lambda changed: ((_("报告已作废，银行核验时会看到“已作废”。"), "success") if changed
                                     else (_("该报告此前已作废。"), "info")))


# ---------------------------------------------------------------- credit repair (信用修复)

def _render_repair(form=None, record_id: str | None = None, status: int = 200):
    cases = credit_repair.cases_of(db.session, _uscc())
    if credit_repair.mark_outcomes_seen(db.session, _uscc()):
        db.session.commit()
    return render_template("enterprise/repair.html", paths=credit_repair.repair_paths(db.session, _uscc(),
                                                                                      operations.shanghai_today()),
                           cases=cases, form=form or forms.RepairApplicationForm(formdata=None),
                           failed_record=record_id, locale=locale_code()), status


@bp.route("/repair")
def repair():
    return _render_repair()


@bp.route("/repair/<record_id>/apply", methods=["POST"])
def apply_repair(record_id: str):
    """Record that the enterprise applied to the deciding authority, with its evidence file."""
    try:
        credit_repair.own_record(db.session, _user(), record_id)
    except credit_repair.RecordNotFound:
        raise NotFound(record_id) from None
    form = forms.RepairApplicationForm()
    if form.validate():
        upload = request.files.get("evidence")
        evidence = credit_repair.Evidence.from_upload(upload) if upload and upload.filename else None
        try:
            credit_repair.apply_for_repair(db.session, _user(), record_id, applied_on=form.applied_on.data,
                                           commitment_signed=form.commitment_signed.data, evidence=evidence,
                                           today=operations.shanghai_today(),
                                           evidence_dir=credit_repair.evidence_dir(current_app.instance_path),
                                           max_bytes=current_app.config.get("XYD_REPAIR_EVIDENCE_MAX_BYTES",
                                                                            credit_repair.MAX_EVIDENCE_BYTES))
        except credit_repair.RecordNotFound:
            db.session.rollback()
            raise NotFound(record_id) from None
        except credit_repair.RepairRefused as error:
            db.session.rollback()
            form.applied_on.errors = [error.en if locale_code() == "en" else error.zh]
        else:
            db.session.commit()
            flash(_("已记录修复申请。认定单位作出决定后，平台会更新记录并重新评分。"), "success")
            return redirect(url_for("enterprise.repair") + f"#record-{record_id}")
    csrf_or_400(form)
    return _render_repair(form, record_id, 422)


# ---------------------------------------------------------------- financing needs

@bp.route("/needs")
def needs():
    return render_template("enterprise/needs.html", rows=queries.needs(db.session, _uscc()))


def _need_form_errors(form) -> bool:
    """Validate parsing and the service's rules together, so every problem is listed at once."""
    parsed = form.validate()
    csrf_or_400(form)
    errors = {k: v for k, v in need_errors(form.values()).items()
              if not getattr(form, forms.NEED_FIELDS.get(k, k)).errors}
    attach(form, errors, forms.NEED_FIELDS)
    return not parsed or bool(errors)


def _publish_limit() -> str | None:
    """How many needs an enterprise may publish per window (XYD_NEED_PUBLISH_LIMIT); off with XYD_RATELIMIT=0."""
    if not current_app.config.get("XYD_RATELIMIT", True):
        return None
    return current_app.config.get("XYD_NEED_PUBLISH_LIMIT")


@bp.route("/needs/new", methods=["GET", "POST"])
def new_need():
    form = forms.NeedForm()
    if not form.is_submitted():
        return render_template("enterprise/need_form.html", form=form, need=None)
    if _need_form_errors(form):
        return render_template("enterprise/need_form.html", form=form, need=None), 422
    try:
        need, fits = operations.publish_need(db.session, _user(), form.values(), limit=_publish_limit())
    except operations.PublishingPaused as paused:
        db.session.rollback()
        flash(str(paused.message), "error")
        wait = max(1, math.ceil((paused.retry_at - operations.utcnow()).total_seconds()))
        return render_template("enterprise/need_form.html", form=form, need=None), 429, {"Retry-After": str(wait)}
    db.session.commit()
    flash(_("需求已发布，找到 %(count)s 个匹配的产品。", count=sum(f.eligible for f in fits)), "success")
    return redirect(url_for("enterprise.need_detail", need_id=need.id))


@bp.route("/needs/<int:need_id>")
def need_detail(need_id: int):
    need = operations.own_need(db.session, _user(), need_id)
    fits = match_need(db.session, need)
    offers = queries.offers(db.session, need, fits)
    if request.args.get("sort") == "cost":
        offers.sort(key=lambda o: (o.min_cost_bp, o.max_cost_bp))
    contact_form = forms.ContactForm(formdata=None)
    contact_form.open_to_all_banks.data = "1" if need.open_to_all_banks else "0"
    contact_form.max_contacts.data = need.max_contacts
    return _render_need(need, fits, offers, contact_form)


def _render_need(need, fits, offers, contact_form, status: int = 200):
    return render_template(
        "enterprise/need.html", need=need, offers=offers, near=queries.near_misses(fits),
        grade=standing_of(db.session, need.uscc).grade, contact_form=contact_form, action_form=forms.ActionForm(),
        applications=queries.applications(db.session, need.uscc, need.id), sort=request.args.get("sort", "rank"),
        answers=in_principle.answers_for_need(db.session, need.id), today=operations.shanghai_today(),
    ), status


@bp.route("/needs/<int:need_id>/edit", methods=["GET", "POST"])
def edit_need(need_id: int):
    need = operations.own_need(db.session, _user(), need_id, lock=request.method == "POST")
    form = forms.NeedForm()
    if not form.is_submitted():
        form.fill(need)
        return render_template("enterprise/need_form.html", form=form, need=need)
    return act(form, lambda: operations.update_need(db.session, _user(), need, form.values()),
               valid=lambda form: not _need_form_errors(form),
               done=_("需求已更新，匹配结果已按新条件刷新。"), to=url_for("enterprise.need_detail", need_id=need_id),
               again=lambda form, status: (render_template("enterprise/need_form.html", form=form, need=need), status))


@bp.route("/needs/<int:need_id>/withdraw", methods=["POST"])
def withdraw_need(need_id: int):
    need = operations.own_need(db.session, _user(), need_id, lock=True)
    return act(forms.ActionForm(), lambda: operations.withdraw_need(db.session, _user(), need),
               done=_("需求已撤回，相关银行会看到撤回状态。"), to=url_for("enterprise.need_detail", need_id=need_id))


@bp.route("/needs/<int:need_id>/contacts", methods=["POST"])
def contacts(need_id: int):
    need = operations.own_need(db.session, _user(), need_id, lock=True)
    form = forms.ContactForm()

    def again(form, status: int):
        shown = operations.own_need(db.session, _user(), need_id)
        fits = match_need(db.session, shown)
        return _render_need(shown, fits, queries.offers(db.session, shown, fits), form, status)

    return act(form, lambda: operations.set_contact_control(
        db.session, _user(), need, open_to_all_banks=form.open_to_all_banks.data != "0",
        max_contacts=form.max_contacts.data),
        done=_("联系设置已保存。"), to=url_for("enterprise.need_detail", need_id=need_id) + "#contacts",
        back=url_for("enterprise.need_detail", need_id=need_id), again=again)


@bp.route("/needs/<int:need_id>/apply/<int:product_id>", methods=["POST"])
def apply(need_id: int, product_id: int):
    need = operations.own_need(db.session, _user(), need_id, lock=True)
    return act(forms.ActionForm(), lambda: operations.apply_to_product(db.session, _user(), need, product_id),
               done=_("已提交申请，该银行会在受理后联系您。"),
               to=url_for("enterprise.need_detail", need_id=need_id) + "#offers")


# ---------------------------------------------------------------- tracking

@bp.route("/applications")
def applications():
    calendar, days = current_calendar(), current_app.config["XYD_CLAIM_SLA_WORKING_DAYS"]

    def claim_due(application) -> str:
        return local_date(calendar.add_working_days(application.created_at, days))

    return render_template("enterprise/applications.html", rows=queries.applications(db.session, _uscc()),
                           claim_due=claim_due)


def _render_application(application, status: int = 200, message_form=None):
    # Opening the application is reading its news and the bank's messages: the count in the navigation drops.
    # Both counts are exact (the read marks come back through RETURNING), so a view with nothing new to
    # mark read writes nothing instead of committing on every read.
    read = notification_service.mark_notifications_read(db.session, _user(), application=application)
    if read + messages.mark_read(db.session, application, Side.ENTERPRISE):
        db.session.commit()
    return render_template(
        "enterprise/application.html", application=application, steps=queries.timeline(db.session, application),
        action_form=forms.ActionForm(), thread=messages.thread(db.session, application),
        may_write=messages.may_write(application), message_form=message_form or forms.MessageForm(formdata=None),
        pending=authorization_requests.pending_request(db.session, application),
        grant_until=authorization_requests.grant_until()), status


@bp.route("/applications/<int:application_id>")
def application_detail(application_id: int):
    return _render_application(operations.own_application(db.session, _user(), application_id))


@bp.route("/applications/<int:application_id>/messages", methods=["POST"])
def send_message(application_id: int):
    application = operations.own_application(db.session, _user(), application_id, lock=True)
    form = forms.MessageForm()
    page = url_for("enterprise.application_detail", application_id=application_id)
    return act(form, lambda: messages.send(db.session, application, _user(), Side.ENTERPRISE, form.body.data),
               done=_("留言已发送，银行会在申请页面看到。"), to=page + "#thread", back=page,
               again=lambda form, status: _render_application(application, status, message_form=form))


@bp.route("/authorization-requests/<int:request_id>/answer", methods=["POST"])
def answer_request(request_id: int):
    """Grant or refuse a bank's authorization request in one step (from the notifications or the application)."""
    grant = request.form.get("decision") == "grant"
    return act(forms.AnswerRequestForm(), lambda: authorization_requests.answer(db.session, _user(), request_id, grant=grant),
               done=_("已授权该银行查看，您可以随时在“数据授权”中撤销。") if grant else _("已拒绝该银行的授权请求。"),
               back=url_for("enterprise.notifications"),
               to=lambda answered: url_for("enterprise.application_detail", application_id=answered.application_id))


@bp.route("/applications/<int:application_id>/withdraw", methods=["POST"])
def withdraw_application(application_id: int):
    application = operations.own_application(db.session, _user(), application_id, lock=True)
    return act(forms.ActionForm(), lambda: operations.withdraw_application(db.session, _user(), application),
               done=_("申请已撤回。"), to=url_for("enterprise.application_detail", application_id=application_id))


@bp.route("/notifications")
def notifications():
    rows = notification_service.notifications(db.session, _user())
    form = forms.MarkReadForm(up_to=max((n.event.id for n in rows), default=0))
    return render_template("enterprise/notifications.html", rows=rows, mark_read_form=form,
                           requests=authorization_requests.pending_for_enterprise(db.session, _uscc()),
                           unread_messages=messages.unread_for_enterprise(db.session, _uscc()),
                           grant_until=authorization_requests.grant_until(), answer_form=forms.AnswerRequestForm(),
                           repairs=credit_repair.recent_outcomes(db.session, _uscc()))


@bp.route("/notifications/read", methods=["POST"])
def mark_read():
    form = forms.MarkReadForm()
    return act(form, lambda: notification_service.mark_notifications_read(db.session, _user(), up_to_event_id=form.up_to.data),
               done=_("已全部标为已读。"), to=url_for("enterprise.notifications"))


# ---------------------------------------------------------------- staff

def _render_staff(form, status: int = 200, temporary: tuple | None = None):
    return render_template("enterprise/staff.html", form=form, staff=queries.staff(db.session, _uscc()),
                           action_form=forms.ActionForm(), temporary=temporary), status


@bp.route("/staff", methods=["GET", "POST"])
def staff():
    form = forms.StaffForm()
    if not form.is_submitted():
        return _render_staff(form)
    if not current_user.is_tenant_admin:
        abort(403)
    # The one-time password is shown once, on this response only: never stored, never put in a flash cookie.
    return act(form, lambda: operations.invite_staff(db.session, _user(), display_name=form.display_name.data,
                                                     username=form.username.data, email=form.email.data,
                                                     phone=form.phone.data),
               done=None, again=_render_staff,
               to=lambda invited: _render_staff(forms.StaffForm(formdata=None), 200,
                                                temporary=(invited[0].username, invited[1])))


@bp.route("/staff/<int:user_id>/deactivate", methods=["POST"])
def deactivate(user_id: int):
    return act(forms.ActionForm(), lambda: operations.deactivate_staff(db.session, _user(), user_id),
               done=_("该员工账户已停用。"), to=url_for("enterprise.staff"))
