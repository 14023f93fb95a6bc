"""Who logs in: districts, users with a role and a tenant, and bank API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm import Mapped, mapped_column

from models.base import USCC, Base, enum_column, utcnow

CITY_CODE = "310000"


class Role(enum.StrEnum):
    ENTERPRISE = "enterprise"
    BANK = "bank"
    OFFICE = "office"
    ADMIN = "admin"
    GUARANTOR = "guarantor"


class District(Base):
    """A Shanghai district by its GB/T 2260 division code; 310000 stands for the city office."""

    __tablename__ = "districts"

    code: Mapped[str] = mapped_column(sa.String(6), primary_key=True)
    name_zh: Mapped[str] = mapped_column(sa.String(32))
    name_en: Mapped[str] = mapped_column(sa.String(32))

    @property
    def is_city(self) -> bool:
        return self.code == CITY_CODE


class User(Base):
    """A login. Its tenant column matches its role (checked by the database, not just the app)."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(
            "(role = 'enterprise' AND enterprise_uscc IS NOT NULL AND bank_id IS NULL AND district_code IS NULL"
            " AND guarantor_id IS NULL)"
            " OR (role = 'bank' AND bank_id IS NOT NULL AND enterprise_uscc IS NULL AND district_code IS NULL"
            " AND guarantor_id IS NULL)"
            " OR (role = 'office' AND district_code IS NOT NULL AND enterprise_uscc IS NULL AND bank_id IS NULL"
            " AND guarantor_id IS NULL)"
            " OR (role = 'guarantor' AND guarantor_id IS NOT NULL AND enterprise_uscc IS NULL AND bank_id IS NULL"
            " AND district_code IS NULL)"
            " OR (role = 'admin' AND enterprise_uscc IS NULL AND bank_id IS NULL AND district_code IS NULL"
            " AND guarantor_id IS NULL)",
            name="tenant_matches_role",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(64))
    email: Mapped[str | None] = mapped_column(sa.String(120))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    role: Mapped[Role] = mapped_column(enum_column(Role), index=True)
    enterprise_uscc: Mapped[str | None] = mapped_column(USCC, sa.ForeignKey("enterprises.uscc"), index=True)
    bank_id: Mapped[int | None] = mapped_column(sa.ForeignKey("banks.id"), index=True)
    district_code: Mapped[str | None] = mapped_column(sa.ForeignKey("districts.code"))
    guarantor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("guarantors.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    is_tenant_admin: Mapped[bool] = mapped_column(default=False)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    # Part of the session token: changing the password changes it and so ends every other session.
    session_nonce: Mapped[str] = mapped_column(sa.String(32))
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    district: Mapped[District | None] = orm.relationship()


class ApiToken(Base):
    """A bank system's bearer token; only its SHA-256 is stored, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    prefix: Mapped[str] = mapped_column(sa.String(12))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ApiIdempotencyKey(Base):
    """Every API POST's Idempotency-Key with the digest of what it was sent with, kept whatever the outcome:
    the same key with another body is refused even when the first request changed nothing. `key` is the
    SHA-256 of the operation's path and the client's key (a key is the client's per operation)."""

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("bank_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("banks.id"))
    key: Mapped[str] = mapped_column(sa.String(128))
    request_sha256: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
