"""The enterprise's own credit report (专用信用报告) and credit repair (信用修复), DESIGN §12.

The platform keeps a report's header and the SHA-256 digest of the issued file, never the file: what the
enterprise chose to put in it leaves with the enterprise. The verification code is kept as a hash only.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import USCC, Base, enum_column, utcnow


class CreditReport(Base):
    """One issued report: its number, whose it is, when issued and until when valid, and its digest."""

    __tablename__ = "credit_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(24), unique=True)
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), index=True)
    enterprise_name: Mapped[str] = mapped_column(sa.String(200))
    language: Mapped[str] = mapped_column(sa.String(2))
    window_start: Mapped[date]
    window_end: Mapped[date]
    sections: Mapped[list[str]] = mapped_column(sa.JSON)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[datetime]
    digest: Mapped[str] = mapped_column(sa.String(64))
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    issued_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    issued_via: Mapped[str] = mapped_column(sa.String(16), default="web")
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class ReportAttachment(Base):
    """A report a bank officer received and attached to an application, and what the platform's check said."""

    __tablename__ = "credit_report_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("credit_reports.id"))
    number: Mapped[str] = mapped_column(sa.String(32))
    outcome: Mapped[str] = mapped_column(sa.String(24))
    file_matches: Mapped[bool | None]
    checked_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class RepairState(enum.StrEnum):
    APPLIED = "applied"
    REPAIRED = "repaired"
    REJECTED = "rejected"


class RepairCase(Base):
    """One credit-repair case of one public-credit record: the enterprise's application (with its evidence),
    the deciding authority's outcome as the district office records it, or the provider's delivery that
    shows the record repaired (the source of truth). At most one case per record is open at a time."""

    __tablename__ = "repair_cases"
    __table_args__ = (
        sa.Index("uq_repair_cases_one_open", "record_id", unique=True,
                 postgresql_where=sa.text("state = 'applied'"), sqlite_where=sa.text("state = 'applied'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[str] = mapped_column(sa.ForeignKey("public_credit_events.record_id"), index=True)
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), index=True)
    district_code: Mapped[str] = mapped_column(sa.ForeignKey("districts.code"), index=True)
    state: Mapped[RepairState] = mapped_column(enum_column(RepairState), default=RepairState.APPLIED)
    # Null when the record was repaired without an application on the platform (the delivery said so).
    applied_on: Mapped[date | None]
    applied_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
    commitment_signed: Mapped[bool] = mapped_column(default=False)
    evidence_name: Mapped[str | None] = mapped_column(sa.String(200))
    evidence_type: Mapped[str | None] = mapped_column(sa.String(32))
    evidence_bytes: Mapped[int | None]
    evidence_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    # The deciding authority is expected to answer by this date (working days on the platform's calendar).
    due_on: Mapped[date | None]
    decided_on: Mapped[date | None]
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(sa.String(500))
    closed_via: Mapped[str | None] = mapped_column(sa.String(16))
    closed_at: Mapped[datetime | None]
    # When the enterprise was shown the outcome (its notification is unread until then).
    outcome_seen_at: Mapped[datetime | None]
