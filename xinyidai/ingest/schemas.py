"""One marshmallow schema per source. Column names are the delivery's; attributes are the model's."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, pre_load, validates_schema

from models.enterprise import EnterpriseStatus, SizeClass
from models.sources import (
    AgriLevel,
    AgriOperatorKind,
    EnvironmentalGrade,
    IpKind,
    PublicCreditKind,
    QualificationKind,
    Severity,
    TaxRatingGrade,
    UtilityKind,
)
from xinyidai.ingest.fields import (
    ChoiceField,
    CountField,
    DayField,
    FenField,
    FlagField,
    MonthField,
    QuantityField,
    TextField,
    USCCField,
    YearField,
    fail,
)
from xinyidai.reference import INDUSTRY_SECTIONS, SHANGHAI_DISTRICTS, division_belongs_to_section


class DeliverySchema(Schema):
    class Meta:
        unknown = RAISE

    # Bilingual wording for the two built-in messages a delivery can trigger.
    error_messages = {  # noqa: RUF012 - marshmallow reads this class attribute
        "unknown": "未知字段（unknown field）",
        "required": "缺少必填字段（missing required field）",
        "type": "每行应为一个对象（each row must be an object）",
    }


def _required(field_cls, **kwargs):
    return field_cls(required=True, error_messages={"required": "缺少必填字段（missing required field）"}, **kwargs)


class RegistrySchema(DeliverySchema):
    uscc = _required(USCCField)
    name = _required(TextField, max_length=200)
    district_code = _required(ChoiceField, choices=SHANGHAI_DISTRICTS)
    industry_section = _required(ChoiceField, choices=INDUSTRY_SECTIONS)
    industry_division = _required(TextField, max_length=2)
    established_on = _required(DayField)
    registered_capital_fen = _required(FenField, data_key="registered_capital")
    status = _required(
        ChoiceField,
        choices=list(EnterpriseStatus),
        aliases={"operating": EnterpriseStatus.OPERATING, "revoked": EnterpriseStatus.REVOKED,
                 "cancelled": EnterpriseStatus.CANCELLED},
    )
    size_class = _required(
        ChoiceField,
        choices=list(SizeClass),
        aliases={"large": SizeClass.LARGE, "medium": SizeClass.MEDIUM, "small": SizeClass.SMALL,
                 "micro": SizeClass.MICRO},
    )

    @validates_schema(skip_on_field_errors=True)
    def division_in_section(self, data, **kwargs):
        if not division_belongs_to_section(data["industry_section"], data["industry_division"]):
            raise ValidationError(
                fail("行业大类不属于该门类（GB/T 4754-2017）", "division does not belong to the section (GB/T 4754-2017)"),
                "industry_division",
            )


class TaxSchema(DeliverySchema):
    uscc = _required(USCCField)
    month = _required(MonthField)
    invoiced_sales_fen = _required(FenField, data_key="invoiced_sales")
    tax_paid_fen = _required(FenField, data_key="tax_paid")
    in_arrears = _required(FlagField)


class TaxRatingSchema(DeliverySchema):
    uscc = _required(USCCField)
    year = _required(YearField)
    rating = _required(ChoiceField, choices=list(TaxRatingGrade))


class SocialInsuranceSchema(DeliverySchema):
    uscc = _required(USCCField)
    month = _required(MonthField)
    insured_headcount = _required(CountField)
    contributions_fen = _required(FenField, data_key="contributions")
    months_in_arrears = _required(CountField, maximum=600)


class HousingFundSchema(DeliverySchema):
    uscc = _required(USCCField)
    month = _required(MonthField)
    contributors = _required(CountField)
    contributions_fen = _required(FenField, data_key="contributions")
    in_arrears = _required(FlagField)


class UtilitiesSchema(DeliverySchema):
    uscc = _required(USCCField)
    month = _required(MonthField)
    kind = _required(
        ChoiceField,
        choices=list(UtilityKind),
        aliases={"水": UtilityKind.WATER, "电": UtilityKind.ELECTRICITY, "气": UtilityKind.GAS},
    )
    consumption = _required(QuantityField)
    billed_fen = _required(FenField, data_key="billed")
    paid_fen = _required(FenField, data_key="paid")
    days_late = _required(CountField, maximum=3660)


class PublicCreditSchema(DeliverySchema):
    record_id = _required(TextField, max_length=64)
    uscc = _required(USCCField)
    kind = _required(ChoiceField, choices=list(PublicCreditKind))
    severity = _required(
        ChoiceField,
        choices=list(Severity),
        aliases={"minor": Severity.MINOR, "general": Severity.GENERAL, "serious": Severity.SERIOUS},
    )
    decided_on = _required(DayField)
    repaired_on = DayField(load_default=None, allow_none=True)
    force_majeure = FlagField(load_default=False)

    @pre_load
    def blank_means_absent(self, data, **kwargs):
        # In a CSV an empty optional cell means "no value" (not yet repaired), not an invalid date.
        if isinstance(data, dict):
            return {key: value for key, value in data.items()
                    if not (key in ("repaired_on", "force_majeure") and value in ("", None))}
        return data

    @validates_schema(skip_on_field_errors=True)
    def repaired_after_decided(self, data, **kwargs):
        if data.get("repaired_on") and data["repaired_on"] < data["decided_on"]:
            raise ValidationError(fail("修复日期早于决定日期", "repaired_on is before decided_on"), "repaired_on")


class _OptionalCells(DeliverySchema):
    """In a CSV an empty optional cell means "no value" (not granted yet, never revoked), not an invalid one."""

    OPTIONAL: tuple[str, ...] = ()

    @pre_load
    def blank_means_absent(self, data, **kwargs):
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if not (key in self.OPTIONAL and value in ("", None))}
        return data


def _not_before(data: dict, later: str, earlier: str, zh: str, en: str) -> None:
    if data.get(later) and data[later] < data[earlier]:
        raise ValidationError(fail(zh, en), later)


class IntellectualPropertySchema(_OptionalCells):
    OPTIONAL = ("granted_on",)

    uscc = _required(USCCField)
    kind = _required(ChoiceField, choices=list(IpKind),
                     aliases={"invention": IpKind.INVENTION_PATENT, "utility_model": IpKind.UTILITY_MODEL,
                              "design": IpKind.DESIGN_PATENT, "trademark": IpKind.TRADEMARK})
    number = _required(TextField, max_length=64)
    applied_on = _required(DayField)
    granted_on = DayField(load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=True)
    def granted_after_applied(self, data, **kwargs):
        _not_before(data, "granted_on", "applied_on", "授权日期早于申请日期", "granted_on is before applied_on")


class QualificationSchema(_OptionalCells):
    OPTIONAL = ("certificate_no",)

    uscc = _required(USCCField)
    kind = _required(ChoiceField, choices=list(QualificationKind),
                     aliases={"high_tech": QualificationKind.HIGH_TECH, "tech_sme": QualificationKind.TECH_SME,
                              "specialised": QualificationKind.SPECIALISED,
                              "little_giant": QualificationKind.LITTLE_GIANT})
    issued_on = _required(DayField)
    # A certificate runs into the future: its expiry is a date like any other, but may lie ahead.
    expires_on = _required(DayField, allow_future=True)
    certificate_no = TextField(max_length=64, load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=True)
    def expires_after_issued(self, data, **kwargs):
        _not_before(data, "expires_on", "issued_on", "有效期截止日期早于发证日期", "expires_on is before issued_on")


class EnvironmentalRatingSchema(DeliverySchema):
    uscc = _required(USCCField)
    year = _required(YearField)
    grade = _required(ChoiceField, choices=list(EnvironmentalGrade),
                      aliases={"green": EnvironmentalGrade.GREEN, "blue": EnvironmentalGrade.BLUE,
                               "yellow": EnvironmentalGrade.YELLOW, "red": EnvironmentalGrade.RED,
                               "环保诚信": EnvironmentalGrade.GREEN, "环保良好": EnvironmentalGrade.BLUE,
                               "环保警示": EnvironmentalGrade.YELLOW, "环保不良": EnvironmentalGrade.RED})


class AgriculturalOperatorSchema(_OptionalCells):
    OPTIONAL = ("level", "revoked_on")

    uscc = _required(USCCField)
    kind = _required(ChoiceField, choices=list(AgriOperatorKind),
                     aliases={"family_farm": AgriOperatorKind.FAMILY_FARM,
                              "cooperative": AgriOperatorKind.COOPERATIVE,
                              "leading_enterprise": AgriOperatorKind.LEADING_ENTERPRISE,
                              "service_organisation": AgriOperatorKind.SERVICE_ORGANISATION})
    recognized_on = _required(DayField)
    level = ChoiceField(choices=list(AgriLevel), load_default=None, allow_none=True,
                        aliases={"national": AgriLevel.NATIONAL, "city": AgriLevel.CITY,
                                 "district": AgriLevel.DISTRICT})
    revoked_on = DayField(load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=True)
    def revoked_after_recognized(self, data, **kwargs):
        _not_before(data, "revoked_on", "recognized_on", "撤销日期早于认定日期", "revoked_on is before recognized_on")
