"""Forms of the modelling sandbox (联合建模) and of a product's credit policy (授信政策)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import DecimalField, IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange, Optional

from models.scoring import GRADE_SCALE
from xinyidai.bank.forms import REQUIRED, options
from xinyidai.domain.credit_policy import MAX_VALID_DAYS, PolicyInput
from xinyidai.web.forms import Form


class SampleForm(Form):
    file = FileField(_l("样本文件（CSV 或 JSON）"), validators=[
        FileRequired(message=_l("请选择要上传的样本文件")),
        FileAllowed(["csv", "txt", "json", "jsonl", "ndjson"], message=_l("只接受 CSV 或 JSON 文件")),
    ])


def _rate_field(band: str):
    return DecimalField(band, places=2, validators=[Optional(), NumberRange(min=Decimal("0"), max=Decimal("36"),
                                                                            message=_l("年利率须在 0% 到 36% 之间"))])


class PolicyForm(Form):
    model = SelectField(_l("使用的模型"), choices=options([("platform", _l("平台信用评分")),
                                                       ("bank", _l("本行联合模型"))]))
    max_pd = DecimalField(_l("违约概率上限（%）"), places=2, validators=[
        Optional(), NumberRange(min=Decimal("0.01"), max=Decimal("99.99"), message=_l("须在 0.01% 到 99.99% 之间"))])
    min_band = SelectField(_l("最低等级"), choices=options([("", _l("不限"))] + [(g, g) for g in GRADE_SCALE]),
                           validators=[Optional()])
    sales_share = DecimalField(_l("额度：近12个月开票销售额的比例（%）"), places=2, validators=[
        InputRequired(message=REQUIRED), NumberRange(min=Decimal("0.01"), max=Decimal("100"),
                                                     message=_l("须在 0.01% 到 100% 之间"))])
    valid_days = IntegerField(_l("预授信有效期（天）"), default=30, validators=[
        InputRequired(message=REQUIRED), NumberRange(1, MAX_VALID_DAYS, message=_l("有效期须在 1 到 90 天之间"))])

    def rate_fields(self):
        return [getattr(self, f"rate_{g}") for g in GRADE_SCALE]

    def to_service(self) -> PolicyInput:
        def bp(value):
            return int((value * 100).to_integral_value())

        rates = {g: bp(getattr(self, f"rate_{g}").data) for g in GRADE_SCALE
                 if getattr(self, f"rate_{g}").data is not None}
        return PolicyInput(model=self.model.data, max_pd=float(self.max_pd.data) / 100 if self.max_pd.data else None,
                           min_band=self.min_band.data or None, sales_share_bp=bp(self.sales_share.data),
                           rate_by_band=rates, valid_days=self.valid_days.data)

    def fill_from(self, policy) -> None:
        self.model.data = policy.model
        self.max_pd.data = None if policy.max_pd is None else Decimal(str(round(policy.max_pd * 100, 2)))
        self.min_band.data = policy.min_band or ""
        self.sales_share.data = Decimal(policy.sales_share_bp) / 100
        self.valid_days.data = policy.valid_days
        for band, rate in (policy.rate_by_band or {}).items():
            if band in GRADE_SCALE:
                getattr(self, f"rate_{band}").data = Decimal(rate) / 100

    SERVICE_TO_FORM = {"sales_share_bp": "sales_share", "rate_by_band": "rate_AAA"}


for _grade in GRADE_SCALE:
    setattr(PolicyForm, f"rate_{_grade}", _rate_field(_grade))
