"""Login, logout and password change. Logout is POST-only so a link or an image cannot log anybody out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from xinyidai.auth.forms import LoginForm, PasswordChangeForm
from xinyidai.auth.session import start_session
from xinyidai.domain.users import authenticate, end_sessions, throttled
from xinyidai.domain.users import change_password as change_user_password
from xinyidai.extensions import db, limiter

bp = Blueprint("auth", __name__)

# What a user who must change the password may still reach.
_ALLOWED_BEFORE_CHANGE = {"auth.change_password", "auth.logout", "static"}


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths: an open redirect would make the login page a phishing tool."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(c in target for c in "\r\n\t"):
        return None
    return target


def _login_limit() -> str:
    return current_app.config["XYD_LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """GET shows the form; POST logs in (400 without a valid CSRF token). One message for every failure."""
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data, request.remote_addr)
        db.session.commit()  # failures are counted and audited even though nobody is logged in
        if user is not None:
            start_session(user)
            if user.must_change_password:
                return redirect(url_for("auth.change_password"))
            return redirect(_safe_next(request.args.get("next")) or url_for("web.home"))
        flash(_("用户名或密码错误，或账户暂时被锁定。请稍后再试。"), "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Ends the session server-side: the user's nonce changes, so a copy of this cookie opens nothing (and the
    user's sessions on other devices end too)."""
    end_sessions(current_user.user)
    db.session.commit()
    logout_user()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Needs the current password; success ends every other session of the user but keeps this one."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = current_user.user
        changed = change_user_password(user, form.current_password.data, form.new_password.data, request.remote_addr)
        db.session.commit()
        if changed:
            start_session(user)  # the new nonce: this session stays, every other one ends
            flash(_("密码已修改，其他设备上的登录已失效。"), "success")
            return redirect(url_for("web.home"))
        if throttled(user.username, request.remote_addr):
            logout_user()
            flash(_("用户名或密码错误，或账户暂时被锁定。请稍后再试。"), "error")
            return redirect(url_for("auth.login"))
        form.current_password.errors.append(_("当前密码不正确。"))
    return render_template("auth/password.html", form=form)


@bp.before_app_request
def require_password_change():
    """Users flagged `must_change_password` see only the password page until they change it."""
    if request.endpoint in _ALLOWED_BEFORE_CHANGE or request.blueprint == "api":
        return None
    if current_user.is_authenticated and current_user.must_change_password:
        return redirect(url_for("auth.change_password"))
    return None
