"""The enterprise (registry data, keyed by USCC) and what it says about itself."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import Mapped, mapped_column

from models.base import USCC, Base, Fen, enum_column, utcnow


class EnterpriseStatus(enum.StrEnum):
    OPERATING = "存续"
    REVOKED = "吊销"
    CANCELLED = "注销"


class SizeClass(enum.StrEnum):
    LARGE = "大"
    MEDIUM = "中"
    SMALL = "小"
    MICRO = "微"


class Enterprise(Base):
    """One SME as the market-regulation registry (市场监管) delivers it."""

    __tablename__ = "enterprises"

    uscc: Mapped[str] = mapped_column(USCC, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    district_code: Mapped[str] = mapped_column(sa.ForeignKey("districts.code"), index=True)
    industry_section: Mapped[str] = mapped_column(sa.String(1), index=True)
    industry_division: Mapped[str] = mapped_column(sa.String(2))
    established_on: Mapped[date]
    registered_capital_fen: Mapped[int] = mapped_column(Fen)
    status: Mapped[EnterpriseStatus] = mapped_column(enum_column(EnterpriseStatus))
    size_class: Mapped[SizeClass] = mapped_column(enum_column(SizeClass))
    delivery_id: Mapped[int | None] = mapped_column(sa.ForeignKey("deliveries.id"))
    # Filled in when the enterprise registers on the portal, never from a bulk delivery.
    contact_name: Mapped[str | None] = mapped_column(sa.String(64))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(32))
    contact_email: Mapped[str | None] = mapped_column(sa.String(120))
    registered_at: Mapped[datetime | None]

    district = orm.relationship("District")


class CreditCommitment(Base):
    """信用承诺: a pledge the enterprise makes; banks see it marked as made by the enterprise."""

    __tablename__ = "credit_commitments"

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), index=True)
    text: Mapped[str] = mapped_column(sa.Text)
    made_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    made_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]


class SelfReport(Base):
    """自愿填报: data the enterprise reports itself; never mixed with provider data, always labelled."""

    __tablename__ = "self_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), index=True)
    topic: Mapped[str] = mapped_column(sa.String(48))
    period: Mapped[str | None] = mapped_column(sa.String(16))
    value: Mapped[str] = mapped_column(sa.Text)
    reported_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
