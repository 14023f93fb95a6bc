"""What every portal's forms share: the base `Form` that puts the platform's input rules
(`xinyidai.domain.inputs`) on every field, a service's field messages put on the form, and the 400 for a
form whose CSRF token is missing or stale; and the fields and forms several portals share (options, the phone,
e-mail and username rules, a colleague's login, a message of an application's thread).

Every form of the site derives from `Form` (a test walks them all). Binding a field swaps WTForms' own
number and date fields for the ones below, whose parsing is the domain's, and gives every text field the
domain's text normaliser as its first filter — so a form declared with a plain `DecimalField` or
`StringField` still bounds its numbers before any arithmetic and refuses control and bidi characters.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from flask import abort
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    FileField,
    FloatField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import UnboundField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from xinyidai.domain import inputs
from xinyidai.i18n import N_, Bilingual

MAX_TEXT_CHARS = 10_000  # any text field without its own Length: far above every real value
TEXT_TOO_LONG = N_("内容过长。")
MAX_YUAN = Decimal("1000000000000")


def _blank(valuelist) -> bool:
    return not valuelist or not str(valuelist[0]).strip()


class NumberField(DecimalField):
    """A decimal number typed by a person: thousands separators dropped, then `inputs.parse_decimal`. Shown
    again as typed, else with `places` decimals, else as written without trailing zeros."""

    def __init__(self, label=None, validators=None, places=None, **kwargs):
        super().__init__(label, validators, places=places, **kwargs)

    def process_formdata(self, valuelist):
        if _blank(valuelist):
            self.data, self.raw_data = None, []  # spaces only is not given: InputRequired says so
            return
        try:
            self.data = inputs.parse_decimal(valuelist[0].replace(",", "").replace("，", ""))
        except inputs.InputError as error:
            self.data = None
            raise ValueError(error.message) from None

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return format(self.data.normalize(), "f") if self.places is None else super()._value()


class WholeNumberField(IntegerField):
    """A whole number through `inputs.parse_whole`."""

    def process_formdata(self, valuelist):
        if _blank(valuelist):
            self.data, self.raw_data = None, []  # spaces only is not given: InputRequired says so
            return
        try:
            self.data = inputs.parse_whole(valuelist[0])
        except inputs.InputError as error:
            self.data = None
            raise ValueError(error.message) from None


class DayField(DateField):
    """``YYYY-MM-DD`` through `inputs.parse_day` (years bounded, so date arithmetic never overflows)."""

    def process_formdata(self, valuelist):
        if _blank(valuelist):
            self.data, self.raw_data = None, []  # spaces only is not given: InputRequired says so
            return
        try:
            self.data = inputs.parse_day(valuelist[0])
        except inputs.InputError as error:
            self.data = None
            raise ValueError(error.message) from None


class InRange(NumberRange):
    """NumberRange whose message is not %-formatted: "年利率须在 0% 到 36% 之间" is a message, not a format
    (WTForms' own would raise on the "% 到" and turn an out-of-range rate into a server error)."""

    def __call__(self, form, field):
        data = field.data
        if data is not None and (self.min is None or data >= self.min) and (self.max is None or data <= self.max):
            return
        if self.message is None:
            return super().__call__(form, field)
        raise ValidationError(str(self.message).replace("%(min)s", str(self.min)).replace("%(max)s", str(self.max)))


def _safe_validators(validators):
    return [InRange(v.min, v.max, v.message) if type(v) is NumberRange else v for v in validators or ()]


_SWAPS = {DecimalField: NumberField, FloatField: NumberField, IntegerField: WholeNumberField, DateField: DayField}


def _text_filter(multiline: bool):
    def clean(value):
        if not isinstance(value, str):
            return value
        if len(value) > MAX_TEXT_CHARS:
            raise ValueError(TEXT_TOO_LONG)
        try:
            return inputs.clean_text(value, multiline=multiline)
        except inputs.InputError as error:
            raise ValueError(error.message) from None

    return clean


class Form(FlaskForm):
    """The base of every form of the site (see the module docstring)."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            swap = _SWAPS.get(unbound_field.field_class)
            kwargs = dict(unbound_field.kwargs)
            if "validators" in kwargs:
                kwargs["validators"] = _safe_validators(kwargs["validators"])
            if swap is not None or "validators" in kwargs:
                unbound_field = UnboundField(swap or unbound_field.field_class, *unbound_field.args,
                                             name=unbound_field.name, **kwargs)
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, StringField) and not isinstance(field, PasswordField | FileField):
                field.filters = (_text_filter(isinstance(field, TextAreaField)), *field.filters)
            return field


def attach(form, errors: dict, renames: dict | None = None) -> None:
    """Put a service's field messages beside the form's fields (unknown fields go to the first one)."""
    for name, messages in errors.items():
        target = getattr(form, (renames or {}).get(name, name), None) or next(f for f in form if f.name != "csrf_token")
        target.errors = [*target.errors, *messages] if isinstance(target.errors, list) else list(messages)


def csrf_or_400(form) -> None:
    """A form that failed on its CSRF token is a bad request, not a page with field errors."""
    if "csrf_token" in form.errors:
        abort(400)


# ---------------------------------------------------------------- fields and forms several portals share

REQUIRED = _l("请填写此项。")
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?)$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USERNAME = r"^[A-Za-z0-9_.\-]{3,64}$"


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms options."""
    return [SelectChoice(value, label) for value, label in pairs]


def phone_number(_form, field) -> None:
    if field.data and not PHONE.match(field.data.replace(" ", "")):
        raise ValidationError(_l("请填写有效的手机号或座机号（如 13800000000 或 021-12345678）。"))


def email_address(_form, field) -> None:
    if field.data and not EMAIL.match(field.data.strip()):
        raise ValidationError(_l("请填写有效的电子邮箱。"))


class StaffForm(Form):
    """A colleague's login, as an enterprise or a bank invites one."""

    display_name = StringField(_l("姓名"), validators=[DataRequired(message=REQUIRED), Length(max=64)])
    username = StringField(_l("用户名"), validators=[
        DataRequired(message=REQUIRED), Regexp(USERNAME, message=_l("用户名须为 3–64 个字母、数字或 . _ -。"))])
    email = StringField(_l("电子邮箱"), validators=[Optional(), Length(max=120), email_address])
    phone = StringField(_l("联系电话"), validators=[Optional(), Length(max=32), phone_number])


COUNTER = _l("已输入 %(used)s / %(limit)s 字")  # a text field's live count (data-counter)


class MessageForm(Form):
    """One message of an application's thread (both portals): the limit is on the field, counted live."""

    body = TextAreaField(_l("留言"), validators=[DataRequired(message=REQUIRED), Length(max=1000)],
                         render_kw={"maxlength": 1000, "rows": 3, "data-counter": COUNTER})


def yuan_field(label, required=True, **kwargs):
    """An amount in yuan (two places) as officers enter it; the views convert it to fen."""
    validators = [InputRequired(message=REQUIRED) if required else Optional(),
                  NumberRange(min=Decimal("0.01"), max=MAX_YUAN, message=_l("金额须在 0.01 元到 1 万亿元之间"))]
    return DecimalField(label, places=2, validators=validators, **kwargs)


def one_time_key() -> str:
    return uuid.uuid4().hex


class ActionForm(Form):
    """A POST with nothing to enter (claim, approve): the CSRF token and the one-time key."""

    idempotency_key = HiddenField(default=one_time_key, validators=[DataRequired(), Length(max=128)])


def decline_form(reasons: dict, needing_text, reason_label, text_description) -> type[ActionForm]:
    """A refusal with its reason code (`reasons`: code → (zh, en)) and a note, required for the codes in
    `needing_text`: the bank's decline of an application and the guarantor's decline of a guarantee."""

    class DeclineForm(ActionForm):
        reason_code = SelectField(reason_label, choices=options(
            [(code, Bilingual(zh, en)) for code, (zh, en) in reasons.items()]))
        reason_text = TextAreaField(_l("说明"), validators=[Optional(), Length(max=500)], description=text_description,
                                    render_kw={"maxlength": 500, "rows": 2, "data-counter": COUNTER})

        def validate(self, extra_validators=None) -> bool:
            valid = super().validate(extra_validators)
            if self.reason_code.data in needing_text and not (self.reason_text.data or "").strip():
                self.reason_text.errors = [*self.reason_text.errors, _l("选择“其他原因”时须写明具体原因")]
                valid = False
            return valid

    return DeclineForm
