"""/admin/audit: the platform operator searches the append-only audit log (DESIGN §8)."""

from __future__ import annotations

import io

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from models.base import utcnow
from models.identity import Role
from xinyidai.admin.audit_search import search_audit
from xinyidai.admin.audit_words import action_words
from xinyidai.admin.forms import AuditSearchForm
from xinyidai.audit import record
from xinyidai.auth import role_required
from xinyidai.domain import cells
from xinyidai.extensions import db
from xinyidai.moments import local_time, stamped

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


EXPORT_ROWS = 10_000


@bp.route("/audit/export.csv")
def audit_export():
    """The entries the filters select (newest first, at most EXPORT_ROWS) as CSV; the export is itself
    written to the audit log, with its filters."""
    form = AuditSearchForm(request.args)
    if not form.validate():
        return render_template("admin/audit.html", form=form, page=None, args={}), 422
    filters = form.filters()
    page = search_audit(db.session, filters, per_page=EXPORT_ROWS)
    out = io.StringIO()
    writer = cells.csv_writer(out, lineterminator="\r\n")
    writer.writerow([_("审计日志"), _("导出时间"), stamped(utcnow())])
    writer.writerow([_("时间"), _("操作类型"), _("操作代码"), _("操作人"), _("企业"), _("授权编号"), _("来源地址"), _("详情")])
    for row in page.rows:
        entry = row.entry
        actor = row.actor_username or (f"token {row.token_prefix}" if row.token_prefix else entry.actor_label) or ""
        writer.writerow([local_time(entry.occurred_at), action_words(entry.action), entry.action, actor,
                         entry.subject_uscc or "", entry.authorization_id or "", entry.remote_addr or "",
                         "; ".join(f"{k}={v}" for k, v in (entry.detail or {}).items() if v is not None)])
    record(db.session, "export", actor_user_id=current_user.id, remote_addr=request.remote_addr,
           detail={"what": "audit_log", "rows": len(page.rows), "truncated": page.has_more,
                   "filters": {k: v for k, v in request.args.items() if k not in ("page", "lang")}})
    db.session.commit()
    return current_app.response_class(("\ufeff" + out.getvalue()).encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=xinyidai-audit.csv", "Cache-Control": "no-store"})


@bp.context_processor
def audit_helpers():
    return {"action_words": action_words}
