"""Onboarding by the platform operator (DESIGN §1): participating banks with their first administrator,
district and city office staff, and deactivating a login.

Every new login gets a one-time password that the operator hands over and the user must replace at first
login; it is returned once and never stored in clear. Each change is audited in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.identity import District, Role, User
from models.lending import Bank
from xinyidai.audit import record
from xinyidai.database import by_id
from xinyidai.domain.errors import Invalid, NotFound
from xinyidai.domain.needs import deactivate, username_taken
from xinyidai.domain.users import new_user, temporary_password


@dataclass(frozen=True)
class NewLogin:
    user: User
    temporary_password: str  # shown once to the operator, never stored


@dataclass(frozen=True)
class BankRow:
    bank: Bank
    officers: int


def banks(session: Session) -> list[BankRow]:
    officers = (sa.select(User.bank_id, sa.func.count().label("n")).where(User.role == Role.BANK, User.is_active)
                .group_by(User.bank_id).subquery())
    statement = (sa.select(Bank, sa.func.coalesce(officers.c.n, 0)).outerjoin(officers, officers.c.bank_id == Bank.id)
                 .order_by(Bank.code))
    return [BankRow(bank, count) for bank, count in session.execute(statement)]


def bank_users(session: Session, bank_id: int) -> list[User]:
    """All of the bank's logins, deactivated ones included (the operator needs to see them)."""
    return list(session.scalars(sa.select(User).where(User.role == Role.BANK, User.bank_id == bank_id)
                                .order_by(User.is_active.desc(), User.username)))


def office_users(session: Session, district_code: str) -> list[User]:
    return list(session.scalars(sa.select(User).where(User.role == Role.OFFICE, User.district_code == district_code)
                                .order_by(User.is_active.desc(), User.username)))


def districts(session: Session) -> list[District]:
    """The city office (310000) first, then the districts by code."""
    return sorted(session.scalars(sa.select(District)), key=lambda d: (not d.is_city, d.code))


def get_bank(session: Session, bank_id: int) -> Bank:
    bank = by_id(session, Bank, bank_id)
    if bank is None:
        raise NotFound(f"bank {bank_id}")
    return bank


def add_bank(session: Session, admin: User, *, code: str, name_zh: str, name_en: str, officer: dict) -> tuple[Bank, NewLogin]:
    """A participating bank and its first administrator (who then adds officers and API tokens himself).
    `officer` holds display_name, username, email, phone. Raises Invalid naming each field in conflict."""
    code, name_zh, name_en = code.strip().upper(), name_zh.strip(), name_en.strip()
    if errors := _bank_conflicts(session, code, name_zh, officer["username"]):
        raise Invalid(errors)
    try:
        with session.begin_nested():
            bank = Bank(code=code, name_zh=name_zh, name_en=name_en)
            session.add(bank)
            session.flush()
            record(session, "bank_onboarded", actor_user_id=admin.id, detail={"bank_id": bank.id, "code": code, "name": name_zh})
            login = _new_login(session, admin, Role.BANK, officer, bank_id=bank.id, is_tenant_admin=True)
    except IntegrityError:
        # Another operator saved the same code or username between our check and our insert: name the field.
        if errors := _bank_conflicts(session, code, name_zh, officer["username"]):
            raise Invalid(errors) from None
        raise
    return bank, login


def _bank_conflicts(session: Session, code: str, name_zh: str, username: str) -> dict[str, list]:
    errors: dict[str, list] = {}
    if session.scalar(sa.select(Bank.id).where(sa.func.upper(Bank.code) == code)) is not None:
        errors["code"] = [_l("该银行代码已被使用。")]
    if session.scalar(sa.select(Bank.id).where(Bank.name_zh == name_zh)) is not None:
        errors["name_zh"] = [_l("已有同名的参与银行。")]
    if username_taken(session, username):
        errors["officer_username"] = [_l("该用户名已被使用，请换一个。")]
    return errors


@dataclass(frozen=True)
class GuarantorRow:
    guarantor: object
    staff: int


def guarantors(session: Session) -> list[GuarantorRow]:
    from models.guarantee import Guarantor

    staff = (sa.select(User.guarantor_id, sa.func.count().label("n")).where(User.role == Role.GUARANTOR, User.is_active)
             .group_by(User.guarantor_id).subquery())
    statement = (sa.select(Guarantor, sa.func.coalesce(staff.c.n, 0))
                 .outerjoin(staff, staff.c.guarantor_id == Guarantor.id).order_by(Guarantor.code))
    return [GuarantorRow(guarantor, count) for guarantor, count in session.execute(statement)]


def get_guarantor(session: Session, guarantor_id: int):
    from models.guarantee import Guarantor

    guarantor = by_id(session, Guarantor, guarantor_id)
    if guarantor is None:
        raise NotFound(f"guarantor {guarantor_id}")
    return guarantor


def guarantor_users(session: Session, guarantor_id: int) -> list[User]:
    return list(session.scalars(sa.select(User).where(User.role == Role.GUARANTOR, User.guarantor_id == guarantor_id)
                                .order_by(User.is_active.desc(), User.username)))


