"""/admin/banks and /admin/offices: onboarding participating banks and office staff; deactivating a login.

A new login's temporary password is shown on the response to the POST that created it and nowhere else
(not stored, not put in a flash cookie), so reloading the page cannot show it again.
"""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from models.identity import CITY_CODE, Role
from xinyidai.admin.forms import ActionForm, BankForm, GuarantorForm, OfficeUserForm
from xinyidai.admin.routes import bp
from xinyidai.domain import onboarding, users
from xinyidai.domain.errors import Invalid, NotFound, Refused
from xinyidai.extensions import db
from xinyidai.i18n import localized
from xinyidai.web.forms import attach, csrf_or_400

# ---------------------------------------------------------------- banks

def _render_banks(form: BankForm, status: int = 200, created=None):
    return render_template("admin/banks.html", form=form, banks=onboarding.banks(db.session), created=created), status


@bp.route("/banks", methods=["GET", "POST"])
def banks():
    """The participating banks; POST adds one with its first administrator (422 with field errors, nothing saved)."""
    form = BankForm()
    if not form.is_submitted():
        return _render_banks(form)
    if form.validate():
        try:
            bank, login = onboarding.add_bank(db.session, current_user, code=form.code.data, name_zh=form.name_zh.data,
                                              name_en=form.name_en.data, officer=form.officer())
        except Invalid as error:
            db.session.rollback()
            attach(form, error.errors)
        else:
            db.session.commit()
            return _render_banks(BankForm(formdata=None), 200, created=(bank, login))
    csrf_or_400(form)
    return _render_banks(form, 422)


@bp.route("/banks/<int:bank_id>")
def bank(bank_id: int):
    """One bank's logins, with a button to deactivate each."""
    try:
        found = onboarding.get_bank(db.session, bank_id)
    except NotFound:
        abort(404)
    return render_template("admin/bank.html", bank=found, users=onboarding.bank_users(db.session, found.id),
                           action_form=ActionForm())


@bp.route("/banks/<int:bank_id>/deactivate", methods=["POST"])
def deactivate_bank(bank_id: int):
    """The bank leaves the platform (its logins end, its products stop matching, SMEs no longer see it)."""
    if not ActionForm().validate():
        abort(400)
    if request.form.get("confirm") != "y":
        flash(_("请先勾选确认，再停用该银行。"), "error")
        return redirect(url_for("admin.bank", bank_id=bank_id))
    try:
        found = onboarding.deactivate_bank(db.session, current_user.user, bank_id)
    except NotFound:
        abort(404)
    db.session.commit()
    flash(_("已停用合作银行 %(name)s。", name=localized(found.name_zh, found.name_en)), "success")
    return redirect(url_for("admin.bank", bank_id=bank_id))


@bp.route("/banks/<int:bank_id>/reactivate", methods=["POST"])
def reactivate_bank(bank_id: int):
    """A deactivated bank comes back (its officers log in anew, its products match again, SMEs see it)."""
    if not ActionForm().validate():
        abort(400)
    if request.form.get("confirm") != "y":
        flash(_("请先勾选确认，再重新启用该银行。"), "error")
        return redirect(url_for("admin.bank", bank_id=bank_id))
    try:
        found = onboarding.reactivate_bank(db.session, current_user.user, bank_id)
    except NotFound:
        abort(404)
    db.session.commit()
    flash(_("已重新启用合作银行 %(name)s。", name=localized(found.name_zh, found.name_en)), "success")
    return redirect(url_for("admin.bank", bank_id=bank_id))


# ---------------------------------------------------------------- guarantee institutions

def _render_guarantors(form: GuarantorForm, status: int = 200, created=None):
    return render_template("admin/guarantors.html", form=form, guarantors=onboarding.guarantors(db.session),
                           created=created), status


