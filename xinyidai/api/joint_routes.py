"""/api/v1 operations of the modelling sandbox (联合建模), credit policies and in-principle confirmation
(预授信). Scoped to the token's bank like every operation: another bank's sample, model or product is a
404. Reports are aggregates only (xinyidai.domain.joint_models)."""

from __future__ import annotations

import json

from flask import current_app, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from models.scoring import GRADE_SCALE
from xinyidai.api import schemas
from xinyidai.api.problems import problem
from xinyidai.api.routes import _actor, _token, blp, problems
from xinyidai.domain import credit_policy, in_principle, joint_models
from xinyidai.domain import products as operations
from xinyidai.domain.bank_schemas import bounded, no_nul, text
from xinyidai.domain.errors import NotFound
from xinyidai.extensions import db

MAX_SAMPLE_ROWS = joint_models.MAX_ROWS


class SampleIn(Schema):
    """Either `rows` (JSON objects) or `csv` (the text of a CSV file with the header uscc,observed_on,outcome)."""

    filename = text(200)
    rows = fields.List(fields.Dict(), validate=validate.Length(max=MAX_SAMPLE_ROWS))
    csv = fields.String(validate=[validate.Length(max=8 * 1024 * 1024), no_nul])

    @validates_schema
    def one_of(self, data, **_kwargs):
        if ("rows" in data) == ("csv" in data):
            raise ValidationError("give either rows or csv", "rows")


class RejectionOut(Schema):
    line = fields.Integer()
    field = fields.String()
    reason = fields.String()
    reason_en = fields.String()


class SampleOut(Schema):
    id = fields.Integer()
    filename = fields.String()
    file_format = fields.String()
    rows = fields.Integer()
    accepted = fields.Integer()
    rejected = fields.Integer()
    defaults = fields.Integer()
    uploaded_at = fields.DateTime()


class SampleDetailOut(SampleOut):
    rejections = fields.List(fields.Nested(RejectionOut))


class SampleUploadOut(Schema):
    repeated = fields.Boolean()
    sample = fields.Nested(SampleDetailOut)


class ModelOut(Schema):
    version = fields.String()
    sample_id = fields.Integer()
    trained_at = fields.DateTime()
    trained_by = fields.String(allow_none=True)
    is_active = fields.Boolean()
    promoted_at = fields.DateTime(allow_none=True)
    promoted_by = fields.String(allow_none=True)


class ModelReportOut(ModelOut):
    report = fields.Dict(metadata={"description": "aggregates only: metrics by split, CV, lift and KS table, "
                                                  "calibration, PSI, feature families, comparison"})


class PolicyIn(Schema):
    model = fields.String(required=True, validate=validate.OneOf(list(credit_policy.MODELS)))
    max_pd = fields.Float(allow_none=True, validate=validate.Range(min=0, max=1, min_inclusive=False,
                                                                   max_inclusive=False))
    min_band = fields.String(allow_none=True, validate=validate.OneOf(list(GRADE_SCALE)))
    sales_share_bp = bounded(1, 10_000, required=True)
    rate_by_band = fields.Dict(keys=fields.String(validate=validate.OneOf(list(GRADE_SCALE))),
                               values=bounded(0, 3600), load_default=dict)
    valid_days = bounded(1, credit_policy.MAX_VALID_DAYS, load_default=30)


class PolicyOut(Schema):
    product_id = fields.Integer()
    model = fields.String()
    max_pd = fields.Float(allow_none=True)
    min_band = fields.String(allow_none=True)
    sales_share_bp = fields.Integer()
    rate_by_band = fields.Dict(keys=fields.String(), values=fields.Integer())
    valid_days = fields.Integer()
    updated_at = fields.DateTime()


def _refused(refused: joint_models.Refused):
    return problem(422, refused.zh, detail_en=refused.en)


def _sample(sample_id: int):
    sample = joint_models.bank_sample(db.session, _token().bank_id, sample_id)
    if sample is None:
        raise NotFound(f"sample {sample_id}")
    return sample


def _version(version: str):
    row = joint_models.bank_version(db.session, _token().bank_id, version)
    if row is None:
        raise NotFound(f"model {version}")
    return row


@blp.route("/joint/samples", methods=["GET"])
@blp.response(200, SampleOut(many=True))
@problems(401)
def list_samples():
    """The bank's accepted samples (联合建模)."""
    return joint_models.bank_samples(db.session, _token().bank_id)


@blp.route("/joint/samples", methods=["POST"])
@blp.arguments(SampleIn)
@blp.response(201, SampleUploadOut)
@blp.alt_response(200, schema=SampleUploadOut, success=True, description="the same content again: the same sample")
@problems(401, 422)
def upload_sample(data):
    """Hand in a sample of the bank's own loans (`uscc`, `observed_on`, `outcome` 1 = defaulted by the bank's
    definition). Bad rows are rejected one by one with their reason; a sample with fewer than 200 usable rows
    or 20 of either outcome is refused (422) and nothing is kept; the same content twice is the same sample."""
    if "csv" in data:
        payload, name = data["csv"].encode(), data.get("filename") or "sample.csv"
    else:
        payload = json.dumps(data["rows"], ensure_ascii=False, sort_keys=True, default=str).encode()
        name = data.get("filename") or "sample.json"
    try:
        upload = joint_models.upload_sample(db.session, _token().bank_id, payload, name, token_id=_token().id,
                                            remote_addr=request.remote_addr)
    except joint_models.Refused as refused:
        db.session.rollback()
        return _refused(refused)
    db.session.commit()
    if upload.refused is not None:
        return problem(422, upload.refused.zh, detail_en=upload.refused.en, errors={"rejections": upload.rejections[:500]})
    return {"repeated": upload.repeated, "sample": upload.sample}, 200 if upload.repeated else 201


