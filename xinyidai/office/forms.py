"""The office's POST forms: each carries the CSRF token (Flask-WTF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from models.scoring import GRADE_SCALE
from xinyidai.web.forms import Form


class ActionForm(Form):
    """A button that changes something (draft, confirm, publish, acknowledge): the CSRF token only."""


class ThresholdForm(Form):
    min_grade = SelectField(_l("白名单门槛（最低评分等级）"), choices=[SelectChoice(g, g) for g in GRADE_SCALE],
                            validators=[InputRequired()],
                            description=_l("评分等级达到此等级或更高、且通过全部准入规则的企业进入白名单候选。"))
