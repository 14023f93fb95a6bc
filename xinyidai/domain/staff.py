"""A bank's own staff, managed by the bank's administrator (its tenant admin): invite a colleague with a
one-time password, give or take the administrator role, deactivate a login, and hand an officer's
applications to a colleague. Every change is scoped to the administrator's bank and audited.

The user rules themselves (one username, nobody deactivates their own login, the one-time password) are the
users aggregate's and are reused, not restated.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from models.identity import Role, User
from models.lending import Application, ApplicationState
from xinyidai.audit import record
from xinyidai.database import by_id
from xinyidai.domain.errors import Invalid, NotFound, Refused
from xinyidai.domain.lifecycle import IN_PROGRESS
from xinyidai.domain.needs import deactivate, username_taken
from xinyidai.domain.users import new_user, temporary_password

S = ApplicationState
# The states in which an application is some officer's work: the claim until the loan is over.
IN_HAND = tuple(IN_PROGRESS)


@dataclass(frozen=True)
class StaffRow:
    user: User
    in_hand: int  # applications this officer holds (claimed, approved, or a loan still being repaid)


@dataclass(frozen=True)
class Invited:
    user: User
    temporary_password: str  # shown once to the administrator, never stored


def _must_administer(admin: User) -> None:
    if admin.role is not Role.BANK or not admin.is_tenant_admin or not admin.is_active:
        raise Refused(_l("只有本行管理员可以管理员工账户。"))


def _own_staff(session: Session, admin: User, user_id: int) -> User:
    """A login of the administrator's own bank, or NotFound (another bank's login looks missing)."""
    user = by_id(session, User, user_id)
    if user is None or user.role is not Role.BANK or user.bank_id != admin.bank_id:
        raise NotFound(f"user {user_id}")
    return user


def bank_staff(session: Session, bank_id: int) -> list[StaffRow]:
    """Every login of the bank, deactivated ones last, each with the applications it holds."""
    held = (sa.select(Application.claimed_by_id, sa.func.count().label("n"))
            .where(Application.bank_id == bank_id, Application.state.in_(IN_HAND))
            .group_by(Application.claimed_by_id).subquery())
    rows = session.execute(
        sa.select(User, sa.func.coalesce(held.c.n, 0)).outerjoin(held, held.c.claimed_by_id == User.id)
        .where(User.role == Role.BANK, User.bank_id == bank_id)
        .order_by(User.is_active.desc(), User.display_name, User.id))
    return [StaffRow(user, int(count)) for user, count in rows]


def invite(session: Session, admin: User, *, display_name: str, username: str, email: str | None = None,
           phone: str | None = None, tenant_admin: bool = False) -> Invited:
    """A colleague's login in the administrator's bank; they must replace the one-time password at first login."""
    _must_administer(admin)
    errors: dict[str, list] = {}
    if not (display_name or "").strip():
        errors["display_name"] = [_l("请填写此项")]
    if not (username or "").strip():
        errors["username"] = [_l("请填写此项")]
    elif username_taken(session, username):
        errors["username"] = [_l("该用户名已被使用，请换一个。")]
    if errors:
        raise Invalid(errors)
    password = temporary_password()
    user = new_user(username=username.strip(), display_name=display_name.strip(), email=(email or "").strip() or None,
                    phone=(phone or "").strip() or None, role=Role.BANK, bank_id=admin.bank_id,
                    is_tenant_admin=tenant_admin, password=password, must_change_password=True)
    session.add(user)
    session.flush()
    # The action the operator's onboarding and `xyd user create` record, so one audit search finds every login.
    record(session, "user_created", actor_user_id=admin.id,
           detail={"user_id": user.id, "username": user.username, "role": Role.BANK.value, "bank_id": admin.bank_id,
                   "tenant_admin": tenant_admin, "must_change_password": True, "by": "bank_admin"})
    return Invited(user, password)


def _other_active_admins(session: Session, user: User) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(User).where(
        User.role == Role.BANK, User.bank_id == user.bank_id, User.is_tenant_admin.is_(True),
        User.is_active.is_(True), User.id != user.id))


def held_by(session: Session, user: User) -> list[Application]:
    return list(session.scalars(sa.select(Application).where(
        Application.bank_id == user.bank_id, Application.claimed_by_id == user.id, Application.state.in_(IN_HAND))
        .order_by(Application.id)))


def deactivate_officer(session: Session, admin: User, user_id: int) -> User:
    """End a colleague's logins. Refused while they still hold applications (hand them over first), so no
    enterprise is left with an officer nobody can reach."""
    _must_administer(admin)
    user = _own_staff(session, admin, user_id)
    if user.is_active and (count := len(held_by(session, user))):
        raise Refused(_l("该员工名下还有 %(count)s 笔在办申请，请先转交给其他员工再停用。", count=count))
    return deactivate(session, admin, user, "user_deactivated", subject_uscc=None, role=Role.BANK.value,
                      bank_id=admin.bank_id)


def set_administrator(session: Session, admin: User, user_id: int, *, tenant_admin: bool) -> User:
    """Give or take the bank administrator role. The bank always keeps one active administrator."""
    _must_administer(admin)
    user = _own_staff(session, admin, user_id)
    if not user.is_active:
        raise Refused(_l("该账户已停用，不能变更角色。"))
    if user.is_tenant_admin == tenant_admin:
        return user
    if not tenant_admin and _other_active_admins(session, user) == 0:
        raise Refused(_l("本行须至少保留一名在职的管理员。"))
    user.is_tenant_admin = tenant_admin
    record(session, "user_role_changed", actor_user_id=admin.id,
           detail={"user_id": user.id, "username": user.username, "bank_id": admin.bank_id,
                   "tenant_admin": tenant_admin})
    return user


def hand_over(session: Session, admin: User, from_user_id: int, to_user_id: int) -> int:
    """Give every application `from` holds to the active colleague `to`; one audit row per application, as a
    single reassignment writes. Returns how many moved."""
    _must_administer(admin)
    source, target = _own_staff(session, admin, from_user_id), by_id(session, User, to_user_id)
    if target is None or target.role is not Role.BANK or target.bank_id != admin.bank_id or not target.is_active \
            or target.id == source.id:
        raise Invalid({"to_user_id": [_l("请选择本行另一名在职员工。")]})
    moved = held_by(session, source)
    for application in moved:
        application.claimed_by_id = target.id
        record(session, "application_reassigned", actor_user_id=admin.id, subject_uscc=application.uscc,
               detail={"application_id": application.id, "from_user_id": source.id, "to_user_id": target.id,
                       "channel": "web", "by": "hand_over"})
    return len(moved)
