"""Writing the planned banks, users and lending history to the database in bulk."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.consent import Authorization
from models.enterprise import Enterprise
from models.identity import ApiToken, Role, User
from models.lending import Application, ApplicationEvent, Bank, FinancingNeed, LoanPerformance, Product
from xinyidai.demo.applications import LendingPlan
from xinyidai.demo.banks import BANKS, WAN
from xinyidai.demo.logins import DEMO_PASSWORD, demo_accounts
from xinyidai.domain.users import new_user
from xinyidai.ingest.sources import SOURCES

PLATFORM_OPENED = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
ALL_SOURCES = list(SOURCES)  # the demo enterprise lets its banks see every declared source


class DemoAlreadySeeded(Exception):
    """The database already holds the demo banks; seeding twice would duplicate the lending history."""


def store_banks(session: Session) -> tuple[dict[str, Bank], dict[tuple[str, str], Product]]:
    banks, products = {}, {}
    for bank in BANKS:
        banks[bank.code] = Bank(code=bank.code, name_zh=bank.name_zh, name_en=bank.name_en, joined_at=PLATFORM_OPENED)
        session.add(banks[bank.code])
        for p in bank.products:
            products[bank.code, p.code] = Product(
                bank=banks[bank.code], code=p.code, name_zh=p.name_zh, name_en=p.name_en, programme=p.programme,
                min_amount_fen=p.amount_wan[0] * WAN, max_amount_fen=p.amount_wan[1] * WAN,
                min_term_months=p.term_months[0], max_term_months=p.term_months[1], min_rate_bp=p.rate_bp[0],
                max_rate_bp=p.rate_bp[1], fee_bp=p.fee_bp, guarantee_type=p.guarantee,
                eligible_districts=list(p.districts), eligible_industries=list(p.industries),
                min_years_operating=p.min_years, whitelist_only=p.whitelist_only, min_grade=p.min_grade,
                required_qualifications=list(p.requires), preferred_qualifications=list(p.prefers),
                created_at=PLATFORM_OPENED, updated_at=PLATFORM_OPENED)
            session.add(products[bank.code, p.code])
    session.flush()
    return banks, products


def store_users(session: Session, banks: dict[str, Bank], enterprise_uscc: str,
                guarantors: dict | None = None) -> dict[str, object]:
    """Every demo account; keys are usernames. The shared demo password is hashed once (scrypt is slow on
    purpose) and the hash reused; its salt, like each session nonce, differs from run to run."""
    users: dict[str, object] = {}
    for account in demo_accounts():
        tenant = {
            "enterprise": {"enterprise_uscc": enterprise_uscc},
            "bank": {"bank_id": banks[account.bank_code].id, "is_tenant_admin": True} if account.bank_code else {},
            "office": {"district_code": account.district_code},
            "admin": {},
            "guarantor": {"guarantor_id": guarantors[account.guarantor_code].id, "is_tenant_admin": True}
            if guarantors and account.guarantor_code else {},
        }[account.role]
        if account.role == "guarantor" and not guarantors:
            continue
        fields = {"username": account.username, "display_name": account.display_name, "role": Role(account.role),
                  "created_at": PLATFORM_OPENED, **tenant}
        if users:
            first = next(iter(users.values()))
            user = User(password_hash=first.password_hash, session_nonce=secrets.token_hex(16), **fields)
        else:
            user = new_user(password=DEMO_PASSWORD, **fields)
        session.add(user)
        users[account.username] = user
    session.flush()
    return users


def store_tokens(session: Session, banks: dict[str, Bank], officers: dict[str, object], token_seed: bytes) -> dict:
    """One API token per bank for its core system. Only a hash is stored and the token is never shown: the
    demo's API events name it, nobody can use it."""
    tokens = {}
    for bank in BANKS:
        digest = hashlib.sha256(token_seed + bank.code.encode()).hexdigest()
        tokens[bank.code] = ApiToken(bank_id=banks[bank.code].id, name="核心系统对接 (core banking system)",
                                     prefix="xyd_" + digest[:6], token_hash=digest,
                                     created_by_id=officers[bank.code].id, created_at=PLATFORM_OPENED)
        session.add(tokens[bank.code])
    session.flush()
    return tokens


def store_plan(session: Session, plan: LendingPlan, banks, products, officers, tokens,
               enterprise_user) -> dict[str, int]:
    need_ids = _insert_returning(session, FinancingNeed, [
        {**{k: v for k, v in need.items() if k != "key"},
         "published_by_id": enterprise_user.id if need["uscc"] == enterprise_user.enterprise_uscc else None}
        for need in plan.needs])
    app_rows = []
    for app in plan.applications:
        row = {k: v for k, v in app.items() if k not in ("key", "need_key", "bank_code", "product_code", "claimed")}
        row.update(need_id=need_ids[app["need_key"]], product_id=products[app["bank_code"], app["product_code"]].id,
                   bank_id=banks[app["bank_code"]].id,
                   claimed_by_id=officers[app["bank_code"]].id if app["claimed"] else None)
        app_rows.append(row)
    app_ids = _insert_returning(session, Application, app_rows)
    session.execute(sa.insert(ApplicationEvent.__table__), [
        {"application_id": app_ids[e["app_key"]], "from_state": e["from_state"], "to_state": e["to_state"],
         "channel": e["channel"], "idempotency_key": e["idempotency_key"], "detail": e["detail"],
         "occurred_at": e["occurred_at"],
         "actor_user_id": officers[e["bank_code"]].id if e["actor"] == "officer" else (
             enterprise_user.id if e["to_state"] == "withdrawn" and e["uscc"] == enterprise_user.enterprise_uscc
             else None),
         "actor_token_id": tokens[e["bank_code"]].id if e["actor"] == "token" else None}
        for e in plan.events])
    if plan.performance:
        session.execute(sa.insert(LoanPerformance.__table__), [
            {**{k: v for k, v in p.items() if k != "app_key"}, "application_id": app_ids[p["app_key"]]}
            for p in plan.performance])
    return {"needs": len(need_ids), "applications": len(app_ids), "application_events": len(plan.events),
            "loan_performance": len(plan.performance)}


def store_portal_registration(session: Session, uscc: str, registered_at: datetime) -> None:
    """The demo enterprise registered on the portal (the registry delivery never carries contacts)."""
    enterprise = session.get(Enterprise, uscc)
    enterprise.contact_name, enterprise.contact_phone = "王敏", "021-57000000"
    enterprise.contact_email, enterprise.registered_at = "finance@demo.xinyidai.example", registered_at


def store_authorization(session: Session, enterprise_user, granted_at: datetime, guarantors=()) -> None:
    """The demo enterprise lets every participating bank, and the guarantors named, see its data for a year."""
    authorization = Authorization(uscc=enterprise_user.enterprise_uscc, sources=ALL_SOURCES, all_banks=True,
                                  granted_by_id=enterprise_user.id, granted_at=granted_at,
                                  expires_at=granted_at + timedelta(days=365))
    authorization.guarantors = list(guarantors)
    session.add(authorization)


def _insert_returning(session: Session, model, rows: list[dict]) -> list[int]:
    if not rows:
        return []
    statement = sa.insert(model.__table__).returning(model.__table__.c.id, sort_by_parameter_order=True)
    return list(session.scalars(statement, rows))
