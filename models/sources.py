"""The provider data joined per enterprise (DESIGN §3) and the deliveries that brought it.

Each table's primary key is the source's natural key, so a re-delivered row finds its twin.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import USCC, Base, Fen, enum_column, utcnow


class Source(enum.StrEnum):
    REGISTRY = "registry"
    TAX = "tax"
    TAX_RATING = "tax_rating"
    SOCIAL_INSURANCE = "social_insurance"
    HOUSING_FUND = "housing_fund"
    UTILITIES = "utilities"
    PUBLIC_CREDIT = "public_credit"
    INTELLECTUAL_PROPERTY = "intellectual_property"
    QUALIFICATIONS = "qualifications"
    ENVIRONMENTAL_RATING = "environmental_rating"
    AGRICULTURAL_OPERATOR = "agricultural_operator"


class DeliveryStatus(enum.StrEnum):
    APPLIED = "applied"
    FAILED = "failed"


class Delivery(Base):
    """One file from one provider. rows = inserted + updated + unchanged + rejected, always."""

    __tablename__ = "deliveries"
    __table_args__ = (
        sa.CheckConstraint("rows = inserted + updated + unchanged + rejected", name="rows_add_up"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[Source] = mapped_column(enum_column(Source), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    file_format: Mapped[str] = mapped_column(sa.String(8))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus), default=DeliveryStatus.APPLIED)
    rows: Mapped[int] = mapped_column(default=0)
    inserted: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    rejection_report: Mapped[str | None] = mapped_column(sa.String(500))
    # Who handed the file in: the operator's username for a web upload, the command for `xyd ingest`.
    received_by: Mapped[str | None] = mapped_column(sa.String(64))


class DeliveryRejection(Base):
    __tablename__ = "delivery_rejections"

    delivery_id: Mapped[int] = mapped_column(sa.ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True)
    line: Mapped[int] = mapped_column(primary_key=True)
    field: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.String(500))
    # The offending value as delivered (first 200 characters); None for a whole-row problem and older rows.
    value: Mapped[str | None] = mapped_column(sa.String(200))


def _delivery_fk() -> Mapped[int | None]:
    return mapped_column(sa.ForeignKey("deliveries.id"))


def _uscc_fk() -> Mapped[str]:
    return mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), primary_key=True)


class TaxMonth(Base):
    """税务: invoiced sales and tax paid per month."""

    __tablename__ = "tax_months"

    uscc: Mapped[str] = _uscc_fk()
    month: Mapped[date] = mapped_column(primary_key=True)
    invoiced_sales_fen: Mapped[int] = mapped_column(Fen)
    tax_paid_fen: Mapped[int] = mapped_column(Fen)
    in_arrears: Mapped[bool]
    delivery_id: Mapped[int | None] = _delivery_fk()


class TaxRatingGrade(enum.StrEnum):
    A = "A"
    B = "B"
    M = "M"
    C = "C"
    D = "D"


class TaxRating(Base):
    """税务: the yearly tax credit rating (纳税信用等级)."""

    __tablename__ = "tax_ratings"

    uscc: Mapped[str] = _uscc_fk()
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    rating: Mapped[TaxRatingGrade] = mapped_column(enum_column(TaxRatingGrade))
    delivery_id: Mapped[int | None] = _delivery_fk()


class SocialInsuranceMonth(Base):
    """人社: insured headcount and contributions per month."""

    __tablename__ = "social_insurance_months"

    uscc: Mapped[str] = _uscc_fk()
    month: Mapped[date] = mapped_column(primary_key=True)
    insured_headcount: Mapped[int]
    contributions_fen: Mapped[int] = mapped_column(Fen)
    months_in_arrears: Mapped[int]
    delivery_id: Mapped[int | None] = _delivery_fk()


class HousingFundMonth(Base):
    """公积金: contributors and contributions per month."""

    __tablename__ = "housing_fund_months"

    uscc: Mapped[str] = _uscc_fk()
    month: Mapped[date] = mapped_column(primary_key=True)
    contributors: Mapped[int]
    contributions_fen: Mapped[int] = mapped_column(Fen)
    in_arrears: Mapped[bool]
    delivery_id: Mapped[int | None] = _delivery_fk()


class UtilityKind(enum.StrEnum):
    WATER = "water"
    ELECTRICITY = "electricity"
    GAS = "gas"


class UtilityMonth(Base):
    """水电气: consumption, billed and paid per month and kind."""

    __tablename__ = "utility_months"

    uscc: Mapped[str] = _uscc_fk()
    month: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[UtilityKind] = mapped_column(enum_column(UtilityKind), primary_key=True)
    # A physical quantity (kWh, m3), not money: a double round-trips the delivered decimals.
    consumption: Mapped[float]
    billed_fen: Mapped[int] = mapped_column(Fen)
    paid_fen: Mapped[int] = mapped_column(Fen)
    days_late: Mapped[int]
    delivery_id: Mapped[int | None] = _delivery_fk()


class PublicCreditKind(enum.StrEnum):
    ADMINISTRATIVE_PENALTY = "行政处罚"
    DISHONEST_DEBTOR = "失信被执行人"
    ABNORMAL_OPERATION = "经营异常名录"
    SERIOUS_VIOLATION = "严重违法失信名单"


class Severity(enum.StrEnum):
    MINOR = "轻微"
    GENERAL = "一般"
    SERIOUS = "严重"


class PublicCreditEvent(Base):
    """公共信用: one decision about an enterprise, keyed by the provider's record id."""

    __tablename__ = "public_credit_events"

    record_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), index=True)
    kind: Mapped[PublicCreditKind] = mapped_column(enum_column(PublicCreditKind))
    severity: Mapped[Severity] = mapped_column(enum_column(Severity))
    decided_on: Mapped[date]
    repaired_on: Mapped[date | None]
    force_majeure: Mapped[bool] = mapped_column(default=False)
    delivery_id: Mapped[int | None] = _delivery_fk()


