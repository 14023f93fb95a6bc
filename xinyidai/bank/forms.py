"""The bank's web forms. Amounts are entered in yuan and rates in percent, as officers think of them; the
views convert to fen and basis points for the services. Every POST form carries the CSRF token and a
one-time key, so a double-clicked button is applied once."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from models.lending import GuaranteeType, ProductStatus
from models.scoring import GRADE_SCALE
from xinyidai.domain.bank_schemas import REPAYMENT_STATES
from xinyidai.domain.lifecycle import DECLINE_REASONS, REASONS_NEEDING_TEXT
from xinyidai.domain.money import basis_points, fen
from xinyidai.domain.vocabulary import GUARANTEES
from xinyidai.i18n import Bilingual
from xinyidai.reference import INDUSTRY_SECTIONS, SHANGHAI_DISTRICTS
from xinyidai.web.forms import (  # noqa: F401  (MessageForm: the bank writes in the same thread)
    COUNTER,
    MAX_YUAN,
    ActionForm,
    Form,
    MessageForm,
    decline_form,
    options,
    yuan_field,
)
from xinyidai.web.forms import StaffForm as SharedStaffForm
from xinyidai.web.labels import APPLICATION_STATE

REQUIRED = _l("请填写此项")


def _districts():
    return [(code, Bilingual(zh, en)) for code, (zh, en) in SHANGHAI_DISTRICTS.items()]


def _industries():
    return [(code, Bilingual(f"{code} {zh}", f"{code} {en}")) for code, (zh, en, _divisions) in INDUSTRY_SECTIONS.items()]


def _qualifications():
    from xinyidai.domain.qualifications import NAMES

    return [(kind, Bilingual(zh, en[:1].upper() + en[1:])) for kind, (zh, en) in NAMES.items()]


def _percent_field(label, required=True):
    validators = [InputRequired(message=REQUIRED) if required else Optional(),
                  NumberRange(min=Decimal("0"), max=Decimal("36"), message=_l("年利率须在 0% 到 36% 之间"))]
    return DecimalField(label, places=2, validators=validators)


class ProductForm(Form):
    code = StringField(_l("产品代码"), validators=[DataRequired(message=REQUIRED), Length(max=32)],
                       description=_l("本行内唯一，字母、数字、- 和 _"))
    name_zh = StringField(_l("产品名称（中文）"), validators=[DataRequired(message=REQUIRED), Length(max=100)])
    name_en = StringField(_l("产品名称（英文）"), validators=[DataRequired(message=REQUIRED), Length(max=100)])
    programme = StringField(_l("专项计划"), validators=[Optional(), Length(max=64)],
                            description=_l("如科技贷、区级品牌贷款；可不填"))
    min_amount = yuan_field(_l("最低金额（元）"))
    max_amount = yuan_field(_l("最高金额（元）"))
    min_term_months = IntegerField(_l("最短期限（月）"), validators=[InputRequired(message=REQUIRED), NumberRange(1, 360)])
    max_term_months = IntegerField(_l("最长期限（月）"), validators=[InputRequired(message=REQUIRED), NumberRange(1, 360)])
    min_rate = _percent_field(_l("最低年利率（%）"))
    max_rate = _percent_field(_l("最高年利率（%）"))
    fee = _percent_field(_l("费率（%）"), required=False)
    guarantee_type = SelectField(_l("担保方式"), choices=options([(g.value, GUARANTEES[g]) for g in GuaranteeType]))
    eligible_districts = SelectMultipleField(_l("服务区域"), choices=options(_districts()), validators=[Optional()],
                                             description=_l("不选表示全市各区"))
    eligible_industries = SelectMultipleField(_l("支持行业"), choices=options(_industries()), validators=[Optional()],
                                              description=_l("不选表示所有行业"))
    min_grade = SelectField(_l("最低信用等级"), choices=options([("", _l("不限"))] + [(g, g) for g in GRADE_SCALE]),
                            validators=[Optional()])
    min_years_operating = IntegerField(_l("最短经营年限（年）"), default=0, validators=[Optional(), NumberRange(0, 100)])
    whitelist_only = BooleanField(_l("仅面向白名单企业"))
    required_qualifications = SelectMultipleField(
        _l("要求企业资质"), choices=options(_qualifications()), validators=[Optional()],
        description=_l("企业在需求发布之日须持有有效证书；不选表示不要求"))
    preferred_qualifications = SelectMultipleField(
        _l("优先企业资质"), choices=options(_qualifications()), validators=[Optional()],
        description=_l("持有这些资质的企业排序靠前"))
    status = SelectField(_l("状态"), choices=options([(ProductStatus.ACTIVE.value, _l("在售")),
                                            (ProductStatus.PAUSED.value, _l("暂停"))]))
    guarantor_required = BooleanField(_l("须平台担保机构担保（银担合作）"))
    guarantor_id = SelectField(_l("指定担保机构"), choices=[], validate_choice=False, validators=[Optional()],
                               description=_l("不选表示任一平台担保机构"))

    def with_guarantors(self, guarantors, localized) -> ProductForm:
        self.guarantor_id.choices = options([("", _l("不指定")), *((str(g.id), localized(g.name_zh, g.name_en))
                                                                 for g in guarantors)])
        return self

    # form field -> service field, with the conversion
    def to_service(self) -> dict:
        return {
            "code": self.code.data.strip(), "name_zh": self.name_zh.data.strip(), "name_en": self.name_en.data.strip(),
            "programme": (self.programme.data or "").strip() or None,
            "min_amount_fen": fen(self.min_amount.data), "max_amount_fen": fen(self.max_amount.data),
            "min_term_months": self.min_term_months.data, "max_term_months": self.max_term_months.data,
            "min_rate_bp": basis_points(self.min_rate.data), "max_rate_bp": basis_points(self.max_rate.data),
            "fee_bp": basis_points(self.fee.data) if self.fee.data is not None else 0,
            "guarantee_type": self.guarantee_type.data, "eligible_districts": self.eligible_districts.data or [],
            "eligible_industries": self.eligible_industries.data or [], "min_grade": self.min_grade.data or None,
            "min_years_operating": self.min_years_operating.data or 0, "whitelist_only": bool(self.whitelist_only.data),
            "required_qualifications": self.required_qualifications.data or [],
            "preferred_qualifications": self.preferred_qualifications.data or [],
            "status": self.status.data, "guarantor_required": bool(self.guarantor_required.data),
            "guarantor_id": int(self.guarantor_id.data) if (self.guarantor_id.data or "").isdigit() else None,
        }

    SERVICE_TO_FORM = {"min_amount_fen": "min_amount", "max_amount_fen": "max_amount", "min_rate_bp": "min_rate",
                       "max_rate_bp": "max_rate", "fee_bp": "fee"}

    def fill_from(self, product) -> None:
        for name in ("code", "name_zh", "name_en", "programme", "min_term_months", "max_term_months",
                     "eligible_districts", "eligible_industries", "min_years_operating", "whitelist_only",
                     "required_qualifications", "preferred_qualifications"):
            getattr(self, name).data = getattr(product, name)
        self.min_amount.data, self.max_amount.data = (Decimal(product.min_amount_fen) / 100,
                                                      Decimal(product.max_amount_fen) / 100)
        self.min_rate.data, self.max_rate.data = Decimal(product.min_rate_bp) / 100, Decimal(product.max_rate_bp) / 100
        self.fee.data = Decimal(product.fee_bp) / 100
        self.guarantee_type.data, self.status.data = product.guarantee_type.value, product.status.value
        self.min_grade.data = product.min_grade or ""
        self.guarantor_required.data = product.guarantor_required
        self.guarantor_id.data = str(product.guarantor_id) if product.guarantor_id else ""

    def add_service_errors(self, errors: dict) -> None:
        for name, messages in errors.items():
            target = getattr(self, self.SERVICE_TO_FORM.get(name, name), None)
            if target is None:
                target = self.code
            target.errors = list(target.errors) + [str(m) for m in messages]


class PipelineFilterForm(Form):
    """GET filters of the pipeline (no CSRF: reading changes nothing)."""

    class Meta:
        csrf = False

    district = SelectField(_l("区"), choices=options([("", _l("全部"))] + _districts()), validators=[Optional()])
    industry = SelectField(_l("行业"), choices=options([("", _l("全部"))] + _industries()), validators=[Optional()])
    min_amount = DecimalField(_l("金额不低于（元）"), places=2, validators=[Optional(), NumberRange(0, MAX_YUAN)])
    max_amount = DecimalField(_l("金额不高于（元）"), places=2, validators=[Optional(), NumberRange(0, MAX_YUAN)])
    min_grade = SelectField(_l("信用等级不低于"), choices=options([("", _l("不限"))] + [(g, g) for g in GRADE_SCALE]),
                            validators=[Optional()])
    whitelisted = SelectField(_l("白名单"), choices=options([("", _l("不限")), ("yes", _l("仅白名单")), ("no", _l("非白名单"))]),
                              validators=[Optional()])
    max_age_days = IntegerField(_l("发布天数不超过"), validators=[Optional(), NumberRange(0, 36500)])
    sort = SelectField(_l("排序"), choices=options([("newest", _l("最新匹配")), ("oldest", _l("最早匹配（SLA）")),
                                          ("rank", _l("匹配度"))]), validators=[Optional()])


DeclineForm = decline_form(DECLINE_REASONS, REASONS_NEEDING_TEXT, _l("拒绝原因"),
                           _l("企业会看到拒绝原因和这段说明；选择“其他原因”时必填"))


class GuaranteeRequestForm(ActionForm):
    """申请担保: one of the guarantee products on offer for this application (银担合作)."""

    guarantee_product_id = SelectField(_l("担保产品"), choices=[], validate_choice=False,
                                       validators=[InputRequired(message=REQUIRED)])

    def with_products(self, products, localized, percent) -> GuaranteeRequestForm:
        self.guarantee_product_id.choices = options(
            (str(p.id), f"{localized(p.guarantor.name_zh, p.guarantor.name_en)} · {localized(p.name_zh, p.name_en)} · "
                        f"{percent(p.fee_rate_bp)} / {percent(p.coverage_bp)}") for p in products)
        return self


class ApproveForm(ActionForm):
    """审批通过 with the terms approved (filled in from the need and the product; the officer adjusts)."""

    amount = yuan_field(_l("批准金额（元）"))
    term_months = IntegerField(_l("批准期限（月）"), validators=[InputRequired(message=REQUIRED), NumberRange(1, 360)])
    rate = _percent_field(_l("批准年利率（%）"))


class DisburseForm(ActionForm):
    amount = yuan_field(_l("放款金额（元）"))
    rate = _percent_field(_l("年利率（%）"))
    term_months = IntegerField(_l("期限（月）"), validators=[InputRequired(message=REQUIRED), NumberRange(1, 360)])
    disbursed_on = DateField(_l("放款日期"), validators=[InputRequired(message=REQUIRED)])
    guarantee_type = SelectField(_l("担保方式"), choices=options([(g.value, GUARANTEES[g]) for g in GuaranteeType]))


class RepaymentForm(ActionForm):
    status = SelectField(_l("还款状态"), choices=options([(s.value, APPLICATION_STATE[s]) for s in REPAYMENT_STATES]))
    days_past_due = IntegerField(_l("逾期天数"), validators=[Optional(), NumberRange(0, 36500)])
    as_of = DateField(_l("月末日期"), validators=[Optional()], description=_l("与贷款余额一起填写时记为月末报送"))
    outstanding = yuan_field(_l("贷款余额（元）"), required=False)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.status.data in ("overdue", "defaulted") and not self.days_past_due.data:
            self.days_past_due.errors = [*self.days_past_due.errors, _l("逾期或违约须填写逾期天数")]
            valid = False
        if (self.as_of.data is None) != (self.outstanding.data is None):
            self.outstanding.errors = [*self.outstanding.errors, _l("月末日期和贷款余额须同时填写")]
            valid = False
        return valid


class ReassignForm(ActionForm):
    officer_id = SelectField(_l("转交给"), coerce=int, choices=[])


class TokenForm(Form):
    name = StringField(_l("令牌名称"), validators=[DataRequired(message=REQUIRED), Length(max=64)],
                       description=_l("例如：核心系统、信贷系统测试环境"))


class RevokeForm(Form):
    pass


class UploadForm(Form):
    file = FileField(_l("结果文件（CSV）"), validators=[
        FileRequired(message=_l("请选择要上传的 CSV 文件")),
        FileAllowed(["csv", "txt"], message=_l("只接受 CSV 文件（扩展名 .csv）；Excel 文件请先另存为 CSV。")),
    ])



class StaffForm(SharedStaffForm):
    """A colleague's login (the fields every portal asks), optionally as a second administrator."""

    tenant_admin = BooleanField(_l("设为本行管理员"), description=_l("管理员可以管理员工账户和接口令牌"))


class AuthorizationRequestForm(Form):
    note = TextAreaField(_l("给企业的说明（可选）"), validators=[Optional(), Length(max=500)],
                         render_kw={"maxlength": 500, "rows": 2, "data-counter": COUNTER},
                         description=_l("例如：为完成授信审查，需要查看贵企业近 12 个月的纳税和社保数据。"))


class AttachReportForm(Form):
    """A credit report (专用信用报告) the enterprise handed to the bank: its number, code and (optionally) the file."""

    number = StringField(_l("报告编号"), validators=[DataRequired(message=_l("请填写此项。")), Length(max=32)])
    code = StringField(_l("验证码"), validators=[DataRequired(message=_l("请填写此项。")), Length(max=16)])
    report = FileField(_l("报告文件（PDF，可选）"), description=_l("附上文件时，平台同时比对文件摘要。"))
