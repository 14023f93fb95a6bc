"""Banks, their products, financing needs, applications with their history, and loan performance."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import Mapped, mapped_column

from models.base import USCC, Base, Fen, enum_column, utcnow


class GuaranteeType(enum.StrEnum):
    CREDIT = "信用"
    MORTGAGE = "抵押"
    SURETY = "保证"
    GUARANTEE_COMPANY = "担保公司"


class Bank(Base):
    """A participating bank: the tenant of its officers, products and applications."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    is_active: Mapped[bool] = mapped_column(default=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProductStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class Product(Base):
    """A loan product. Rates are annual basis points (345 = 3.45%) so they stay exact."""

    __tablename__ = "products"
    __table_args__ = (
        sa.UniqueConstraint("bank_id", "code"),
        sa.CheckConstraint("min_amount_fen > 0 AND min_amount_fen <= max_amount_fen", name="amount_range"),
        sa.CheckConstraint("min_term_months > 0 AND min_term_months <= max_term_months", name="term_range"),
        sa.CheckConstraint("min_rate_bp >= 0 AND min_rate_bp <= max_rate_bp", name="rate_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    programme: Mapped[str | None] = mapped_column(sa.String(64))
    min_amount_fen: Mapped[int] = mapped_column(Fen)
    max_amount_fen: Mapped[int] = mapped_column(Fen)
    min_term_months: Mapped[int]
    max_term_months: Mapped[int]
    min_rate_bp: Mapped[int]
    max_rate_bp: Mapped[int]
    fee_bp: Mapped[int] = mapped_column(default=0)
    guarantee_type: Mapped[GuaranteeType] = mapped_column(enum_column(GuaranteeType))
    # Empty list = every district / industry section.
    eligible_districts: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    eligible_industries: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    min_grade: Mapped[str | None] = mapped_column(sa.String(4))
    min_years_operating: Mapped[int] = mapped_column(default=0)
    whitelist_only: Mapped[bool] = mapped_column(default=False)
    # Qualifications (models.sources.QualificationKind values) the enterprise must hold, valid on the need's
    # date, or that rank it higher when it does (DESIGN §13). Empty: none asked for.
    required_qualifications: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    preferred_qualifications: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # 银担合作 (DESIGN §13): the loan needs a guarantee accepted by a platform guarantor before it is approved;
    # `guarantor_id` names the one guarantor it must be (none: any active one).
    guarantor_required: Mapped[bool] = mapped_column(default=False)
    guarantor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("guarantors.id"))
    status: Mapped[ProductStatus] = mapped_column(enum_column(ProductStatus), default=ProductStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # joined: a product is nearly always shown with its bank's name (matching lists every product)
    bank: Mapped[Bank] = orm.relationship(lazy="joined")


class Urgency(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class NeedStatus(enum.StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class FinancingNeed(Base):
    """A financing need an enterprise publishes (amount, term, purpose, guarantees, urgency)."""

    __tablename__ = "financing_needs"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("term_months > 0", name="term_positive"),
        sa.Index("ix_financing_needs_status_published", "status", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), index=True)
    amount_fen: Mapped[int] = mapped_column(Fen)
    term_months: Mapped[int]
    purpose: Mapped[str] = mapped_column(sa.String(32))
    purpose_detail: Mapped[str | None] = mapped_column(sa.String(500))
    guarantee_types: Mapped[list[str]] = mapped_column(sa.JSON)
    urgency: Mapped[Urgency] = mapped_column(enum_column(Urgency), default=Urgency.NORMAL)
    contact_preference: Mapped[str | None] = mapped_column(sa.String(32))
    max_contacts: Mapped[int | None]
    open_to_all_banks: Mapped[bool] = mapped_column(default=True)
    status: Mapped[NeedStatus] = mapped_column(enum_column(NeedStatus), default=NeedStatus.OPEN)
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApplicationState(enum.StrEnum):
    MATCHED = "matched"
    CLAIMED = "claimed"
    GUARANTEE_REQUESTED = "guarantee_requested"  # the bank asked a platform guarantor (银担合作)
    GUARANTEED = "guaranteed"  # the guarantor accepted: fee and coverage recorded
    APPROVED = "approved"
    DECLINED = "declined"
    DISBURSED = "disbursed"
    REPAYING = "repaying"
    REPAID = "repaid"
    OVERDUE = "overdue"
    DEFAULTED = "defaulted"
    WITHDRAWN = "withdrawn"


class Channel(enum.StrEnum):
    WEB = "web"
    API = "api"
    CSV = "csv"
    SYSTEM = "system"


class Application(Base):
    """A need paired with one product of one bank, and where it stands in the lifecycle (DESIGN §6)."""

    __tablename__ = "applications"
    __table_args__ = (
        sa.UniqueConstraint("need_id", "product_id"),
        sa.Index("ix_applications_bank_state", "bank_id", "state", "created_at"),
        # The pipeline sorted by match rank pages along this index (bench/pipeline_bench.py).
        sa.Index("ix_applications_bank_state_rank", "bank_id", "state", "match_rank"),
        # A bank's worklist (web and API), latest activity first, pages along this index.
        sa.Index("ix_applications_bank_updated", "bank_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("financing_needs.id"), index=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), index=True)
    # Denormalised so every bank query is scoped by one indexed column.
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), index=True)
    state: Mapped[ApplicationState] = mapped_column(enum_column(ApplicationState), default=ApplicationState.MATCHED)
    match_rank: Mapped[float | None]
    applied_by_enterprise: Mapped[bool] = mapped_column(default=False)
    claimed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decline_reason_code: Mapped[str | None] = mapped_column(sa.String(32))
    decline_reason_text: Mapped[str | None] = mapped_column(sa.String(500))
    # What the bank approved (an offer the disbursement may differ from, e.g. the enterprise takes less).
    approved_amount_fen: Mapped[int | None] = mapped_column(Fen)
    approved_term_months: Mapped[int | None]
    approved_rate_bp: Mapped[int | None]
    disbursed_amount_fen: Mapped[int | None] = mapped_column(Fen)
    rate_bp: Mapped[int | None]
    term_months: Mapped[int | None]
    disbursed_on: Mapped[date | None]
    guarantee_type: Mapped[GuaranteeType | None] = mapped_column(enum_column(GuaranteeType))
    days_past_due: Mapped[int] = mapped_column(default=0)
    first_loan: Mapped[bool | None]
    # The guarantee the loan stands on, once a guarantor accepted it (models.guarantee.Guarantee has the history).
    guarantor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("guarantors.id"), index=True)
    guarantee_fee_bp: Mapped[int | None]
    guarantee_coverage_bp: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    need: Mapped[FinancingNeed] = orm.relationship()
    product: Mapped[Product] = orm.relationship()
    events: Mapped[list[ApplicationEvent]] = orm.relationship(
        back_populates="application", order_by="ApplicationEvent.id"
    )


class ApplicationEvent(Base):
    """One transition: who, when, through which channel. A repeated idempotency key is a no-op."""

    __tablename__ = "application_events"
    __table_args__ = (sa.UniqueConstraint("application_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    from_state: Mapped[ApplicationState | None] = mapped_column(enum_column(ApplicationState))
    to_state: Mapped[ApplicationState] = mapped_column(enum_column(ApplicationState))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    actor_token_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_tokens.id"))
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(128))
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    application: Mapped[Application] = orm.relationship(back_populates="events")


class LoanStatus(enum.StrEnum):
    REPAYING = "repaying"
    OVERDUE = "overdue"
    REPAID = "repaid"
    DEFAULTED = "defaulted"
    WRITTEN_OFF = "written_off"


class LoanPerformance(Base):
    """Bank-reported month-end state of a disbursed loan; the source of the model's labels (DESIGN §4)."""

    __tablename__ = "loan_performance"

    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), primary_key=True)
    as_of: Mapped[date] = mapped_column(primary_key=True)
    outstanding_fen: Mapped[int] = mapped_column(Fen)
    days_past_due: Mapped[int] = mapped_column(default=0)
    status: Mapped[LoanStatus] = mapped_column(enum_column(LoanStatus))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
