"""Post-loan monitoring alerts (获得贷款企业信用状况动态监测, DESIGN §7)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import USCC, Base, enum_column, utcnow


class AlertKind(enum.StrEnum):
    GRADE_DROP = "grade_drop"
    DISHONEST_RECORD = "dishonest_record"
    SERIOUS_PENALTY = "serious_penalty"
    HEADCOUNT_COLLAPSE = "headcount_collapse"
    UTILITY_ARREARS = "utility_arrears"
    TAX_ARREARS = "tax_arrears"


class Alert(Base):
    """Raised once per event (event_key is unique) for the lending bank and the district office."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_key: Mapped[str] = mapped_column(sa.String(160), unique=True)
    kind: Mapped[AlertKind] = mapped_column(enum_column(AlertKind))
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), index=True)
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("applications.id"))
    bank_id: Mapped[int | None] = mapped_column(sa.ForeignKey("banks.id"), index=True)
    district_code: Mapped[str] = mapped_column(sa.ForeignKey("districts.code"), index=True)
    evidence: Mapped[dict] = mapped_column(sa.JSON)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
