from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from models.identity import Role
from xinyidai.auth import role_required

bp = Blueprint("web", __name__)

_LANDING = {
    Role.ENTERPRISE: "web.enterprise_home",
    Role.BANK: "web.bank_home",
    Role.OFFICE: "web.office_home",
    Role.ADMIN: "web.admin_home",
}


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for(_LANDING[current_user.role]))
    return render_template("index.html")


@bp.route("/home")
@login_required
def home():
    return redirect(url_for(_LANDING[current_user.role]))


@bp.route("/enterprise/")
@role_required(Role.ENTERPRISE)
def enterprise_home():
    return render_template("enterprise/home.html")


@bp.route("/bank/")
@role_required(Role.BANK)
def bank_home():
    return render_template("bank/home.html")


@bp.route("/office/")
@role_required(Role.OFFICE)
def office_home():
    return render_template("office/home.html")


@bp.route("/admin/")
@role_required(Role.ADMIN)
def admin_home():
    return render_template("admin/home.html")
