"""The landing pages: one per role, reached through `/` after login. Each shows its tenant's summary."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from models.identity import Role
from xinyidai.auth import role_required
from xinyidai.extensions import db
from xinyidai.web import summaries
from xinyidai.web.navigation import HOME_ENDPOINT

bp = Blueprint("web", __name__)


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for(HOME_ENDPOINT[current_user.role]))
    return render_template("index.html")


@bp.route("/home")
@login_required
def home():
    return redirect(url_for(HOME_ENDPOINT[current_user.role]))


@bp.route("/enterprise/")
@role_required(Role.ENTERPRISE)
def enterprise_home():
    return render_template("enterprise/home.html", summary=summaries.enterprise_summary(current_user.enterprise_uscc))


@bp.route("/bank/")
@role_required(Role.BANK)
def bank_home():
    return render_template("bank/home.html", summary=summaries.bank_summary(current_user.bank_id))


@bp.route("/office/")
@role_required(Role.OFFICE)
def office_home():
    from xinyidai.domain.joint_models import office_summary

    return render_template("office/home.html", summary=summaries.office_summary(current_user.district_code),
                           joint_models=office_summary(db.session))


@bp.route("/guarantor/")
@role_required(Role.GUARANTOR)
def guarantor_home():
    return render_template("guarantor/home.html", summary=summaries.guarantor_summary(current_user.guarantor_id))


@bp.route("/admin/")
@role_required(Role.ADMIN)
def admin_home():
    return render_template("admin/home.html", summary=summaries.admin_summary())
