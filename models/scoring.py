"""Model versions, scores with their reasons, and the district whitelists (DESIGN §4)."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import Mapped, mapped_column

from models.base import USCC, Base, enum_column, utcnow

# The platform's grades, best first. Product.min_grade, Score.grade and WhitelistPolicy.min_grade use
# these labels; the scorecard maps score bands onto them.
GRADE_SCALE: tuple[str, ...] = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C")


def grade_at_least(grade: str | None, minimum: str | None) -> bool:
    """True when `grade` is as good as `minimum` or better (no minimum: always; no grade: never)."""
    if minimum is None:
        return True
    if grade not in GRADE_SCALE or minimum not in GRADE_SCALE:
        return False
    return GRADE_SCALE.index(grade) <= GRADE_SCALE.index(minimum)


class ModelVersion(Base):
    """A trained model: a folder in the model store (model.txt, card.json, card.md). One is active."""

    __tablename__ = "model_versions"
    __table_args__ = (
        sa.Index(
            "uq_model_versions_one_active",
            "is_active",
            unique=True,
            postgresql_where=sa.text("is_active"),
            sqlite_where=sa.text("is_active"),
        ),
    )

    version: Mapped[str] = mapped_column(sa.String(48), primary_key=True)
    path: Mapped[str] = mapped_column(sa.String(500))
    card: Mapped[dict] = mapped_column(sa.JSON)
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_active: Mapped[bool] = mapped_column(default=False)
    promoted_at: Mapped[datetime | None]
    promoted_by: Mapped[str | None] = mapped_column(sa.String(64))


class Score(Base):
    """One enterprise scored by one model version as of a date; history is kept, newest wins."""

    __tablename__ = "scores"
    __table_args__ = (sa.Index("ix_scores_uscc_scored_at", "uscc", "scored_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"))
    model_version: Mapped[str] = mapped_column(sa.ForeignKey("model_versions.version"), index=True)
    as_of: Mapped[date]
    pd_12m: Mapped[float]
    points: Mapped[int]
    grade: Mapped[str] = mapped_column(sa.String(4))
    gates_passed: Mapped[bool]
    # [{"gate": "dishonest_debtor", "record_id": ...}] — worded for people at render time.
    failed_gates: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)

    reasons: Mapped[list[ScoreReason]] = orm.relationship(order_by="ScoreReason.rank", cascade="all, delete-orphan")


class ScoreReason(Base):
    """A feature that moved the score most (LightGBM pred_contrib), grouped into a family."""

    __tablename__ = "score_reasons"

    score_id: Mapped[int] = mapped_column(sa.ForeignKey("scores.id", ondelete="CASCADE"), primary_key=True)
    rank: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    family: Mapped[str] = mapped_column(sa.String(24))
    feature: Mapped[str] = mapped_column(sa.String(64))
    contribution: Mapped[float]


class WhitelistPolicy(Base):
    """The district office's threshold: the lowest grade that may enter its whitelist."""

    __tablename__ = "whitelist_policies"

    district_code: Mapped[str] = mapped_column(sa.ForeignKey("districts.code"), primary_key=True)
    min_grade: Mapped[str] = mapped_column(sa.String(4))
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WhitelistStatus(enum.StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"


class WhitelistVersion(Base):
    """One version of a district's whitelist, with the model version and threshold behind it."""

    __tablename__ = "whitelist_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_code: Mapped[str] = mapped_column(sa.ForeignKey("districts.code"), index=True)
    model_version: Mapped[str] = mapped_column(sa.ForeignKey("model_versions.version"))
    min_grade: Mapped[str] = mapped_column(sa.String(4))
    status: Mapped[WhitelistStatus] = mapped_column(enum_column(WhitelistStatus), default=WhitelistStatus.DRAFT)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]


class WhitelistEntry(Base):
    __tablename__ = "whitelist_entries"

    whitelist_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("whitelist_versions.id", ondelete="CASCADE"), primary_key=True
    )
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), primary_key=True)
    score_id: Mapped[int] = mapped_column(sa.ForeignKey("scores.id"))
    grade: Mapped[str] = mapped_column(sa.String(4))
    # "added" / "kept" relative to the previous published version; removals are derived by difference.
    change: Mapped[str] = mapped_column(sa.String(8))


class WhitelistOverride(Base):
    """An office's decision on one firm of a draft, against what the scores said: include a firm that did
    not qualify, or exclude one that did, always with a reason (kept when the version is published)."""

    __tablename__ = "whitelist_overrides"

    whitelist_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("whitelist_versions.id", ondelete="CASCADE"), primary_key=True
    )
    uscc: Mapped[str] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), primary_key=True)
    action: Mapped[str] = mapped_column(sa.String(8))  # "include" / "exclude"
    reason: Mapped[str] = mapped_column(sa.String(500))
    decided_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