class IpKind(enum.StrEnum):
    INVENTION_PATENT = "发明专利"
    UTILITY_MODEL = "实用新型"
    DESIGN_PATENT = "外观设计"
    TRADEMARK = "商标"


PATENT_KINDS = (IpKind.INVENTION_PATENT, IpKind.UTILITY_MODEL, IpKind.DESIGN_PATENT)


class IntellectualProperty(Base):
    """知识产权: one patent or trademark, keyed by its kind and the office's application / registration number.
    Applied, and granted (registered, for a trademark) once `granted_on` is set."""

    __tablename__ = "intellectual_property"

    kind: Mapped[IpKind] = mapped_column(enum_column(IpKind), primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), index=True)
    applied_on: Mapped[date]
    granted_on: Mapped[date | None]
    delivery_id: Mapped[int | None] = _delivery_fk()


class QualificationKind(enum.StrEnum):
    HIGH_TECH = "高新技术企业"
    TECH_SME = "科技型中小企业"
    SPECIALISED = "专精特新"
    LITTLE_GIANT = "科技小巨人"


class Qualification(Base):
    """企业资质: one certificate, valid from `issued_on` to `expires_on` (both days included); a renewal is a
    new row with its own issue date."""

    __tablename__ = "qualifications"
    __table_args__ = (sa.CheckConstraint("expires_on >= issued_on", name="valid_period"),)

    uscc: Mapped[str] = _uscc_fk()
    kind: Mapped[QualificationKind] = mapped_column(enum_column(QualificationKind), primary_key=True)
    issued_on: Mapped[date] = mapped_column(primary_key=True)
    expires_on: Mapped[date]
    certificate_no: Mapped[str | None] = mapped_column(sa.String(64))
    delivery_id: Mapped[int | None] = _delivery_fk()


class EnvironmentalGrade(enum.StrEnum):
    """企业环境信用评价, best first: 环保诚信 (green), 良好 (blue), 警示 (yellow), 不良 (red)."""

    GREEN = "绿"
    BLUE = "蓝"
    YELLOW = "黄"
    RED = "红"


class EnvironmentalRating(Base):
    """环保信用评价: the yearly grade of an enterprise under environmental supervision (most are not rated)."""

    __tablename__ = "environmental_ratings"

    uscc: Mapped[str] = _uscc_fk()
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    grade: Mapped[EnvironmentalGrade] = mapped_column(enum_column(EnvironmentalGrade))
    delivery_id: Mapped[int | None] = _delivery_fk()


class AgriOperatorKind(enum.StrEnum):
    FAMILY_FARM = "家庭农场"
    COOPERATIVE = "农民合作社"
    LEADING_ENTERPRISE = "农业产业化龙头企业"
    SERVICE_ORGANISATION = "农业社会化服务组织"


class AgriLevel(enum.StrEnum):
    """The level of a demonstration (示范) or leading-enterprise recognition."""

    NATIONAL = "国家级"
    CITY = "市级"
    DISTRICT = "区级"


class AgriculturalOperator(Base):
    """新型农业经营主体: recognised as one kind of operator from `recognized_on`, until `revoked_on` if ever."""

    __tablename__ = "agricultural_operators"

    uscc: Mapped[str] = _uscc_fk()
    kind: Mapped[AgriOperatorKind] = mapped_column(enum_column(AgriOperatorKind), primary_key=True)
    recognized_on: Mapped[date]
    level: Mapped[AgriLevel | None] = mapped_column(enum_column(AgriLevel))
    revoked_on: Mapped[date | None]
    delivery_id: Mapped[int | None] = _delivery_fk()
