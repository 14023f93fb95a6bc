"""Every provider source, declared once: what it delivers (its schema and so its columns), the table it
lands in, the natural key rows upsert on, what it is called and what it shows a bank, in both languages,
and the score features computed from it (`ml.features` names each feature's source).

Adding a source is a table in `models/sources.py`, a schema in `schemas.py`, a declaration here and its
features in `ml/features.py`; the loader, `xyd ingest`, the admin upload page, the authorization scope,
the labels on every page and the demo's authorization all read this list.
"""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema

from models.enterprise import Enterprise
from models.sources import (
    AgriculturalOperator,
    EnvironmentalRating,
    HousingFundMonth,
    IntellectualProperty,
    PublicCreditEvent,
    Qualification,
    SocialInsuranceMonth,
    Source,
    TaxMonth,
    TaxRating,
    UtilityMonth,
)
from xinyidai.ingest import schemas


@dataclass(frozen=True)
class SourceSpec:
    source: Source
    model: type
    schema: type[Schema]
    key: tuple[str, ...]
    label: tuple[str, str]  # (zh, en): the source's name on every page
    content: tuple[str, str]  # (zh, en): what an authorized bank sees of it, in plain words
    optional_columns: frozenset[str] = frozenset()

    @property
    def table(self):
        return self.model.__table__

    @property
    def columns(self) -> tuple[str, ...]:
        """The delivery's column names, in the documented order."""
        return tuple(field.data_key or name for name, field in self.schema._declared_fields.items())

    @property
    def required_columns(self) -> frozenset[str]:
        return frozenset(self.columns) - self.optional_columns

    @property
    def attributes(self) -> tuple[str, ...]:
        """The model attributes a row sets (the delivery never touches other columns)."""
        return tuple(self.schema._declared_fields)

    @property
    def value_attributes(self) -> tuple[str, ...]:
        return tuple(a for a in self.attributes if a not in self.key)

    @property
    def references_registry(self) -> bool:
        return self.model is not Enterprise

    @property
    def features(self) -> tuple:
        """The score features computed from this source (ml.features.Feature, in the model's order)."""
        from ml.features import FEATURES  # imported late: validation workers never need pandas

        return tuple(f for f in FEATURES if f.source == self.source.value)


SOURCES: dict[str, SourceSpec] = {
    spec.source.value: spec
    for spec in (
        SourceSpec(Source.REGISTRY, Enterprise, schemas.RegistrySchema, ("uscc",),
                   ("市场监管登记", "Business registry"),
                   ("登记信息：成立日期、注册资本、登记状态", "Registration: date founded, registered capital, status")),
        SourceSpec(Source.TAX, TaxMonth, schemas.TaxSchema, ("uscc", "month"),
                   ("税务（月度）", "Tax (monthly)"),
                   ("每月开票销售额、纳税额和是否欠税", "Monthly invoiced sales, tax paid and any tax arrears")),
        SourceSpec(Source.TAX_RATING, TaxRating, schemas.TaxRatingSchema, ("uscc", "year"),
                   ("纳税信用等级", "Tax credit rating"), ("每年的纳税信用等级", "The yearly tax credit rating")),
        SourceSpec(Source.SOCIAL_INSURANCE, SocialInsuranceMonth, schemas.SocialInsuranceSchema, ("uscc", "month"),
                   ("社会保险", "Social insurance"),
                   ("每月参保人数和社保欠缴情况", "Monthly insured headcount and social-insurance arrears")),
        SourceSpec(Source.HOUSING_FUND, HousingFundMonth, schemas.HousingFundSchema, ("uscc", "month"),
                   ("住房公积金", "Housing fund"),
                   ("每月公积金缴存人数和欠缴情况", "Monthly housing-fund contributors and arrears")),
        SourceSpec(Source.UTILITIES, UtilityMonth, schemas.UtilitiesSchema, ("uscc", "month", "kind"),
                   ("水电气", "Utilities"),
                   ("每月水电气用量、缴费和逾期天数", "Monthly water, power and gas use, payments and days late")),
        SourceSpec(Source.PUBLIC_CREDIT, PublicCreditEvent, schemas.PublicCreditSchema, ("record_id",),
                   ("公共信用", "Public credit"),
                   ("行政处罚、失信、经营异常等公共信用记录及修复情况",
                    "Public credit records (penalties, dishonesty, abnormal operation) and their repair"),
                   optional_columns=frozenset({"repaired_on", "force_majeure"})),
        SourceSpec(Source.INTELLECTUAL_PROPERTY, IntellectualProperty, schemas.IntellectualPropertySchema,
                   ("kind", "number"), ("知识产权", "Intellectual property"),
                   ("专利（发明、实用新型、外观设计）和商标的申请与授权情况",
                    "Patents (invention, utility model, design) and trademarks, applied for and granted"),
                   optional_columns=frozenset({"granted_on"})),
        SourceSpec(Source.QUALIFICATIONS, Qualification, schemas.QualificationSchema, ("uscc", "kind", "issued_on"),
                   ("企业资质认定", "Enterprise qualifications"),
                   ("高新技术企业、科技型中小企业、专精特新、科技小巨人等资质及其有效期",
                    "High-tech enterprise, tech-based SME, specialised-and-innovative and little-giant "
                    "certificates with their validity"),
                   optional_columns=frozenset({"certificate_no"})),
        SourceSpec(Source.ENVIRONMENTAL_RATING, EnvironmentalRating, schemas.EnvironmentalRatingSchema,
                   ("uscc", "year"), ("环保信用评价", "Environmental credit rating"),
                   ("每年的企业环境信用评价等级（绿、蓝、黄、红）",
                    "The yearly environmental credit rating (green, blue, yellow, red)")),
        SourceSpec(Source.AGRICULTURAL_OPERATOR, AgriculturalOperator, schemas.AgriculturalOperatorSchema,
                   ("uscc", "kind"), ("新型农业经营主体", "New-type agricultural operator"),
                   ("家庭农场、农民合作社、农业产业化龙头企业等认定及其级别",
                    "Recognition as a family farm, farmers' cooperative, leading agricultural enterprise and "
                    "the like, with its level"),
                   optional_columns=frozenset({"level", "revoked_on"})),
    )
}