@bp.route("/guarantors", methods=["GET", "POST"])
def guarantors():
    """The guarantee institutions; POST adds one with its first administrator (422 with field errors)."""
    form = GuarantorForm()
    if not form.is_submitted():
        return _render_guarantors(form)
    if form.validate():
        try:
            guarantor, login = onboarding.add_guarantor(db.session, current_user, code=form.code.data,
                                                        name_zh=form.name_zh.data, name_en=form.name_en.data,
                                                        officer=form.officer())
        except Invalid as error:
            db.session.rollback()
            attach(form, error.errors)
        else:
            db.session.commit()
            return _render_guarantors(GuarantorForm(formdata=None), 200, created=(guarantor, login))
    csrf_or_400(form)
    return _render_guarantors(form, 422)


@bp.route("/guarantors/<int:guarantor_id>")
def guarantor(guarantor_id: int):
    """One guarantor's logins, with a button to deactivate each."""
    try:
        found = onboarding.get_guarantor(db.session, guarantor_id)
    except NotFound:
        abort(404)
    return render_template("admin/guarantor.html", guarantor=found,
                           users=onboarding.guarantor_users(db.session, found.id), action_form=ActionForm())


# ---------------------------------------------------------------- office staff

def _district_choice() -> str:
    return request.values.get("district") or CITY_CODE


def _render_offices(form: OfficeUserForm, district: str, status: int = 200, created=None):
    return render_template("admin/offices.html", form=form, district=district,
                           districts=onboarding.districts(db.session),
                           users=onboarding.office_users(db.session, district), action_form=ActionForm(),
                           created=created), status


@bp.route("/offices", methods=["GET", "POST"])
def offices():
    """Office staff of one district (?district=, the city office 310000 by default); POST adds one."""
    districts = onboarding.districts(db.session)
    form = OfficeUserForm(data={"district": _district_choice()}).with_districts(districts, localized)
    if request.method == "GET":
        if form.district.data not in {d.code for d in districts}:
            abort(404)
        return _render_offices(form, form.district.data)
    if form.validate():
        try:
            login = onboarding.add_office_user(db.session, current_user, district_code=form.district.data,
                                               **form.person())
        except Invalid as error:
            db.session.rollback()
            attach(form, error.errors)
        else:
            db.session.commit()
            blank = OfficeUserForm(formdata=None, data={"district": form.district.data}).with_districts(districts, localized)
            return _render_offices(blank, form.district.data, 200, created=login)
    csrf_or_400(form)
    shown = form.district.data if form.district.data in {d.code for d in districts} else CITY_CODE
    return _render_offices(form, shown, 422)


# ---------------------------------------------------------------- deactivation

@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
def deactivate_user(user_id: int):
    """Ends the user's logins and sessions; back to the page that lists them."""
    if not ActionForm().validate():
        abort(400)
    try:
        user = onboarding.deactivate_user(db.session, current_user, user_id)
    except NotFound:
        abort(404)
    except Refused as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return redirect(url_for("web.admin_home"))
    db.session.commit()
    flash(_("已停用账户 %(username)s。", username=user.username), "success")
    if user.role is Role.BANK:
        return redirect(url_for("admin.bank", bank_id=user.bank_id))
    if user.role is Role.OFFICE:
        return redirect(url_for("admin.offices", district=user.district_code))
    if user.role is Role.GUARANTOR:
        return redirect(url_for("admin.guarantor", guarantor_id=user.guarantor_id))
    return redirect(url_for("admin.audit_log", actor=user.username))


# ---------------------------------------------------------------- forgotten passwords

@bp.route("/users/reset-password", methods=["POST"])
def reset_password():
    """A one-time password for a user who forgot theirs (by username: any role, from the lists or the
    home page's form); shown once, on a page no cache may keep."""
    if not ActionForm().validate():
        abort(400)
    try:
        user, password = users.reset_password(db.session, current_user.user, request.form.get("username", ""),
                                              request.remote_addr)
    except users.ResetRefused as error:
        db.session.rollback()
        flash(localized(error.zh, error.en), "error")
        return redirect(url_for("web.admin_home"))
    db.session.commit()
    response = make_response(render_template("admin/password_reset.html", user=user, password=password))
    response.headers["Cache-Control"] = "no-store"
    return response
