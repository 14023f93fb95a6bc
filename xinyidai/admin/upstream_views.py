"""/admin/upstream: what the platform reports up to the city node — the outbox by status (pending with its
retries, parked with the receiver's reason, sent), and the last reconciliation of the monthly figures."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from models.upstream import OutboxStatus
from xinyidai.admin.forms import ActionForm
from xinyidai.admin.routes import bp
from xinyidai.domain import upstream
from xinyidai.extensions import db


def _page() -> int:
    page = request.args.get("page", "1")
    return int(page) if page.isdigit() and 0 < int(page) <= 100_000 else 1


@bp.route("/upstream")
def upstream_page():
    """Counts by status; the list of one status (?status=pending|parked|sent, parked first by default)."""
    counts = upstream.outbox_counts(db.session)
    wanted = request.args.get("status")
    status = OutboxStatus(wanted) if wanted in {s.value for s in OutboxStatus} else (
        OutboxStatus.PARKED if counts["parked"] else OutboxStatus.PENDING)
    page = _page()
    rows, has_more = upstream.outbox_rows(db.session, status, page=page)
    return render_template("admin/upstream.html", counts=counts, status=status, rows=rows, page=page,
                           has_more=has_more, reconciliations=upstream.latest_reconciliations(db.session),
                           action_form=ActionForm())


@bp.route("/upstream/<event_id>/requeue", methods=["POST"])
def upstream_requeue(event_id: str):
    """A parked event back in the queue, once the cause is fixed with the city node (audited)."""
    if not ActionForm().validate():
        abort(400)
    if upstream.requeue(db.session, event_id[:36], actor_user_id=current_user.id) is None:
        abort(404)
    db.session.commit()
    flash(_("已将事件 %(event_id)s 重新排队，下次推送时发送。", event_id=event_id), "success")
    return redirect(url_for("admin.upstream_page", status="pending"))
