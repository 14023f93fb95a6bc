"""What the district platform reports up to the city node (xinyidai.domain.upstream): the outbox of events,
written in the transaction of the change they describe, and the monthly reconciliations."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, enum_column, utcnow


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # committed, not yet acknowledged by the receiver (maybe waiting for a retry)
    SENT = "sent"  # the receiver acknowledged it
    PARKED = "parked"  # the receiver rejected it (4xx); later events of its aggregate wait behind it


class OutboxEvent(Base):
    """One business event to send up. `message` is the whole body as sent (validated against the schema of
    its `event_type`); the other columns are what the push job sorts, retries and reports by."""

    __tablename__ = "upstream_outbox"
    __table_args__ = (
        sa.UniqueConstraint("aggregate_type", "aggregate_id", "sequence"),
        sa.Index("ix_upstream_outbox_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    event_type: Mapped[str] = mapped_column(sa.String(40))
    aggregate_type: Mapped[str] = mapped_column(sa.String(20))
    aggregate_id: Mapped[str] = mapped_column(sa.String(40))
    sequence: Mapped[int]
    district_code: Mapped[str] = mapped_column(sa.String(6))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    message: Mapped[dict] = mapped_column(sa.JSON)
    status: Mapped[OutboxStatus] = mapped_column(enum_column(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(1000))
    sent_at: Mapped[datetime | None]
    parked_at: Mapped[datetime | None]


class Reconciliation(Base):
    """One `xyd upstream reconcile`: the month's figures the receiver holds against the platform's own."""

    __tablename__ = "upstream_reconciliations"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), index=True)
    district_code: Mapped[str] = mapped_column(sa.String(6))
    ran_at: Mapped[datetime] = mapped_column(default=utcnow)
    receiver_figures: Mapped[dict | None] = mapped_column(sa.JSON)
    platform_figures: Mapped[dict] = mapped_column(sa.JSON)
    # [{"figure": key, "receiver": value, "platform": value}, …]; empty when both agree
    differences: Mapped[list] = mapped_column(sa.JSON, default=list)
    error: Mapped[str | None] = mapped_column(sa.String(1000))
