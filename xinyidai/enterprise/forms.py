"""The portal's web forms. They parse what was typed (amounts in 万元, as enterprises think of them) and keep
it for the page shown again on an error; the rules themselves live in `operations` and `schemas`.

Every message is a Chinese source string translated when the page is rendered; the fields that parse
numbers and dates carry their own messages instead of WTForms' built-in English ones.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from models.lending import GuaranteeType, Urgency
from xinyidai import uscc as uscc_rules
from xinyidai.auth.forms import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, ChosenPassword
from xinyidai.domain.money import FEN_PER_WAN, fen_from_wan
from xinyidai.domain.vocabulary import (
    CONTACT_PREFERENCES,
    GUARANTEES,
    PURPOSES,
    SELF_REPORT_TOPICS,
    SOURCE_CONTENT,
    URGENCY,
)
from xinyidai.i18n import locale_code
from xinyidai.web.forms import (  # noqa: F401  (the portal's views find every form here)
    COUNTER,
    REQUIRED,
    USERNAME,
    DayField,
    Form,
    MessageForm,
    NumberField,
    StaffForm,
    WholeNumberField,
    email_address,
    options,
    phone_number,
)
from xinyidai.web.labels import REPORT_SECTIONS, SOURCE


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes; the choices are checked by the service rules, not by WTForms' own message."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("validate_choice", False)
        super().__init__(*args, **kwargs)


class RegistrationForm(Form):
    uscc = StringField(_l("统一社会信用代码"), validators=[DataRequired(message=REQUIRED), Length(max=40)],
                       description=_l("18 位，见营业执照。"))
    name = StringField(_l("企业名称"), validators=[DataRequired(message=REQUIRED), Length(max=200)],
                       description=_l("与营业执照上的名称一致。"))
    contact_name = StringField(_l("联系人姓名"), validators=[DataRequired(message=REQUIRED), Length(max=64)])
    contact_phone = StringField(_l("联系电话"), validators=[DataRequired(message=REQUIRED), Length(max=32), phone_number])
    contact_email = StringField(_l("电子邮箱"), validators=[Optional(), Length(max=120), email_address])
    username = StringField(_l("用户名"), description=_l("3–64 个字母、数字或 . _ -，用于登录。"),
                           validators=[DataRequired(message=REQUIRED),
                                       Regexp(USERNAME, message=_l("用户名须为 3–64 个字母、数字或 . _ -。"))])
    password = PasswordField(_l("密码"), description=_l("至少 %(count)d 个字符。", count=MIN_PASSWORD_LENGTH),
                             validators=[DataRequired(message=REQUIRED), Length(
                                 min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH,
                                 message=_l("密码长度须在 %(min)d 到 %(max)d 个字符之间。",
                                            min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)),
                                 ChosenPassword("username", "name", "uscc", "contact_name", "contact_email")])
    confirm_password = PasswordField(_l("确认密码"), validators=[
        DataRequired(message=REQUIRED), EqualTo("password", message=_l("两次输入的密码不一致。"))])
    acting_for = BooleanField(_l("我确认自己有权代表该企业注册并办理融资。"),
                              validators=[DataRequired(message=_l("请确认您有权代表该企业。"))])

    def validate_uscc(self, field) -> None:
        try:
            field.data = uscc_rules.validate_uscc(field.data or "")
        except uscc_rules.InvalidUSCC as error:
            raise ValidationError(error.en if locale_code() == "en" else error.zh) from None

    def validate_password(self, field) -> None:
        if field.data and self.username.data and field.data.strip().lower() == self.username.data.strip().lower():
            raise ValidationError(_l("密码不能与用户名相同。"))


class AuthorizationForm(Form):
    sources = MultiCheckboxField(_l("允许查看的数据"), choices=options((s.value, SOURCE[s]) for s in SOURCE_CONTENT))
    scope = RadioField(_l("哪些银行可以查看"), default="all", validate_choice=False,
                       choices=options([("all", _l("所有参与银行")), ("chosen", _l("仅我选择的银行"))]))
    bank_ids = MultiCheckboxField(_l("选择银行"), choices=[])
    guarantor_ids = MultiCheckboxField(_l("同时允许查看的担保机构（银担合作，可选）"), choices=[],
                                       description=_l("银行为贷款向担保机构申请担保时，被选中的担保机构可查看同样的数据。"))
    expires_on = DayField(_l("有效期至"), validators=[InputRequired(message=REQUIRED)],
                          description=_l("到期当天 24 点自动失效，最长一年；可随时撤销。"))


class NeedForm(Form):
    amount = NumberField(_l("融资金额（万元）"), description=_l("1 万元到 10 亿元，最多 4 位小数（精确到元）。"))
    term_months = WholeNumberField(_l("期限（月）"), description=_l("1 到 120 个月。"))

    def validate_amount(self, field) -> None:
        """A need is asked for in whole yuan: 50.123456 万元 is refused here rather than rounded silently."""
        if field.data is not None and field.data.normalize().as_tuple().exponent < -4:
            raise ValidationError(_l("金额最多保留 4 位小数（即精确到元），请修改。"))
    purpose = SelectField(_l("资金用途"), validate_choice=False,
                          choices=options([("", _l("请选择")), *PURPOSES.items()]))
    purpose_detail = TextAreaField(_l("用途说明（可选）"), validators=[Optional()],
                                   render_kw={"maxlength": 500, "data-counter": COUNTER})
    guarantee_types = MultiCheckboxField(_l("可接受的担保方式"), choices=options((g.value, GUARANTEES[g]) for g in GuaranteeType))
    urgency = RadioField(_l("紧急程度"), default=Urgency.NORMAL.value, validate_choice=False,
                         choices=options((u.value, URGENCY[u]) for u in Urgency))
    contact_preference = SelectField(_l("希望银行如何联系"), validate_choice=False,
                                     choices=options([("", _l("请选择")), *CONTACT_PREFERENCES.items()]))
    open_to_all_banks = RadioField(_l("哪些银行可以看到并联系"), default="1", validate_choice=False,
                                   choices=options([("1", _l("所有匹配的银行")), ("0", _l("仅我申请的产品所属银行"))]))
    max_contacts = WholeNumberField(_l("最多几家银行（可选）"), description=_l("留空表示不限；1 到 20 家。"))

    def values(self) -> dict:
        """What the service checks: amounts in fen; a field that did not parse is None."""
        amount = self.amount.data
        return {
            "amount_fen": fen_from_wan(amount),
            "term_months": self.term_months.data,
            "purpose": self.purpose.data or None,
            "purpose_detail": self.purpose_detail.data or None,
            "guarantee_types": list(self.guarantee_types.data or []),
            "urgency": self.urgency.data or None,
            "contact_preference": self.contact_preference.data or None,
            "open_to_all_banks": self.open_to_all_banks.data != "0",
            "max_contacts": self.max_contacts.data,
        }

    def fill(self, need) -> None:
        self.amount.data = Decimal(need.amount_fen) / FEN_PER_WAN
        self.term_months.data = need.term_months
        self.purpose.data = need.purpose
        self.purpose_detail.data = need.purpose_detail
        self.guarantee_types.data = list(need.guarantee_types)
        self.urgency.data = need.urgency.value
        self.contact_preference.data = need.contact_preference
        self.open_to_all_banks.data = "1" if need.open_to_all_banks else "0"
        self.max_contacts.data = need.max_contacts


# Service field names → the form field that shows their message.
NEED_FIELDS = {"amount_fen": "amount"}


class ContactForm(Form):
    open_to_all_banks = NeedForm.open_to_all_banks
    max_contacts = NeedForm.max_contacts


class CommitmentForm(Form):
    text = TextAreaField(_l("承诺内容"), validators=[Optional()],
                         default=_l("本企业承诺所提供的信息真实、准确、完整，按时足额偿还贷款本息，依法诚信经营。"))


class SelfReportForm(Form):
    topic = SelectField(_l("填报内容"), validate_choice=False, choices=options([("", _l("请选择")), *SELF_REPORT_TOPICS.items()]))
    period = StringField(_l("期间（可选）"), description=_l("如 2025 或 2025-06。"), validators=[Optional()])
    value = TextAreaField(_l("内容"), validators=[Optional()])


class ActionForm(Form):
    """A button that changes something: only the CSRF token."""


class MarkReadForm(Form):
    """"Mark all read" on the notifications page: up to the newest notification that page showed."""

    up_to = IntegerField(validators=[InputRequired(), NumberRange(min=0, max=2**31 - 1)], widget=HiddenInput())


class AnswerRequestForm(Form):
    """Grant or refuse a bank's authorization request: `decision` is grant or refuse."""



class CreditReportForm(Form):
    """专用信用报告: the sections, the window (years back) and the language; the rules are the domain's."""

    sections = MultiCheckboxField(_l("报告内容"), choices=options(REPORT_SECTIONS.items()),
                                  default=list(REPORT_SECTIONS))
    years = SelectField(_l("时间范围"), default="3", validate_choice=False,
                        choices=options((str(n), _l("最近 %(count)s 年", count=n)) for n in range(1, 6)))
    language = RadioField(_l("报告语言"), default="zh", validate_choice=False,
                          choices=options([("zh", _l("中文")), ("en", _l("英文"))]))


class RepairApplicationForm(Form):
    """信用修复: the date the enterprise applied to the deciding authority, its evidence and its commitment."""

    applied_on = DayField(_l("申请日期"), validators=[InputRequired(message=REQUIRED)],
                          description=_l("向认定单位（或通过“信用中国（上海）”）提交修复申请的日期。"))
    commitment_signed = BooleanField(_l("已签署信用修复承诺书"))
