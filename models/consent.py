"""授权: an enterprise's authorization for banks to see its credit detail (DESIGN §8)."""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import Mapped, mapped_column

from models.base import SHANGHAI, USCC, Base, enum_column, utcnow

authorization_banks = sa.Table(
    "authorization_banks",
    Base.metadata,
    sa.Column("authorization_id", sa.ForeignKey("authorizations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("bank_id", sa.ForeignKey("banks.id"), primary_key=True),
)
# The guarantee institutions an authorization names: a guarantor sees detail only when named (never by all_banks).
authorization_guarantors = sa.Table(
    "authorization_guarantors",
    Base.metadata,
    sa.Column("authorization_id", sa.ForeignKey("authorizations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("guarantor_id", sa.ForeignKey("guarantors.id"), primary_key=True),
)


class Authorization(Base):
    """Which sources, which banks (all participating, or the ones listed), until when. Kept after revocation."""

    __tablename__ = "authorizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), index=True)
    sources: Mapped[list[str]] = mapped_column(sa.JSON)
    all_banks: Mapped[bool] = mapped_column(default=False)
    granted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    banks = orm.relationship("Bank", secondary=authorization_banks)
    guarantors = orm.relationship("Guarantor", secondary=authorization_guarantors)

    def is_live(self, at: datetime) -> bool:
        return self.revoked_at is None and self.granted_at <= at < self.expires_at

    @property
    def last_day(self) -> date:
        """The Shanghai day the enterprise chose: the authorization runs until that day's end, stored as the
        next day's 00:00, which is not a day to show anyone."""
        return (self.expires_at.astimezone(SHANGHAI) - timedelta(microseconds=1)).date()

    def names_bank(self, bank_id: int) -> bool:
        return self.all_banks or any(bank.id == bank_id for bank in self.banks)

    def names_guarantor(self, guarantor_id: int) -> bool:
        return any(guarantor.id == guarantor_id for guarantor in self.guarantors)


class AuthorizationRequestStatus(enum.StrEnum):
    PENDING = "pending"
    GRANTED = "granted"
    REFUSED = "refused"


class AuthorizationRequest(Base):
    """A bank that holds an application asks the enterprise for an authorization naming it (请求授权).

    The enterprise answers once: granting creates an ordinary Authorization (the one rule for what a bank may
    see), refusing records the refusal. At most one request of a bank per application is pending."""

    __tablename__ = "authorization_requests"
    __table_args__ = (sa.Index("ix_authorization_requests_uscc_status", "uscc", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"))
    sources: Mapped[list[str]] = mapped_column(sa.JSON)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    status: Mapped[AuthorizationRequestStatus] = mapped_column(
        enum_column(AuthorizationRequestStatus), default=AuthorizationRequestStatus.PENDING)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    answered_at: Mapped[datetime | None]
    authorization_id: Mapped[int | None] = mapped_column(sa.ForeignKey("authorizations.id"))

    bank = orm.relationship("Bank")
