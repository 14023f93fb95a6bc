"""Marshmallow schemas for what a bank sends: one definition for the web, the API and the CSV upload.

Money is integer fen and rates are basis points (exact); every number is bounded so nothing a client sends
can overflow a database column, and free text refuses NUL characters (PostgreSQL rejects them).
"""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from models.lending import ApplicationState, GuaranteeType, ProductStatus
from models.scoring import GRADE_SCALE
from xinyidai.database import MAX_INT
from xinyidai.domain import inputs
from xinyidai.domain.lifecycle import DECLINE_REASONS
from xinyidai.domain.qualifications import KINDS as QUALIFICATION_KINDS
from xinyidai.i18n import N_
from xinyidai.reference import INDUSTRY_SECTIONS, SHANGHAI_DISTRICTS

MAX_FEN = 10**14  # one trillion yuan: far above any SME loan, far below BIGINT
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def no_nul(value: str) -> None:
    if "\x00" in value:
        raise ValidationError(N_("不能包含空字符 (NUL)"))


def text(max_length: int, *, required: bool = False, min_length: int = 0, multiline: bool = False,
         **kwargs) -> fields.String:
    """Free text through the platform's one normaliser (`inputs.clean_text`): blank is not given."""
    return inputs.Text(required=required, multiline=multiline,
                       validate=[validate.Length(min=min_length, max=max_length), no_nul], **kwargs)


def bounded(low: int, high: int, *, strict: bool = True, **kwargs) -> fields.Integer:
    """An integer within [low, high]; strict (no "12" strings, no 12.0) except where text is all there is (query
    strings, CSV cells), which is read by `inputs.parse_whole`."""
    return inputs.Whole(strict=strict, validate=validate.Range(min=low, max=high), **kwargs)


class ProductSchema(Schema):
    """A loan product as a bank lists it (DESIGN §5). Loaded partially for an edit."""

    code = fields.String(required=True, validate=[validate.Length(min=1, max=32),
                                                  validate.Regexp(CODE_PATTERN, error=N_("只能包含字母、数字、- 和 _"))])
    name_zh = text(100, required=True, min_length=1)
    name_en = text(100, required=True, min_length=1)
    programme = text(64, allow_none=True, metadata={"description": "special programme, e.g. 科技贷 or a district brand"})
    min_amount_fen = bounded(1, MAX_FEN, required=True)
    max_amount_fen = bounded(1, MAX_FEN, required=True)
    min_term_months = bounded(1, 360, required=True)
    max_term_months = bounded(1, 360, required=True)
    min_rate_bp = bounded(0, 3600, required=True, metadata={"description": "annual rate in basis points (385 = 3.85%)"})
    max_rate_bp = bounded(0, 3600, required=True)
    fee_bp = bounded(0, 3600, load_default=0)
    guarantee_type = fields.Enum(GuaranteeType, by_value=True, required=True)
    eligible_districts = fields.List(fields.String(validate=validate.OneOf(list(SHANGHAI_DISTRICTS))),
                                     load_default=list, validate=validate.Length(max=len(SHANGHAI_DISTRICTS)),
                                     metadata={"description": "empty: every district"})
    eligible_industries = fields.List(fields.String(validate=validate.OneOf(list(INDUSTRY_SECTIONS))),
                                      load_default=list, validate=validate.Length(max=len(INDUSTRY_SECTIONS)),
                                      metadata={"description": "GB/T 4754 sections; empty: every industry"})
    min_grade = fields.String(allow_none=True, validate=validate.OneOf(GRADE_SCALE))
    min_years_operating = bounded(0, 100, load_default=0)
    whitelist_only = fields.Boolean(load_default=False)
    required_qualifications = fields.List(
        fields.String(validate=validate.OneOf(QUALIFICATION_KINDS)), load_default=list,
        validate=validate.Length(max=len(QUALIFICATION_KINDS)),
        metadata={"description": "qualifications the enterprise must hold, valid on the need's date: "
                                 + ", ".join(QUALIFICATION_KINDS)})
    preferred_qualifications = fields.List(
        fields.String(validate=validate.OneOf(QUALIFICATION_KINDS)), load_default=list,
        validate=validate.Length(max=len(QUALIFICATION_KINDS)),
        metadata={"description": "qualifications that rank a need higher when held"})
    status = fields.Enum(ProductStatus, by_value=True, load_default=ProductStatus.ACTIVE)
    guarantor_required = fields.Boolean(load_default=False, metadata={
        "description": "银担合作: the loan needs a guarantee accepted by a platform guarantor before approval"})
    guarantor_id = bounded(1, MAX_INT, load_default=None, allow_none=True, metadata={
        "description": "the one platform guarantor that must guarantee it (implies guarantor_required); null: any"})

    @pre_load
    def qualifications_once_each(self, data, **_kwargs):
        # The same qualification twice (a repeated checkbox, a careless API body) means it once.
        if isinstance(data, dict):
            for name in ("required_qualifications", "preferred_qualifications"):
                if isinstance(data.get(name), list) and all(isinstance(v, str) for v in data[name]):
                    data = {**data, name: list(dict.fromkeys(data[name]))}
        return data

    @validates_schema
    def ranges_are_ordered(self, data, **_kwargs):
        errors = {}
        for low, high, message in (("min_amount_fen", "max_amount_fen", N_("金额下限不能高于上限")),
                                   ("min_term_months", "max_term_months", N_("期限下限不能高于上限")),
                                   ("min_rate_bp", "max_rate_bp", N_("利率下限不能高于上限"))):
            if low in data and high in data and data[low] > data[high]:
                errors[high] = [message]
        if data.get("guarantor_id") is not None and data.get("guarantor_required") is False:
            errors["guarantor_required"] = [N_("指定担保机构时须要求平台担保")]
        if errors:
            raise ValidationError(errors)


