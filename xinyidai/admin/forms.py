"""The operator's forms: the audit-log search (a GET form: reading changes nothing, so no CSRF token), and
the POST forms of onboarding, model promotion and delivery upload (CSRF-protected, messages in Chinese
source strings worded when rendered)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from xinyidai import uscc as uscc_rules
from xinyidai.admin.audit_search import AuditFilters
from xinyidai.i18n import locale_code
from xinyidai.web.forms import REQUIRED, USERNAME, Form, email_address, options, phone_number


class AuditSearchForm(Form):
    class Meta:
        csrf = False

    actor = StringField(_l("操作人（用户名或用户编号）"), validators=[Optional(), Length(max=120)])
    # A list of the known kinds; a code from a link (a newer kind) is still searched.
    action = SelectField(_l("操作类型"), validate_choice=False, choices=[], validators=[
        Optional(), Length(max=48), Regexp(r"^[a-z_]+$", message=_l("操作类型只含小写字母和下划线，例如 view_credit_detail。"))])

    def __init__(self, *args, **kwargs):
        from xinyidai.admin.audit_words import AUDIT_ACTIONS

        super().__init__(*args, **kwargs)
        self.action.choices = [SelectChoice("", _l("全部类型")), *(SelectChoice(code, label) for code, label in sorted(
            AUDIT_ACTIONS.items(), key=lambda item: str(item[1])))]
    uscc = StringField(_l("企业（统一社会信用代码）"), validators=[Optional(), Length(max=40)])
    date_from = DateField(_l("开始日期"), validators=[Optional()])
    date_to = DateField(_l("结束日期"), validators=[Optional()])
    page = IntegerField(_l("页码"), default=1, validators=[Optional(), NumberRange(min=1, max=100_000)])

    def validate_uscc(self, field) -> None:
        if not field.data:
            return
        try:
            field.data = uscc_rules.validate_uscc(field.data)
        except uscc_rules.InvalidUSCC as error:
            raise ValidationError(error.en if locale_code() == "en" else error.zh) from None

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("结束日期不能早于开始日期。"))

    def filters(self) -> AuditFilters:
        return AuditFilters(actor=(self.actor.data or "").strip() or None, action=self.action.data or None,
                            uscc=self.uscc.data or None, date_from=self.date_from.data, date_to=self.date_to.data)


TOO_LONG = _l("不能超过 %(max)d 个字符。")
BANK_CODE = r"^[A-Za-z0-9][A-Za-z0-9\-]{1,31}$"


def _name_field(label) -> StringField:
    return StringField(label, validators=[DataRequired(message=REQUIRED), Length(max=64, message=TOO_LONG)])


def _username_field(label) -> StringField:
    return StringField(label, description=_l("登录用，3–64 个字母、数字或 . _ -。"), validators=[
        DataRequired(message=REQUIRED), Regexp(USERNAME, message=_l("用户名须为 3–64 个字母、数字或 . _ -。"))])


def _email_field(label) -> StringField:
    return StringField(label, validators=[Optional(), Length(max=120, message=TOO_LONG), email_address])


def _phone_field(label) -> StringField:
    return StringField(label, validators=[Optional(), Length(max=32, message=TOO_LONG), phone_number])


class BankForm(Form):
    """A participating bank and its first administrator."""

    code = StringField(_l("银行代码"), description=_l("2–32 个字母、数字或连字符，例如 ICBC-SH；保存为大写，之后不能更改。"),
                       validators=[DataRequired(message=REQUIRED),
                                   Regexp(BANK_CODE, message=_l("银行代码须为 2–32 个字母、数字或连字符，以字母或数字开头。"))])
    name_zh = StringField(_l("中文名称"), validators=[DataRequired(message=REQUIRED), Length(max=100, message=TOO_LONG)])
    name_en = StringField(_l("英文名称"), validators=[DataRequired(message=REQUIRED), Length(max=100, message=TOO_LONG)])
    officer_display_name = _name_field(_l("管理员姓名"))
    officer_username = _username_field(_l("管理员用户名"))
    officer_email = _email_field(_l("管理员电子邮箱"))
    officer_phone = _phone_field(_l("管理员联系电话"))

    def officer(self) -> dict:
        return {name: getattr(self, f"officer_{name}").data for name in ("display_name", "username", "email", "phone")}


class GuarantorForm(BankForm):
    """A guarantee institution (政府性融资担保) and its first administrator."""

    code = StringField(_l("担保机构代码"), description=_l("2–32 个字母、数字或连字符，例如 SHSMEFG；保存为大写，之后不能更改。"),
                       validators=[DataRequired(message=REQUIRED),
                                   Regexp(BANK_CODE, message=_l("担保机构代码须为 2–32 个字母、数字或连字符，以字母或数字开头。"))])


class OfficeUserForm(Form):
    district = SelectField(_l("所属区（或市级）"), validate_choice=False)
    display_name = _name_field(_l("姓名"))
    username = _username_field(_l("用户名"))
    email = _email_field(_l("电子邮箱"))
    phone = _phone_field(_l("联系电话"))

    def with_districts(self, districts, localized) -> OfficeUserForm:
        self.district.choices = options((d.code, f"{d.code} {localized(d.name_zh, d.name_en)}") for d in districts)
        return self

    def validate_district(self, field) -> None:
        if field.data not in {choice.value for choice in self.district.choices}:
            raise ValidationError(_l("请选择一个区或市级金融办。"))

    def person(self) -> dict:
        return {name: getattr(self, name).data for name in ("display_name", "username", "email", "phone")}


class ActionForm(Form):
    """A button that changes something: CSRF only."""


class ConfirmForm(Form):
    """Promotion and rollback change every score from then on: the operator ticks a box to say so."""

    confirm = BooleanField(_l("我已核对模型卡，确认执行"),
                           validators=[DataRequired(message=_l("请先勾选确认，再执行此操作。"))])


class DeliveryUploadForm(Form):
    source = SelectField(_l("数据来源"), validate_choice=False)
    file = FileField(_l("交付文件（CSV 或 JSON Lines）"), validators=[
        FileRequired(message=_l("请选择要上传的文件。")),
        FileAllowed(["csv", "jsonl", "ndjson"], message=_l("只接受 .csv、.jsonl 或 .ndjson 文件。")),
    ])

    def with_sources(self, labels: dict) -> DeliveryUploadForm:
        self.source.choices = options((source.value, label) for source, label in labels.items())
        return self

    def validate_source(self, field) -> None:
        if field.data not in {choice.value for choice in self.source.choices}:
            raise ValidationError(_l("请选择数据来源。"))
