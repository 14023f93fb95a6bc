"""The message thread of an application between its bank and the enterprise (DESIGN §1, §8)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import USCC, Base, enum_column, utcnow


class Side(enum.StrEnum):
    BANK = "bank"
    ENTERPRISE = "enterprise"


class Message(Base):
    """One message on one application. `read_at`: when the other side first opened the thread (the side,
    not a person: a colleague of the recipient reading it counts)."""

    __tablename__ = "messages"
    __table_args__ = (sa.CheckConstraint("length(body) > 0", name="body_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    # Denormalised like applications.bank_id / uscc: every look-up is scoped by the caller's tenant.
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), index=True)
    side: Mapped[Side] = mapped_column(enum_column(Side))
    sender_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(sa.String(1000))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
