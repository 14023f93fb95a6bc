"""The audit-log search form: a GET form (reading changes nothing, so it carries no CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, StringField, ValidationError
from wtforms.validators import Length, NumberRange, Optional, Regexp

from xinyidai import uscc as uscc_rules
from xinyidai.admin.audit_search import AuditFilters
from xinyidai.i18n import locale_code


class AuditSearchForm(FlaskForm):
    class Meta:
        csrf = False

    actor = StringField(_l("操作人（用户名或用户编号）"), validators=[Optional(), Length(max=120)])
    action = StringField(_l("操作类型"), validators=[
        Optional(), Length(max=48), Regexp(r"^[a-z_]+$", message=_l("操作类型只含小写字母和下划线，例如 view_credit_detail。"))])
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
