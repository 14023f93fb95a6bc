"""What the API reads (query strings, headers) and writes; bodies reuse the bank's own input schemas."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from models.lending import ApplicationState, GuaranteeType, ProductStatus, Urgency
from models.scoring import GRADE_SCALE
from xinyidai.database import MAX_INT
from xinyidai.domain.bank_schemas import MAX_FEN, ProductSchema, bounded, no_nul
from xinyidai.domain.pipeline import MAX_PER_PAGE, SORTS
from xinyidai.reference import INDUSTRY_SECTIONS, SHANGHAI_DISTRICTS


class IdempotencyHeader(Schema):
    idempotency_key = fields.String(
        data_key="Idempotency-Key", required=True,
        validate=[validate.Length(min=1, max=128), validate.Regexp(r"^[\x21-\x7e]+$"), no_nul],
        metadata={"description": "a key of the client's choosing, unique per report: a retried POST with the same "
                                 "key is applied once and answered like the first time"},
    )


class ProductPatchSchema(ProductSchema):
    """A product edit: any subset of the product's fields."""

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


class PagingQuery(Schema):
    page = bounded(1, 100_000, load_default=1, strict=False)
    per_page = bounded(1, MAX_PER_PAGE, load_default=25, strict=False)


class PipelineQuery(PagingQuery):
    district = fields.String(validate=validate.OneOf(list(SHANGHAI_DISTRICTS)))
    industry = fields.String(validate=validate.OneOf(list(INDUSTRY_SECTIONS)))
    min_amount_fen = bounded(0, MAX_FEN, strict=False)
    max_amount_fen = bounded(0, MAX_FEN, strict=False)
    min_grade = fields.String(validate=validate.OneOf(GRADE_SCALE))
    whitelisted = fields.Boolean()
    max_age_days = bounded(0, 36500, strict=False)
    product_id = bounded(1, MAX_INT, strict=False)
    sort = fields.String(load_default="newest", validate=validate.OneOf(SORTS))


class ApplicationsQuery(PagingQuery):
    state = fields.Enum(ApplicationState, by_value=True)


class ProductOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    programme = fields.String(allow_none=True)
    min_amount_fen = fields.Integer()
    max_amount_fen = fields.Integer()
    min_term_months = fields.Integer()
    max_term_months = fields.Integer()
    min_rate_bp = fields.Integer()
    max_rate_bp = fields.Integer()
    fee_bp = fields.Integer()
    guarantee_type = fields.Enum(GuaranteeType, by_value=True)
    eligible_districts = fields.List(fields.String())
    eligible_industries = fields.List(fields.String())
    min_grade = fields.String(allow_none=True)
    min_years_operating = fields.Integer()
    whitelist_only = fields.Boolean()
    required_qualifications = fields.List(fields.String())
    preferred_qualifications = fields.List(fields.String())
    status = fields.Enum(ProductStatus, by_value=True)
    guarantor_required = fields.Boolean()
    guarantor_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class NeedOut(Schema):
    id = fields.Integer()
    amount_fen = fields.Integer()
    term_months = fields.Integer()
    purpose = fields.String()
    guarantee_types = fields.List(fields.String())
    urgency = fields.Enum(Urgency, by_value=True)
    published_at = fields.DateTime()


class ApplicationOut(Schema):
    id = fields.Integer()
    state = fields.Enum(ApplicationState, by_value=True)
    product_id = fields.Integer()
    need = fields.Nested(NeedOut)
    match_rank = fields.Float(allow_none=True)
    applied_by_enterprise = fields.Boolean()
    claimed_by_id = fields.Integer(allow_none=True)
    claimed_at = fields.DateTime(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    approved_amount_fen = fields.Integer(allow_none=True, metadata={"description": "the terms approved: amount"})
    approved_term_months = fields.Integer(allow_none=True, metadata={"description": "the terms approved: term"})
    approved_rate_bp = fields.Integer(allow_none=True, metadata={"description": "the terms approved: annual rate"})
    decline_reason_code = fields.String(allow_none=True)
    decline_reason_text = fields.String(allow_none=True)
    disbursed_amount_fen = fields.Integer(allow_none=True)
    rate_bp = fields.Integer(allow_none=True)
    term_months = fields.Integer(allow_none=True)
    disbursed_on = fields.Date(allow_none=True)
    guarantee_type = fields.Enum(GuaranteeType, by_value=True, allow_none=True)
    days_past_due = fields.Integer()
    guarantor_id = fields.Integer(allow_none=True, metadata={"description": "the guarantor whose accepted guarantee "
                                                                            "the loan stands on (银担合作)"})
    guarantee_fee_bp = fields.Integer(allow_none=True)
    guarantee_coverage_bp = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class EnterpriseSummaryOut(Schema):
    district_code = fields.String()
    industry_section = fields.String()
    size_class = fields.String()
    years_operating = fields.Integer()
    grade = fields.String(allow_none=True)
    whitelisted = fields.Boolean()


class EnterpriseOut(Schema):
    summary = fields.Nested(EnterpriseSummaryOut)
    detail_visible = fields.Boolean(metadata={"description": "true only while a live authorization names this bank"})
    authorization_id = fields.Integer(allow_none=True)
    detail = fields.Dict(allow_none=True, metadata={"description": "profile, score with reasons and the monthly data "
                                                                   "of the authorized sources, and `self_reported` (the enterprise's "
                                                                   "credit commitments and voluntary reports, `verified`: "
                                                                   "false, never provider data); null without authorization"})


class ApplicationDetailOut(ApplicationOut):
    enterprise = fields.Nested(EnterpriseOut)


class ApplicationPageOut(Schema):
    items = fields.List(fields.Nested(ApplicationOut))
    page = fields.Integer()
    per_page = fields.Integer()
    has_more = fields.Boolean()


class PipelineItemOut(Schema):
    application_id = fields.Integer()
    product_id = fields.Integer()
    need = fields.Nested(NeedOut)
    match_rank = fields.Float(allow_none=True)
    matched_at = fields.DateTime()
    sla_due_at = fields.DateTime()
    district_code = fields.String()
    industry_section = fields.String()
    size_class = fields.String()
    grade = fields.String(allow_none=True)
    whitelisted = fields.Boolean()


class PipelinePageOut(Schema):
    items = fields.List(fields.Nested(PipelineItemOut))
    page = fields.Integer()
    per_page = fields.Integer()
    has_more = fields.Boolean()


class PerformanceOut(Schema):
    as_of = fields.Date()
    outstanding_fen = fields.Integer()
    days_past_due = fields.Integer()
    status = fields.String()
    reported_at = fields.DateTime()


class OfficerOut(Schema):
    id = fields.Integer()
    display_name = fields.String()
