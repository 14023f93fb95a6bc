"""The rules a financing need must meet, as a marshmallow schema: the web form and any API use the same one.

Messages are lazy strings: they are worded in the language of the request that shows them.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from models.lending import GuaranteeType, Urgency
from xinyidai.domain.errors import Invalid
from xinyidai.domain.vocabulary import CONTACT_PREFERENCES, PURPOSES

MIN_AMOUNT_FEN = 1_000_000  # 1 万元
MAX_AMOUNT_FEN = 100_000_000_000  # 10 亿元
MAX_TERM_MONTHS = 120
REQUIRED = _l("请填写此项。")


def _messages(invalid) -> dict:
    return {"required": REQUIRED, "null": REQUIRED, "invalid": invalid}


class NeedSchema(Schema):
    class Meta:
        unknown = RAISE

    amount_fen = fields.Integer(required=True, strict=True, error_messages=_messages(_l("请填写有效的金额。")),
                                validate=validate.Range(MIN_AMOUNT_FEN, MAX_AMOUNT_FEN,
                                                        error=_l("金额须在 1 万元到 10 亿元之间。")))
    term_months = fields.Integer(required=True, strict=True, error_messages=_messages(_l("请填写整数月数。")),
                                 validate=validate.Range(1, MAX_TERM_MONTHS, error=_l("期限须在 1 到 120 个月之间。")))
    purpose = fields.String(required=True, error_messages=_messages(_l("请选择资金用途。")),
                            validate=validate.OneOf(list(PURPOSES), error=_l("请选择资金用途。")))
    purpose_detail = fields.String(load_default=None, allow_none=True,
                                   validate=validate.Length(max=500, error=_l("用途说明不超过 500 字。")))
    guarantee_types = fields.List(
        fields.String(validate=validate.OneOf([g.value for g in GuaranteeType], error=_l("请选择有效的担保方式。"))),
        required=True, error_messages=_messages(_l("请至少选择一种可接受的担保方式。")),
        validate=validate.Length(min=1, error=_l("请至少选择一种可接受的担保方式。")))
    urgency = fields.String(load_default=Urgency.NORMAL.value, error_messages=_messages(_l("请选择紧急程度。")),
                            validate=validate.OneOf([u.value for u in Urgency], error=_l("请选择紧急程度。")))
    contact_preference = fields.String(required=True, error_messages=_messages(_l("请选择联系方式。")),
                                       validate=validate.OneOf(list(CONTACT_PREFERENCES), error=_l("请选择联系方式。")))
    open_to_all_banks = fields.Boolean(load_default=True)
    max_contacts = fields.Integer(load_default=None, allow_none=True, strict=True,
                                  error_messages={"invalid": _l("请填写整数。")},
                                  validate=validate.Range(1, 20, error=_l("联系银行数须在 1 到 20 家之间，或留空表示不限。")))

    @validates("purpose_detail")
    def _no_control_characters(self, value, **_kwargs):
        if value and any(ord(c) < 32 and c not in "\n\r\t" for c in value):
            raise ValidationError(_l("用途说明含有无法识别的字符。"))


def load_need(data: dict) -> dict:
    """The checked values ready for FinancingNeed(**values); raises Invalid (field → messages)."""
    cleaned = {k: (v.strip() or None) if isinstance(v, str) and k == "purpose_detail" else v for k, v in data.items()}
    try:
        values = NeedSchema().load(cleaned)
    except ValidationError as error:
        raise Invalid({field: _flatten(messages) for field, messages in error.messages.items()}) from error
    values["guarantee_types"] = [g.value for g in GuaranteeType if g.value in set(values["guarantee_types"])]
    values["urgency"] = Urgency(values["urgency"])
    return values


def need_errors(data: dict) -> dict:
    """The field messages `load_need` would raise, without raising: the form lists every problem at once."""
    try:
        load_need(data)
    except Invalid as error:
        return error.errors
    return {}


def _flatten(messages) -> list:
    """marshmallow nests list-item errors as {index: [...]}: one flat list of messages per field."""
    if isinstance(messages, dict):
        return [m for nested in messages.values() for m in _flatten(nested)]
    return list(messages) if isinstance(messages, list) else [messages]
