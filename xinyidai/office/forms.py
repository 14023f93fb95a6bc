"""The office's POST forms: each carries the CSRF token (Flask-WTF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from models.scoring import GRADE_SCALE
from xinyidai.web.forms import Form


class ActionForm(Form):
    """A button that changes something (draft, confirm, publish, acknowledge): the CSRF token only."""


class ThresholdForm(Form):
    min_grade = SelectField(_l("白名单门槛（最低评分等级）"), choices=[SelectChoice(g, g) for g in GRADE_SCALE],
                            validators=[InputRequired()],
                            description=_l("评分等级达到此等级或更高、且通过全部准入规则的企业进入白名单候选。"))


class RepairOutcomeForm(Form):
    """The deciding authority's answer to a credit-repair application, as the office records it."""

    outcome = RadioField(_l("认定单位的决定"), validate_choice=False,
                         choices=[SelectChoice("repaired", _l("准予修复")), SelectChoice("rejected", _l("不予修复"))])
    decided_on = DateField(_l("决定日期"), validators=[InputRequired(message=_l("请填写有效日期，例如 2026-12-31。"))])
    note = TextAreaField(_l("说明"), validators=[Optional(), Length(max=500)],
                         description=_l("不予修复时必须注明理由；企业会看到这段说明。"))


class PublishForm(Form):
    """Publishing changes what every bank and the matching read at once: the publisher ticks a box to say so."""

    confirm = BooleanField(_l("我已核对名单及调整理由，确认发布"),
                           validators=[DataRequired(message=_l("请先勾选确认，再发布名单。"))])


class OverrideForm(Form):
    """Include or exclude one firm of a draft; the reason is required (the rule is in the domain)."""

    uscc = StringField(_l("统一社会信用代码"), validators=[Length(max=18)])
    action = HiddenField(validators=[Optional()])
    reason = StringField(_l("理由"), validators=[Length(max=500)])
