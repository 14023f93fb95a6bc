"""/admin/audit: the platform operator searches the append-only audit log (DESIGN §8)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from models.identity import Role
from xinyidai.admin.audit_search import search_audit
from xinyidai.admin.forms import AuditSearchForm
from xinyidai.auth import role_required
from xinyidai.extensions import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@role_required(Role.ADMIN)
def only_admins():
    """Every page here is for platform operators; others get 403 (anonymous visitors the login page)."""


@bp.route("/audit")
def audit_log():
    """Filters by actor, action, enterprise and period; invalid filters are shown beside their fields (422)
    and nothing is searched with them."""
    form = AuditSearchForm(request.args)
    valid = form.validate()
    page = search_audit(db.session, form.filters(), page=form.page.data or 1) if valid else None
    args = {key: value for key, value in request.args.items() if key not in ("page", "lang")}
    return render_template("admin/audit.html", form=form, page=page, args=args), 200 if valid else 422