class DeclineSchema(Schema):
    reason_code = fields.String(required=True, validate=validate.OneOf(list(DECLINE_REASONS)))
    reason_text = text(500, allow_none=True, multiline=True)


class ApproveSchema(Schema):
    """The terms approved (the offer the enterprise sees before the loan is made): all three, or none (the
    approval then records no terms, as an approval in principle confirmed keeps its own)."""

    amount_fen = bounded(1, MAX_FEN, metadata={"description": "approved amount in fen"})
    term_months = bounded(1, 360, metadata={"description": "approved term in months"})
    rate_bp = bounded(0, 3600, metadata={"description": "approved annual rate in basis points (385 = 3.85%)"})

    @validates_schema
    def all_or_none(self, data, **_kwargs):
        given = {name for name in ("amount_fen", "term_months", "rate_bp") if data.get(name) is not None}
        if given and len(given) < 3:
            raise ValidationError({name: [N_("批准的金额、期限和利率须同时提供")]
                                   for name in ("amount_fen", "term_months", "rate_bp") if name not in given})


class DisburseSchema(Schema):
    amount_fen = bounded(1, MAX_FEN, required=True)
    rate_bp = bounded(0, 3600, required=True)
    term_months = bounded(1, 360, required=True)
    disbursed_on = inputs.Day(required=True)
    guarantee_type = fields.Enum(GuaranteeType, by_value=True, required=True)


REPAYMENT_STATES = (ApplicationState.REPAYING, ApplicationState.OVERDUE, ApplicationState.REPAID,
                    ApplicationState.DEFAULTED)


class RepaymentSchema(Schema):
    """A repayment status report; with `as_of` and `outstanding_fen` it is also a month-end performance row."""

    status = fields.String(required=True, validate=validate.OneOf([s.value for s in REPAYMENT_STATES]))
    days_past_due = bounded(0, 36500, load_default=None, allow_none=True)
    as_of = inputs.Day(load_default=None, allow_none=True)
    outstanding_fen = bounded(0, MAX_FEN, load_default=None, allow_none=True)

    @validates_schema
    def consistent(self, data, **_kwargs):
        status, dpd = data.get("status"), data.get("days_past_due")
        if status in ("overdue", "defaulted") and not dpd:
            raise ValidationError({"days_past_due": [N_("逾期或违约须报送逾期天数")]})
        if (data.get("as_of") is None) != (data.get("outstanding_fen") is None):
            raise ValidationError({"outstanding_fen": [N_("月末余额和报送日期须同时提供")]})


class ReassignSchema(Schema):
    officer_id = bounded(1, MAX_INT, required=True)
