"""The guarantor's pages under /guarantor/… (its landing page /guarantor/ belongs to xinyidai.web).

Every query is scoped by the logged-in user's guarantor: it sees an application only when a bank asked it for a
guarantee of it; another guarantor's, like a missing one, is a 404. Views parse, call xinyidai.domain.guarantees
(whose moves go through the one lifecycle), commit and redirect; a refusal is said in the user's language.
"""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import NotFound as HTTPNotFound

from models.guarantee import GuaranteeProductStatus, GuaranteeStatus
from models.identity import Role
from xinyidai.auth import role_required
from xinyidai.domain import guarantees
from xinyidai.domain.authorizations import guarantor_enterprise_view
from xinyidai.domain.errors import Invalid, NotFound
from xinyidai.domain.lifecycle import DECLINE_REASONS as BANK_DECLINE_REASONS
from xinyidai.domain.lifecycle import IllegalTransition
from xinyidai.domain.money import basis_points, fen
from xinyidai.extensions import db
from xinyidai.guarantor import forms
from xinyidai.i18n import locale_code, localized
from xinyidai.reference import INDUSTRY_SECTIONS, SHANGHAI_DISTRICTS
from xinyidai.web.forms import attach, csrf_or_400

bp = Blueprint("guarantor", __name__, url_prefix="/guarantor")


@bp.before_request
@role_required(Role.GUARANTOR)
def only_guarantor_staff():
    """Every page here is for a guarantor's staff; the others get 403 (anonymous visitors the login page)."""


@bp.errorhandler(NotFound)
def not_found(_error):
    db.session.rollback()
    return current_app.handle_http_exception(HTTPNotFound())


@bp.context_processor
def guarantor_helpers():
    def district_name(code):
        names = SHANGHAI_DISTRICTS.get(code or "")
        return localized(*names) if names else (code or "—")

    def industry_name(section):
        entry = INDUSTRY_SECTIONS.get(section or "")
        return localized(entry[0], entry[1]) if entry else (section or "—")

    return {"district_name": district_name, "industry_name": industry_name,
            "guarantee_decline_reasons": guarantees.DECLINE_REASONS, "decline_reasons": BANK_DECLINE_REASONS}


def _guarantor_id() -> int:
    return current_user.guarantor_id


def _actor():
    return guarantees.web_actor(current_user.user)


# ---------------------------------------------------------------- the guarantees asked of it

@bp.route("/applications")
def applications():
    wanted = request.args.get("status") or None
    status = GuaranteeStatus(wanted) if wanted in {s.value for s in GuaranteeStatus} else None
    return render_template("guarantor/applications.html", rows=guarantees.inbox(db.session, _guarantor_id(), status=status),
                           status=status)


def _accept_form(guarantee) -> forms.AcceptForm:
    form = forms.AcceptForm(formdata=None)
    if guarantee is not None:
        form.fee_rate.data = Decimal(guarantee.product.fee_rate_bp) / 100
        form.coverage.data = Decimal(guarantee.product.coverage_bp) / 100
    return form


def _render(application, status: int = 200, **overrides):
    own = guarantees.guarantees_of(db.session, application.id, _guarantor_id())
    current = own[-1] if own else None
    holds = current is not None and current.status in (GuaranteeStatus.REQUESTED, GuaranteeStatus.ACCEPTED)
    view = guarantor_enterprise_view(db.session, application, _guarantor_id(), _actor(), holds_guarantee=holds,
                                     remote_addr=request.remote_addr)
    db.session.commit()  # the audit row of a detail view
    context = {"application": application, "view": view, "guarantees": own, "current": current,
               "accept_form": overrides.get("accept_form") or _accept_form(current),
               "decline_form": overrides.get("decline_form") or forms.DeclineForm(formdata=None)}
    return render_template("guarantor/application.html", **context), status


@bp.route("/applications/<int:application_id>")
def application_detail(application_id: int):
    return _render(guarantees.guarantor_application(db.session, _guarantor_id(), application_id))


def _plain_reason(error: IllegalTransition) -> str:
    return error.en if locale_code() == "en" else error.zh


def _answer(application_id: int, form, form_name: str, move, done_message: str):
    application = guarantees.guarantor_application(db.session, _guarantor_id(), application_id, lock=True)
    if not form.validate_on_submit():
        csrf_or_400(form)
        db.session.rollback()
        return _render(application, 422, **{form_name: form})
    try:
        move(application, form)
    except IllegalTransition as error:
        db.session.rollback()
        flash(_("未能保存：%(reason)s", reason=_plain_reason(error)), "error")
        return _render(guarantees.guarantor_application(db.session, _guarantor_id(), application_id), 409,
                       **{form_name: form})
    db.session.commit()
    flash(done_message, "success")
    return redirect(url_for("guarantor.application_detail", application_id=application_id))


@bp.route("/applications/<int:application_id>/accept", methods=["POST"])
def accept(application_id: int):
    return _answer(application_id, forms.AcceptForm(), "accept_form",
                   lambda application, f: guarantees.accept(
                       db.session, application, _guarantor_id(), _actor(), fee_rate_bp=basis_points(f.fee_rate.data),
                       coverage_bp=basis_points(f.coverage.data), idempotency_key=f.idempotency_key.data),
                   _("已同意担保，担保费率和担保比例已记录；银行现在可以审批。"))


@bp.route("/applications/<int:application_id>/decline", methods=["POST"])
def decline(application_id: int):
    return _answer(application_id, forms.DeclineForm(), "decline_form",
                   lambda application, f: guarantees.decline(
                       db.session, application, _guarantor_id(), _actor(), reason_code=f.reason_code.data,
                       reason_text=f.reason_text.data, idempotency_key=f.idempotency_key.data),
                   _("已拒绝担保，银行会看到原因。"))


# ---------------------------------------------------------------- its guarantee products

def _render_products(form, status: int = 200):
    return render_template("guarantor/products.html", form=form, action_form=forms.ActionForm(),
                           products=guarantees.guarantor_products(db.session, _guarantor_id())), status


@bp.route("/products", methods=["GET", "POST"])
def products():
    form = forms.ProductForm()
    if not form.is_submitted():
        return _render_products(form)
    if form.validate():
        try:
            guarantees.add_product(db.session, current_user.user, code=form.code.data, name_zh=form.name_zh.data,
                                   name_en=form.name_en.data, fee_rate_bp=basis_points(form.fee_rate.data),
                                   coverage_bp=basis_points(form.coverage.data), max_amount_fen=fen(form.max_amount.data))
        except Invalid as error:
            db.session.rollback()
            attach(form, error.errors)
        else:
            db.session.commit()
            flash(_("担保产品已上架，银行可以向本机构申请担保。"), "success")
            return redirect(url_for("guarantor.products"))
    csrf_or_400(form)
    return _render_products(form, 422)


@bp.route("/products/<int:product_id>/status", methods=["POST"])
def product_status(product_id: int):
    product = guarantees.own_product(db.session, _guarantor_id(), product_id)
    wanted = request.form.get("status")
    if not forms.ActionForm().validate_on_submit() or wanted not in {s.value for s in GuaranteeProductStatus}:
        abort(400)
    guarantees.set_product_status(db.session, current_user.user, product, GuaranteeProductStatus(wanted))
    db.session.commit()
    flash(_("担保产品已暂停，银行不能再选择它。") if wanted == "paused" else _("担保产品已恢复。"), "success")
    return redirect(url_for("guarantor.products"))
