"""The guarantor's web forms: rates and coverage in percent, amounts in yuan, as staff think of them."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import DecimalField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from xinyidai.domain.guarantees import DECLINE_REASONS, REASONS_NEEDING_TEXT
from xinyidai.web.forms import REQUIRED, ActionForm, Form, decline_form, yuan_field


def _fee_field(label):
    return DecimalField(label, places=2, validators=[
        InputRequired(message=REQUIRED), NumberRange(min=Decimal("0"), max=Decimal("36"),
                                                     message=_l("担保费率须在 0% 到 36% 之间"))])


def _coverage_field(label):
    return DecimalField(label, places=2, validators=[
        InputRequired(message=REQUIRED), NumberRange(min=Decimal("0.01"), max=Decimal("100"),
                                                     message=_l("担保比例须大于 0% 且不超过 100%"))])


class AcceptForm(ActionForm):
    """同意担保 on a fee and a coverage (filled in from the guarantee product; at most its own)."""

    fee_rate = _fee_field(_l("担保费率（年，%）"))
    coverage = _coverage_field(_l("担保比例（%）"))


DeclineForm = decline_form(DECLINE_REASONS, REASONS_NEEDING_TEXT, _l("拒绝担保原因"),
                           _l("银行和企业会看到原因和这段说明；选择“其他原因”时必填"))


class ProductForm(Form):
    code = StringField(_l("产品代码"), validators=[DataRequired(message=REQUIRED), Length(max=32)],
                       description=_l("本机构内唯一，字母、数字、- 和 _"))
    name_zh = StringField(_l("产品名称（中文）"), validators=[DataRequired(message=REQUIRED), Length(max=100)])
    name_en = StringField(_l("产品名称（英文）"), validators=[Optional(), Length(max=100)])
    fee_rate = _fee_field(_l("担保费率（年，%）"))
    coverage = _coverage_field(_l("担保比例（%）"))
    max_amount = yuan_field(_l("最高担保贷款金额（元）"))