def add_guarantor(session: Session, admin: User, *, code: str, name_zh: str, name_en: str, officer: dict):
    """A guarantee institution (政府性融资担保) and its first administrator, like a bank. Raises Invalid naming
    each field in conflict."""
    from models.guarantee import Guarantor

    code, name_zh, name_en = code.strip().upper(), name_zh.strip(), name_en.strip()
    if errors := _guarantor_conflicts(session, code, name_zh, officer["username"]):
        raise Invalid(errors)
    try:
        with session.begin_nested():
            guarantor = Guarantor(code=code, name_zh=name_zh, name_en=name_en)
            session.add(guarantor)
            session.flush()
            record(session, "guarantor_onboarded", actor_user_id=admin.id,
                   detail={"guarantor_id": guarantor.id, "code": code, "name": name_zh})
            login = _new_login(session, admin, Role.GUARANTOR, officer, guarantor_id=guarantor.id, is_tenant_admin=True)
    except IntegrityError:
        if errors := _guarantor_conflicts(session, code, name_zh, officer["username"]):
            raise Invalid(errors) from None
        raise
    return guarantor, login


def _guarantor_conflicts(session: Session, code: str, name_zh: str, username: str) -> dict[str, list]:
    from models.guarantee import Guarantor

    errors: dict[str, list] = {}
    if session.scalar(sa.select(Guarantor.id).where(sa.func.upper(Guarantor.code) == code)) is not None:
        errors["code"] = [_l("该担保机构代码已被使用。")]
    if session.scalar(sa.select(Guarantor.id).where(Guarantor.name_zh == name_zh)) is not None:
        errors["name_zh"] = [_l("已有同名的担保机构。")]
    if username_taken(session, username):
        errors["officer_username"] = [_l("该用户名已被使用，请换一个。")]
    return errors


def add_office_user(session: Session, admin: User, *, district_code: str, **officer) -> NewLogin:
    """A login for a district's finance office, or the city office (310000) that sees every district."""
    if session.get(District, district_code) is None:
        raise Invalid({"district": [_l("没有这个区。")]})
    taken = Invalid({"username": [_l("该用户名已被使用，请换一个。")]})
    if username_taken(session, officer["username"]):
        raise taken
    try:
        with session.begin_nested():
            return _new_login(session, admin, Role.OFFICE, officer, district_code=district_code)
    except IntegrityError:
        raise taken from None  # the same username saved by someone else a moment ago


def _new_login(session: Session, admin: User, role: Role, person: dict, **tenant) -> NewLogin:
    password = temporary_password()
    user = new_user(username=person["username"].strip(), display_name=person["display_name"].strip(),
                    email=person.get("email") or None, phone=person.get("phone") or None, role=role,
                    password=password, must_change_password=True, **tenant)
    session.add(user)
    session.flush()
    # The same action the CLI records for `xyd user create`, so one audit search finds both.
    record(session, "user_created", actor_user_id=admin.id,
           detail={"user_id": user.id, "username": user.username, "role": role.value,
                   "tenant_admin": user.is_tenant_admin, "must_change_password": True, **tenant})
    return NewLogin(user, password)


def deactivate_bank(session: Session, admin: User, bank_id: int) -> Bank:
    """A bank leaves the platform: its officers can no longer log in (the login and the session check read
    the bank), its products stop matching, SMEs no longer see it, and its matches nobody claimed yet are
    withdrawn. Its history stays. Audited as bank_deactivated."""
    from models.lending import Channel, Product
    from xinyidai.domain.lifecycle import Actor
    from xinyidai.domain.products import withdraw_untouched_matches

    bank = by_id(session, Bank, bank_id)
    if bank is None:
        raise NotFound(f"bank {bank_id}")
    if not bank.is_active:
        return bank
    bank.is_active = False
    actor = Actor(Channel.WEB, user_id=admin.id)
    withdrawn = sum(withdraw_untouched_matches(session, product, actor)
                    for product in session.scalars(sa.select(Product).where(Product.bank_id == bank.id)))
    record(session, "bank_deactivated", actor_user_id=admin.id,
           detail={"bank_id": bank.id, "code": bank.code, "matches_withdrawn": withdrawn})
    session.flush()
    return bank


def reactivate_bank(session: Session, admin: User, bank_id: int) -> Bank:
    """A deactivated bank comes back (a mistaken or temporary deactivation): its officers may log in again —
    each anew, since every session from before is ended (a new nonce), never revived — its active products
    match new needs again and SMEs see it again. What deactivation withdrew stays withdrawn (history).
    Audited as bank_activated."""
    from xinyidai.domain.users import end_sessions

    bank = by_id(session, Bank, bank_id)
    if bank is None:
        raise NotFound(f"bank {bank_id}")
    if bank.is_active:
        return bank
    bank.is_active = True
    officers = list(session.scalars(sa.select(User).where(User.bank_id == bank.id)))
    for officer in officers:
        end_sessions(officer)
    record(session, "bank_activated", actor_user_id=admin.id,
           detail={"bank_id": bank.id, "code": bank.code, "sessions_ended_for": len(officers)})
    session.flush()
    return bank


def deactivate_user(session: Session, admin: User, user_id: int) -> User:
    """Ends the user's logins and sessions (the session check reads is_active); the row and its history stay."""
    user = by_id(session, User, user_id)
    if user is None:
        raise NotFound(f"user {user_id}")
    return deactivate(session, admin, user, "user_deactivated", subject_uscc=user.enterprise_uscc, role=user.role.value)
