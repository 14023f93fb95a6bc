"""Guarantee institutions (政府性融资担保机构, DESIGN §1 and §13): the guarantor tenant, its guarantee products,
and each guarantee a bank asks of it for one application (银担合作)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Fen, enum_column, utcnow


class Guarantor(Base):
    """A government-backed financing guarantee institution: the tenant of its staff and guarantee products."""

    __tablename__ = "guarantors"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    is_active: Mapped[bool] = mapped_column(default=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class GuaranteeProductStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class GuaranteeProduct(Base):
    """What a guarantor offers: its yearly guarantee fee (basis points of the amount guaranteed), the share of
    the loan it covers (basis points: 8000 = 80 %) and the largest loan it guarantees."""

    __tablename__ = "guarantee_products"
    __table_args__ = (
        sa.UniqueConstraint("guarantor_id", "code"),
        sa.CheckConstraint("fee_rate_bp >= 0 AND fee_rate_bp <= 3600", name="fee_range"),
        sa.CheckConstraint("coverage_bp > 0 AND coverage_bp <= 10000", name="coverage_range"),
        sa.CheckConstraint("max_amount_fen > 0", name="max_amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    guarantor_id: Mapped[int] = mapped_column(sa.ForeignKey("guarantors.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    fee_rate_bp: Mapped[int]
    coverage_bp: Mapped[int]
    max_amount_fen: Mapped[int] = mapped_column(Fen)
    status: Mapped[GuaranteeProductStatus] = mapped_column(enum_column(GuaranteeProductStatus),
                                                           default=GuaranteeProductStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    guarantor: Mapped[Guarantor] = orm.relationship(lazy="joined")


class GuaranteeStatus(enum.StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"  # the application ended (declined by the bank, withdrawn) before the guarantor answered


class Guarantee(Base):
    """One guarantee a bank asked of a guarantor for one application, and the guarantor's answer: the fee and
    coverage it accepted on, or its reason for declining. Kept whatever happens next (the guarantor's history)."""

    __tablename__ = "guarantees"
    __table_args__ = (sa.Index("ix_guarantees_guarantor_status", "guarantor_id", "status", "requested_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    guarantor_id: Mapped[int] = mapped_column(sa.ForeignKey("guarantors.id"))
    guarantee_product_id: Mapped[int] = mapped_column(sa.ForeignKey("guarantee_products.id"))
    status: Mapped[GuaranteeStatus] = mapped_column(enum_column(GuaranteeStatus), default=GuaranteeStatus.REQUESTED)
    amount_fen: Mapped[int] = mapped_column(Fen)  # the loan amount the guarantee is asked for
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    fee_rate_bp: Mapped[int | None]
    coverage_bp: Mapped[int | None]
    decline_reason_code: Mapped[str | None] = mapped_column(sa.String(32))
    decline_reason_text: Mapped[str | None] = mapped_column(sa.String(500))

    guarantor: Mapped[Guarantor] = orm.relationship()
    product: Mapped[GuaranteeProduct] = orm.relationship()
