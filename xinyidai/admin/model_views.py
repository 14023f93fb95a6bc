"""/admin/models: the model registry, each version's card, promotion and rollback (DESIGN §4).

Training stays a scheduled or manual `xyd ml train` (minutes of CPU, never inside a request); the pages say so.
"""

from __future__ import annotations

from flask import abort, current_app, flash, make_response, redirect, render_template, url_for
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


def _render_version(row: ModelVersion, form: ConfirmForm, status: int = 200, refusal: str | None = None,
                    failed_bars: bool = False):
    card = row.card if isinstance(row.card, dict) else {}
    return render_template("admin/model_version.html", row=row, card=card, form=form, refusal=refusal,
                           failed_bars=failed_bars, features=model_registry.card_features(card),
                           sign_offs=model_registry.sign_off_log(db.session, row.version)), status


@bp.route("/models/<version>/card.xlsx")
def model_card_xlsx(version: str):
    """The card as a workbook for the credit committee."""
    from xinyidai.admin.model_card_xlsx import workbook

    row = _version_or_404(version)
    card = row.card if isinstance(row.card, dict) else {}
    data = workbook(row.version, card, model_registry.sign_off_log(db.session, row.version))
    response = make_response(data)
    response.headers["Content-Type"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response.headers["Content-Disposition"] = f'attachment; filename="model-card-{row.version}.xlsx"'
    return response


@bp.route("/models/<version>/promote", methods=["POST"])
def promote_model(version: str):
    """Champion–challenger: promoted only when the version passes its bars against the active version and
    its WOE scorecard on its out-of-time loans (409 with the failed bars, the challenge kept on its card);
    422 without the confirmation box, 409 when the files are missing or damaged or there is no holdout."""
    row = _version_or_404(version)
    form = ConfirmForm()
    if not form.validate():
        csrf_or_400(form)
        return _render_version(row, form, 422)
    try:
        challenge, promotion = model_registry.promote_if_better(db.session, _instance(), row.version,
                                                                by=current_user, channel="admin")
    except (ModelUnavailable, model_registry.NoHoldout) as error:
        db.session.rollback()
        return _render_version(row, form, 409, refusal=str(error))
    db.session.commit()
    if promotion is None:
        return _render_version(row, form, 409, failed_bars=True)
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
