"""The bank's modelling sandbox (联合建模) and credit policies (授信政策) under /bank/joint/… and
/bank/products/<id>/policy, and the one-action confirmation of an in-principle approval (预授信).

The sandbox is for the bank's administrator; a report shows aggregates only (xinyidai.domain.joint_models).
Another bank's sample or model is a 404 like a missing one.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from ml.reasons import FAMILIES
from models.base import SHANGHAI, utcnow
from models.lending import ApplicationState
from models.scoring import GRADE_SCALE
from xinyidai.bank import forms
from xinyidai.bank.joint_forms import PolicyForm, SampleForm
from xinyidai.bank.routes import _actor, _bank_id, _plain_reason, _tenant_admin_only, bp
from xinyidai.domain import credit_policy, in_principle, joint_models
from xinyidai.domain import products as operations
from xinyidai.domain.errors import Invalid, NotFound
from xinyidai.domain.lifecycle import IllegalTransition
from xinyidai.extensions import db
from xinyidai.web.forms import attach

S = ApplicationState


def _instance() -> str:
    return current_app.config["XYD_INSTANCE_PATH"]


def _words(refused: joint_models.Refused) -> str:
    return refused.en if str(get_locale()) == "en" else refused.zh


def _sample(sample_id: int):
    sample = joint_models.bank_sample(db.session, _bank_id(), sample_id)
    if sample is None:
        raise NotFound(f"sample {sample_id}")
    return sample


def _version(version: str):
    row = joint_models.bank_version(db.session, _bank_id(), version)
    if row is None:
        raise NotFound(f"model {version}")
    return row


def _render_sandbox(form, upload=None, status: int = 200):
    bank_id = _bank_id()
    return render_template(
        "bank/joint.html", form=form, upload=upload, samples=joint_models.bank_samples(db.session, bank_id),
        versions=joint_models.bank_versions(db.session, bank_id),
        active=joint_models.active_bank_version(db.session, bank_id), action_form=forms.ActionForm(),
        min_rows=joint_models.MIN_ROWS, min_each=joint_models.MIN_EACH, columns=joint_models.COLUMNS), status


@bp.route("/joint", methods=["GET", "POST"])
def joint():
    """The sandbox: upload a sample, train on it, read the reports, promote a version."""
    _tenant_admin_only()
    form = SampleForm()
    if not form.validate_on_submit():
        return _render_sandbox(form, status=422 if form.errors else 200)
    upload = None
    try:
        upload = joint_models.upload_sample(db.session, _bank_id(), form.file.data.read(),
                                            form.file.data.filename or "sample.csv", user_id=current_user.id,
                                            remote_addr=request.remote_addr)
    except joint_models.Refused as refused:
        db.session.rollback()
        form.file.errors = [*form.file.errors, _words(refused)]
        return _render_sandbox(form, status=422)
    db.session.commit()
    if upload.refused is not None:
        flash(_("样本未被接受：%(reason)s", reason=_words(upload.refused)), "error")
        return _render_sandbox(SampleForm(formdata=None), upload, 422)
    if upload.repeated:
        flash(_("这份文件此前已上传过（样本 #%(id)s），未重复保存。", id=upload.sample.id), "info")
    else:
        flash(_("样本 #%(id)s 已保存：%(accepted)s 行可用，%(rejected)s 行未通过。", id=upload.sample.id,
                accepted=upload.sample.accepted, rejected=upload.sample.rejected),
              "warning" if upload.sample.rejected else "success")
    return redirect(url_for("bank.joint_sample", sample_id=upload.sample.id))


@bp.route("/joint/samples/<int:sample_id>")
def joint_sample(sample_id: int):
    _tenant_admin_only()
    return render_template("bank/joint_sample.html", sample=_sample(sample_id), action_form=forms.ActionForm())


@bp.route("/joint/samples/<int:sample_id>/train", methods=["POST"])
def joint_train(sample_id: int):
    _tenant_admin_only()
    sample = _sample(sample_id)
    if not forms.ActionForm().validate_on_submit():
        abort(400)
    try:
        version = joint_models.train_bank_model(db.session, _instance(), _bank_id(), sample.id,
                                                by=current_user.username, user_id=current_user.id,
                                                remote_addr=request.remote_addr)
    except joint_models.Refused as refused:
        db.session.rollback()
        flash(_("未能训练：%(reason)s", reason=_words(refused)), "error")
        return redirect(url_for("bank.joint_sample", sample_id=sample.id))
    db.session.commit()
    flash(_("模型 %(version)s 已训练完成，请阅读报告后决定是否启用。", version=version.version), "success")
    return redirect(url_for("bank.joint_report", version=version.version))


@bp.route("/joint/models/<version>")
def joint_report(version: str):
    _tenant_admin_only()
    row = _version(version)
    joint_models.report_downloaded(db.session, row, user_id=current_user.id, remote_addr=request.remote_addr, what="page")
    db.session.commit()
    return render_template("bank/joint_report.html", version=row, report=joint_models.report_view(row.report),
                           families=FAMILIES, action_form=forms.ActionForm())


@bp.route("/joint/models/<version>/report.csv")
def joint_report_csv(version: str):
    _tenant_admin_only()
    row = _version(version)
    joint_models.report_downloaded(db.session, row, user_id=current_user.id, remote_addr=request.remote_addr, what="csv")
    db.session.commit()
    return current_app.response_class(
        joint_models.report_csv(row), mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=joint-model-{row.version}.csv"})


@bp.route("/joint/models/<version>/promote", methods=["POST"])
def joint_promote(version: str):
    _tenant_admin_only()
    row = _version(version)
    if not forms.ActionForm().validate_on_submit():
        abort(400)
    try:
        joint_models.promote(db.session, _instance(), _bank_id(), row.version, by=current_user.username,
                             user_id=current_user.id, remote_addr=request.remote_addr)
    except joint_models.ModelUnavailable as error:
        db.session.rollback()
        flash(_("未能启用：模型文件不可用（%(error)s）", error=str(error)), "error")
        return redirect(url_for("bank.joint"))
    db.session.commit()
    flash(_("模型 %(version)s 已启用。", version=row.version), "success")
    return redirect(url_for("bank.joint"))


@bp.route("/joint/rollback", methods=["POST"])
def joint_rollback():
    _tenant_admin_only()
    if not forms.ActionForm().validate_on_submit():
        abort(400)
    try:
        row = joint_models.rollback(db.session, _instance(), _bank_id(), by=current_user.username,
                                    user_id=current_user.id, remote_addr=request.remote_addr)
    except (joint_models.Refused, joint_models.ModelUnavailable) as error:
        db.session.rollback()
        flash(_("未能回退：%(reason)s", reason=_words(error) if isinstance(error, joint_models.Refused) else str(error)),
              "error")
        return redirect(url_for("bank.joint"))
    db.session.commit()
    flash(_("已回退到模型 %(version)s。", version=row.version), "success")
    return redirect(url_for("bank.joint"))


# ---------------------------------------------------------------- credit policy

@bp.route("/products/<int:product_id>/policy", methods=["GET", "POST"])
def product_policy(product_id: int):
    _tenant_admin_only()
    product = operations.bank_product(db.session, _bank_id(), product_id)
    policy = credit_policy.policy_of(db.session, product)
    form = PolicyForm()
    if request.method == "GET" and policy is not None:
        form.fill_from(policy)
    elif form.validate_on_submit():
        try:
            credit_policy.set_policy(db.session, product, form.to_service(), user_id=current_user.id)
        except Invalid as error:
            db.session.rollback()
            attach(form, error.errors, PolicyForm.SERVICE_TO_FORM)
        else:
            db.session.commit()
            flash(_("授信政策已保存，当前的匹配将按新政策重新给出预授信结论。"), "success")
            return redirect(url_for("bank.products"))
    has_model = joint_models.active_bank_version(db.session, _bank_id()) is not None
    return render_template("bank/policy_form.html", form=form, product=product, policy=policy, has_model=has_model,
                           grades=GRADE_SCALE), 422 if form.errors else 200


# ---------------------------------------------------------------- confirming an in-principle approval

@bp.route("/applications/<int:application_id>/confirm", methods=["POST"])
def confirm(application_id: int):
    application = operations.bank_application(db.session, _bank_id(), application_id, lock=True)
    form = forms.ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        in_principle.confirm(db.session, application, _actor(), idempotency_key=form.idempotency_key.data,
                             instance_path=_instance())
    except IllegalTransition as error:
        db.session.rollback()
        flash(_("未能确认：%(reason)s", reason=_plain_reason(error)), "error")
        return redirect(url_for("bank.application_detail", application_id=application_id))
    db.session.commit()
    flash(_("已确认预授信，申请已审批通过。"), "success")
    return redirect(url_for("bank.application_detail", application_id=application_id))


def joint_extras(application_ids, usccs) -> dict:
    """For the pipeline and the application page: the live in-principle answers by application, and the
    bank's own scores by enterprise (only those it may score)."""
    bank_id = _bank_id()
    answers = in_principle.live_answers(db.session, application_ids)
    scores = joint_models.bank_scores(db.session, _instance(), bank_id, usccs)
    if scores:
        db.session.commit()
    return {"answers": answers, "scores": scores, "today": utcnow().astimezone(SHANGHAI).date(), "families": FAMILIES}
