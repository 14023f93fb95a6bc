"""Declarative base, naming convention and the column types every aggregate shares."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy import orm


def _check_column_suffix(constraint, table) -> str:
    """A CHECK that an Enum column generates also carries the column's name: two columns of one enum
    type in a table (from_state, to_state) would otherwise get the same constraint name."""
    if getattr(constraint, "_type_bound", False):
        return "".join(f"_{column.name}" for column in constraint.columns)
    return ""


# Named constraints make Alembic migrations deterministic on PostgreSQL and SQLite alike.
NAMING_CONVENTION = {
    "check_column_suffix": _check_column_suffix,
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s%(check_column_suffix)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Money is integer fen (1/100 yuan) so sums are exact; BigInteger because district totals exceed 2^31.
Fen = sa.BigInteger
USCC = sa.String(18)


# China has one time zone and no daylight saving: every calendar date the platform shows or counts
# (reporting months, SLA working days, authorization end dates) is a Shanghai date.
SHANGHAI = timezone(timedelta(hours=8))


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC timestamps on every backend (SQLite forgets the zone, PostgreSQL keeps it)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use models.base.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def enum_column(enum_cls: type[enum.Enum], **kwargs) -> sa.Enum:
    """Store an enum by its value as a short string (no native PostgreSQL enum: easier migrations)."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_cls) + 4,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        **kwargs,
    )


def first_of_month(day: date) -> date:
    return day.replace(day=1)


class Base(orm.DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}