@blp.route("/joint/samples/<int:sample_id>", methods=["GET"])
@blp.response(200, SampleDetailOut)
@problems(401, 404)
def get_sample(sample_id: int):
    """One sample with the rejection report of the rows left out."""
    return _sample(sample_id)


@blp.route("/joint/samples/<int:sample_id>/train", methods=["POST"])
@blp.response(201, ModelOut)
@problems(401, 404, 422)
def train(sample_id: int):
    """Train the bank's model on the sample (features as of each observed_on, out-of-time and CV evaluation);
    the new version is not in use until promoted."""
    sample = _sample(sample_id)
    try:
        version = joint_models.train_bank_model(db.session, current_app.config["XYD_INSTANCE_PATH"], _token().bank_id,
                                                sample.id, by=f"token:{_token().id}", token_id=_token().id,
                                                remote_addr=request.remote_addr)
    except joint_models.Refused as refused:
        db.session.rollback()
        return _refused(refused)
    db.session.commit()
    return version


@blp.route("/joint/models", methods=["GET"])
@blp.response(200, ModelOut(many=True))
@problems(401)
def list_models():
    """The bank's model versions, newest first; at most one is in use (`is_active`)."""
    return joint_models.bank_versions(db.session, _token().bank_id)


@blp.route("/joint/models/<version>", methods=["GET"])
@blp.response(200, ModelReportOut)
@problems(401, 404)
def get_model(version: str):
    """A version with its report (aggregates only; every download is audited)."""
    row = _version(version)
    joint_models.report_downloaded(db.session, row, token_id=_token().id, remote_addr=request.remote_addr, what="api")
    db.session.commit()
    return row


@blp.route("/joint/models/<version>/promote", methods=["POST"])
@blp.response(200, ModelOut)
@problems(401, 404, 409)
def promote(version: str):
    """Put the version in use for the bank (who and when are recorded); the previous one stays on file."""
    row = _version(version)
    try:
        joint_models.promote(db.session, current_app.config["XYD_INSTANCE_PATH"], _token().bank_id, row.version,
                             by=f"token:{_token().id}", token_id=_token().id, remote_addr=request.remote_addr)
    except joint_models.ModelUnavailable as error:
        db.session.rollback()
        return problem(409, "模型文件不可用", detail_en=str(error))
    db.session.commit()
    return row


@blp.route("/joint/rollback", methods=["POST"])
@blp.response(200, ModelOut)
@problems(401, 409)
def rollback():
    """Put back in use the version that was in use before the current one."""
    try:
        row = joint_models.rollback(db.session, current_app.config["XYD_INSTANCE_PATH"], _token().bank_id,
                                    by=f"token:{_token().id}", token_id=_token().id, remote_addr=request.remote_addr)
    except joint_models.Refused as refused:
        db.session.rollback()
        return problem(409, refused.zh, detail_en=refused.en)
    except joint_models.ModelUnavailable as error:
        db.session.rollback()
        return problem(409, "模型文件不可用", detail_en=str(error))
    db.session.commit()
    return row


@blp.route("/products/<int:product_id>/policy", methods=["GET"])
@blp.response(200, PolicyOut)
@problems(401, 404)
def get_policy(product_id: int):
    """The product's credit policy (授信政策); 404 when it has none."""
    product = operations.bank_product(db.session, _token().bank_id, product_id)
    policy = credit_policy.policy_of(db.session, product)
    if policy is None:
        raise NotFound(f"policy of product {product_id}")
    return policy


@blp.route("/products/<int:product_id>/policy", methods=["PUT"])
@blp.arguments(PolicyIn)
@blp.response(200, PolicyOut)
@problems(401, 404, 422)
def put_policy(data, product_id: int):
    """Set the product's credit policy: model (`platform` or `bank`), a PD ceiling and/or lowest band, the
    amount as basis points of the last 12 months' invoiced sales (capped by the product maximum), the rate of
    each band (basis points, within the product's range) and how many days an answer stays valid."""
    product = operations.bank_product(db.session, _token().bank_id, product_id)
    policy = credit_policy.set_policy(db.session, product, credit_policy.PolicyInput(
        model=data["model"], max_pd=data.get("max_pd"), min_band=data.get("min_band"),
        sales_share_bp=data["sales_share_bp"], rate_by_band=data.get("rate_by_band") or {},
        valid_days=data.get("valid_days", 30)), token_id=_token().id)
    db.session.commit()
    return policy


@blp.route("/applications/<int:application_id>/confirm", methods=["POST"])
@blp.arguments(schemas.IdempotencyHeader, location="headers", as_kwargs=True)
@blp.response(200, schemas.ApplicationOut)
@problems(401, 404, 409, 422)
def confirm(application_id: int, idempotency_key: str):
    """Confirm the bank's live in-principle approval (预授信) of a matched application: it moves straight to
    approved through the lifecycle (409 when there is none, it expired, or the score or authorization changed)."""
    application = operations.bank_application(db.session, _token().bank_id, application_id, lock=True)
    in_principle.confirm(db.session, application, _actor(), idempotency_key=idempotency_key,
                         instance_path=current_app.config["XYD_INSTANCE_PATH"])
    db.session.commit()
    return application
