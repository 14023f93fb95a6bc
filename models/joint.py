"""Joint modelling (联合建模) and in-principle approval (预授信), DESIGN §11: a bank's samples, the models
trained on them (with their aggregates-only reports), the bank-model scores, the products' credit
policies, and the in-principle answers a published need receives."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import USCC, Base, Fen, utcnow


class BankSample(Base):
    """One accepted sample file of a bank: its own loans and its own bad definition. The same file (by
    SHA-256) twice is the same sample. `rejections` are the per-row problems of the rows left out."""

    __tablename__ = "bank_samples"
    __table_args__ = (sa.UniqueConstraint("bank_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"), index=True)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    filename: Mapped[str] = mapped_column(sa.String(200))
    file_format: Mapped[str] = mapped_column(sa.String(8))
    rows: Mapped[int]
    accepted: Mapped[int]
    rejected: Mapped[int]
    defaults: Mapped[int]
    rejections: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    uploaded_by_token_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_tokens.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class BankSampleRow(Base):
    __tablename__ = "bank_sample_rows"

    sample_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_samples.id", ondelete="CASCADE"), primary_key=True)
    line: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"))
    observed_on: Mapped[date]
    outcome: Mapped[int]


class BankModelVersion(Base):
    """A model trained for one bank on one of its samples: a folder of the model store under
    models/banks/<bank code>/<version>/, its card (to score) and its report (aggregates only). At most
    one version of a bank is active."""

    __tablename__ = "bank_model_versions"
    __table_args__ = (
        sa.Index("uq_bank_model_versions_one_active", "bank_id", unique=True,
                 postgresql_where=sa.text("is_active"), sqlite_where=sa.text("is_active")),
    )

    version: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"), index=True)
    sample_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_samples.id"))
    path: Mapped[str] = mapped_column(sa.String(500))
    card: Mapped[dict] = mapped_column(sa.JSON)
    report: Mapped[dict] = mapped_column(sa.JSON)
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    trained_by: Mapped[str | None] = mapped_column(sa.String(64))
    is_active: Mapped[bool] = mapped_column(default=False)
    promoted_at: Mapped[datetime | None]
    promoted_by: Mapped[str | None] = mapped_column(sa.String(64))


class BankScore(Base):
    """An enterprise scored by a bank's own model (only while it matched the bank's products and a live
    authorization names the bank). History is kept, newest wins."""

    __tablename__ = "bank_scores"
    __table_args__ = (sa.Index("ix_bank_scores_bank_uscc_scored", "bank_id", "uscc", "scored_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    model_version: Mapped[str] = mapped_column(sa.ForeignKey("bank_model_versions.version"), index=True)
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"))
    as_of: Mapped[date]
    pd_12m: Mapped[float]
    band: Mapped[str] = mapped_column(sa.String(4))
    reasons: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)


class CreditPolicy(Base):
    """A product's credit policy: which model decides (the platform grade or the bank's own), the cut-off
    (a PD ceiling and/or a lowest band), the amount formula (a share of the last 12 months' invoiced
    sales, capped by the product maximum) and the rate of each band (within the product's range)."""

    __tablename__ = "credit_policies"

    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), primary_key=True)
    model: Mapped[str] = mapped_column(sa.String(16))  # platform | bank
    max_pd: Mapped[float | None]
    min_band: Mapped[str | None] = mapped_column(sa.String(4))
    sales_share_bp: Mapped[int]
    rate_by_band: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    valid_days: Mapped[int] = mapped_column(default=30)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InPrincipleAnswer(Base):
    """A policy's answer to one match: pre-approved up to an amount at a rate until a date, or not (with
    the reason in both languages). `status`: live, withdrawn (score or authorization changed, the match
    went) or confirmed (the bank approved through the lifecycle)."""

    __tablename__ = "in_principle_answers"
    __table_args__ = (sa.Index("ix_in_principle_answers_application_status", "application_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"))
    need_id: Mapped[int] = mapped_column(sa.ForeignKey("financing_needs.id"), index=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"))
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"), index=True)
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), index=True)
    approved: Mapped[bool]
    amount_fen: Mapped[int | None] = mapped_column(Fen)
    rate_bp: Mapped[int | None]
    cost_bp: Mapped[int | None]
    expires_on: Mapped[date]
    reason_code: Mapped[str | None] = mapped_column(sa.String(32))
    reason_zh: Mapped[str | None] = mapped_column(sa.String(300))
    reason_en: Mapped[str | None] = mapped_column(sa.String(300))
    model: Mapped[str] = mapped_column(sa.String(16))
    model_version: Mapped[str | None] = mapped_column(sa.String(64))
    score_id: Mapped[int | None]
    pd_12m: Mapped[float | None]
    band: Mapped[str | None] = mapped_column(sa.String(4))
    authorization_id: Mapped[int | None] = mapped_column(sa.ForeignKey("authorizations.id"))
    status: Mapped[str] = mapped_column(sa.String(16), default="live")
    withdrawn_reason: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
