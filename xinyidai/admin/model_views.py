"""/admin/models: the model registry, each version's card, promotion and rollback (DESIGN §4).

Training stays a scheduled or manual `xyd ml train` (minutes of CPU, never inside a request); the pages say so.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ml.registry import ModelUnavailable
from models.scoring import ModelVersion
from xinyidai.admin.forms import ConfirmForm
from xinyidai.admin.routes import bp
from xinyidai.domain import model_registry
from xinyidai.extensions import db
from xinyidai.web.forms import csrf_or_400

MAX_VERSION_LENGTH = 48  # ModelVersion.version's column


def _instance() -> str:
    return current_app.config["XYD_INSTANCE_PATH"]


def _version_or_404(version: str) -> ModelVersion:
    row = db.session.get(ModelVersion, version) if len(version) <= MAX_VERSION_LENGTH else None
    if row is None:
        abort(404)
    return row


@bp.route("/models")
def models():
    return render_template("admin/models.html", versions=model_registry.versions(db.session), form=ConfirmForm()), 200


@bp.route("/models/<version>")
def model_version(version: str):
    return _render_version(_version_or_404(version), ConfirmForm())


def _render_version(row: ModelVersion, form: ConfirmForm, status: int = 200, refusal: str | None = None):
    card = row.card if isinstance(row.card, dict) else {}
    return render_template("admin/model_version.html", row=row, card=card, form=form, refusal=refusal,
                           features=model_registry.card_features(card)), status


@bp.route("/models/<version>/promote", methods=["POST"])
def promote_model(version: str):
    """Refused with 422 without the confirmation box, 409 when the files are missing or damaged."""
    row = _version_or_404(version)
    form = ConfirmForm()
    if not form.validate():
        csrf_or_400(form)
        return _render_version(row, form, 422)
    try:
        model_registry.promote(db.session, _instance(), row.version, by=current_user, channel="admin")
    except ModelUnavailable as error:
        db.session.rollback()
        return _render_version(row, form, 409, refusal=str(error))
    db.session.commit()
    flash(_("模型 %(version)s 已启用，之后的评分都使用它。", version=row.version), "success")
    return redirect(url_for("admin.model_version", version=row.version))


@bp.route("/models/rollback", methods=["POST"])
def rollback_model():
    """Back to the version promoted before the active one; refused (409) when there is none that loads."""
    form = ConfirmForm()
    if not form.validate():
        csrf_or_400(form)
        return render_template("admin/models.html", versions=model_registry.versions(db.session), form=form), 422
    try:
        row = model_registry.rollback(db.session, _instance(), by=current_user, channel="admin").model
    except ModelUnavailable as error:
        db.session.rollback()
        return render_template("admin/models.html", versions=model_registry.versions(db.session), form=form,
                               refusal=str(error)), 409
    db.session.commit()
    flash(_("已回退到模型 %(version)s。", version=row.version), "success")
    return redirect(url_for("admin.models"))
