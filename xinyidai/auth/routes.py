from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from xinyidai.auth.forms import LoginForm
from xinyidai.auth.operations import authenticate
from xinyidai.auth.session import LoginUser
from xinyidai.extensions import db

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: an open redirect would make the login page a phishing tool."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data, request.remote_addr)
        db.session.commit()  # failures are counted and audited even though nobody is logged in
        if user is not None:
            login_user(LoginUser(user))
            return redirect(_safe_next(request.args.get("next")) or url_for("web.home"))
        flash(_("用户名或密码错误，或账户暂时被锁定。请稍后再试。"), "error")
    return render_template("auth/login.html", form=form), (200 if not form.errors and request.method == "GET" else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("auth.login"))
