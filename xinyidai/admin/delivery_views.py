"""/admin/deliveries: recent provider deliveries, their rejection reports, and uploading one delivery file.

The upload is applied at once by the loader `xyd ingest` uses (one transaction; rows in = accepted +
rejected); the request size is capped by MAX_CONTENT_LENGTH like every other upload, and a larger file
gets the 413 page naming the limit.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from xinyidai.admin.forms import DeliveryUploadForm
from xinyidai.admin.routes import bp
from xinyidai.domain import deliveries, inputs
from xinyidai.domain.errors import Invalid, NotFound
from xinyidai.extensions import db
from xinyidai.web.forms import attach, csrf_or_400
from xinyidai.web.labels import SOURCE


def _page() -> int:
    page = request.args.get("page", "1")
    return inputs.page_number(page)


def _render(form: DeliveryUploadForm, status: int = 200):
    page = _page()
    found, has_more = deliveries.recent(db.session, page=page)
    return render_template("admin/deliveries.html", form=form, deliveries=found, page=page, has_more=has_more,
                           max_bytes=current_app.config.get("MAX_CONTENT_LENGTH")), status


@bp.route("/deliveries", methods=["GET", "POST"])
def deliveries_page():
    """The latest deliveries; POST uploads one file (422 beside the field when it cannot be applied at all)."""
    form = DeliveryUploadForm().with_sources(SOURCE)
    if not form.is_submitted():
        return _render(form)
    if form.validate():
        upload = form.file.data
        try:
            summary = deliveries.ingest_upload(db.session, current_app.config["XYD_INSTANCE_PATH"], current_user,
                                               form.source.data, upload.filename or "", upload.stream)
        except Invalid as error:
            db.session.commit()  # only the audit entry of the refusal: the loader wrote nothing
            attach(form, error.errors)
        else:
            db.session.commit()
            flash(_("已处理 %(rows)s 行：新增 %(inserted)s，更新 %(updated)s，未变 %(unchanged)s，拒收 %(rejected)s。",
                    rows=summary.rows, inserted=summary.inserted, updated=summary.updated,
                    unchanged=summary.unchanged, rejected=summary.rejected),
                  "warning" if summary.rejected else "success")
            return redirect(url_for("admin.delivery", delivery_id=summary.delivery_id))
    csrf_or_400(form)
    return _render(form, 422)


def _delivery_or_404(delivery_id: int):
    try:
        return deliveries.get_delivery(db.session, delivery_id)
    except NotFound:
        abort(404)


@bp.route("/deliveries/<int:delivery_id>")
def delivery(delivery_id: int):
    """One delivery's counts and its first rejected rows (line, field, reason); the full report downloads."""
    found = _delivery_or_404(delivery_id)
    return render_template("admin/delivery.html", delivery=found,
                           rejections=deliveries.rejections(db.session, found.id),
                           shown=deliveries.SHOWN_REJECTIONS)


@bp.route("/deliveries/<int:delivery_id>/rejections.csv")
def delivery_rejections(delivery_id: int):
    found = _delivery_or_404(delivery_id)
    body = "\ufeff" + deliveries.rejection_report_csv(db.session, found)  # the BOM lets Excel read UTF-8
    return current_app.response_class(body, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=delivery-{found.id}-rejected.csv"})
