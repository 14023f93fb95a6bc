"""The login and password-change forms. Messages are Chinese source strings, translated on render."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import PasswordField, StringField, ValidationError
from wtforms.validators import DataRequired, EqualTo, Length

from xinyidai.domain import passwords
from xinyidai.web.forms import Form

MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH
MAX_PASSWORD_LENGTH = passwords.MAX_LENGTH


class ChosenPassword:
    """The one password rule (`passwords.weakness`) on a form field, its message naming the field. The user's
    own words come from the fields named in `related` and, once logged in, the user's username and name."""

    def __init__(self, *related: str):
        self.related = related

    def __call__(self, form, field) -> None:
        if not field.data or field.errors:  # a missing or over-long password already has its message
            return
        words = [str(form[name].data or "") for name in self.related if name in form]
        if current_user and current_user.is_authenticated:
            words += [current_user.user.username, current_user.user.display_name or ""]
        reason = passwords.weakness(field.data, words)
        if reason is not None:
            raise ValidationError(_("%(field)s%(reason)s", field=field.label.text,
                                    reason=_(reason, min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH)))


class LoginForm(Form):
    username = StringField(_l("用户名"), validators=[DataRequired(message=_l("请输入用户名")), Length(max=64)])
    password = PasswordField(
        _l("密码"), validators=[DataRequired(message=_l("请输入密码")), Length(max=MAX_PASSWORD_LENGTH)]
    )


class PasswordChangeForm(Form):
    current_password = PasswordField(
        _l("当前密码"),
        validators=[DataRequired(message=_l("请输入当前密码")), Length(max=MAX_PASSWORD_LENGTH)],
    )
    new_password = PasswordField(
        _l("新密码"),
        description=_l("至少 %(count)d 个字符。", count=MIN_PASSWORD_LENGTH),
        validators=[
            DataRequired(message=_l("请输入新密码")),
            Length(
                min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH,
                message=_l("新密码长度须在 %(min)d 到 %(max)d 个字符之间。",
                           min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH),
            ),
            ChosenPassword(),
        ],
    )
    confirm_password = PasswordField(
        _l("确认新密码"),
        validators=[
            DataRequired(message=_l("请再次输入新密码")),
            EqualTo("new_password", message=_l("两次输入的新密码不一致。")),
        ],
    )

    def validate_new_password(self, field) -> None:
        if field.data and field.data == self.current_password.data:
            raise ValidationError(_l("新密码不能与当前密码相同。"))
