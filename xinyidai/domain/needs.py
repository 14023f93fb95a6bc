"""What an enterprise does on the portal: the rules live here, the views only parse and render.

Every function takes the acting user and works inside that user's enterprise (its USCC), so an id from a
URL that belongs to another enterprise is a NotFound, never a look at someone else's row. Nothing here
commits: the view commits the unit of work, or rolls it back on an error.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from models.base import SHANGHAI, utcnow
from models.consent import Authorization
from models.enterprise import CreditCommitment, Enterprise, EnterpriseStatus, SelfReport
from models.identity import Role, User
from models.lending import (
    Application,
    ApplicationEvent,
    ApplicationState,
    Bank,
    Channel,
    FinancingNeed,
    NeedStatus,
    Product,
)
from models.sources import Source
from xinyidai.audit import record
from xinyidai.database import MAX_INT, by_id
from xinyidai.domain import in_principle, upstream
from xinyidai.domain.errors import Invalid, NotFound, Refused
from xinyidai.domain.lifecycle import HOLDS_CLAIM, TERMINAL, Actor, locked_application, transition
from xinyidai.domain.matching import Fit, assess, refresh_matches
from xinyidai.domain.standing import standing_of
from xinyidai.domain.users import new_user
from xinyidai.uscc import validate_uscc

S = ApplicationState
MAX_AUTHORIZATION_DAYS = 366


def shanghai_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(SHANGHAI).date()


def _actor(user: User) -> Actor:
    return Actor(Channel.WEB, user_id=user.id)


# ---------------------------------------------------------------- registration and staff

@dataclass(frozen=True)
class Registration:
    uscc: str
    name: str
    contact_name: str
    contact_phone: str
    contact_email: str | None
    username: str
    password: str


class RegistrationRefused(Exception):
    """The enterprise cannot be registered. Deliberately one reason for the user (the code is not in the
    registry, the name does not match, the enterprise is not operating, or it already has an account) so
    the form cannot be used to find out which enterprises exist or have registered; `reason` is for the
    audit log only."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _comparable_name(name: str) -> str:
    """Full-width and half-width brackets and spaces read the same: （ ） and ( ) are one name."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name or ""))


def username_taken(session: Session, username: str) -> bool:
    return session.scalar(sa.select(User.id).where(sa.func.lower(User.username) == username.strip().lower())) is not None


def register_enterprise(session: Session, registration: Registration, *, remote_addr: str | None = None,
                        now: datetime | None = None) -> User:
    """The enterprise's first account (its administrator); raises Invalid (username) or RegistrationRefused.

    The password is hashed before anything is looked up, so a refusal takes as long as a success.
    """
    now = now or utcnow()
    uscc = validate_uscc(registration.uscc)
    user = new_user(username=registration.username.strip(), display_name=registration.contact_name.strip(),
                    email=registration.contact_email or None, phone=registration.contact_phone.strip(),
                    role=Role.ENTERPRISE, enterprise_uscc=uscc, is_tenant_admin=True, password=registration.password)
    enterprise = session.get(Enterprise, uscc, with_for_update=True)
    reason = _refusal(session, enterprise, registration.name)
    if reason:
        record(session, "registration_refused", subject_uscc=uscc if enterprise else None, remote_addr=remote_addr,
               actor_label=registration.username[:120], detail={"uscc": uscc, "reason": reason})
        raise RegistrationRefused(reason)
    # Only someone who passed the registry check (a real, unregistered enterprise and its exact name) learns
    # that a username is taken: the form is no oracle for which usernames exist.
    if username_taken(session, registration.username):
        raise Invalid({"username": [_l("该用户名已被使用，请换一个。")]})
    enterprise.contact_name = registration.contact_name.strip()
    enterprise.contact_phone = registration.contact_phone.strip()
    enterprise.contact_email = registration.contact_email or None
    enterprise.registered_at = now
    session.add(user)
    session.flush()
    record(session, "enterprise_registered", actor_user_id=user.id, subject_uscc=uscc, remote_addr=remote_addr,
           detail={"username": user.username})
    return user


def _refusal(session: Session, enterprise: Enterprise | None, name: str) -> str | None:
    if enterprise is None:
        return "unknown_uscc"
    if _comparable_name(enterprise.name) != _comparable_name(name):
        return "name_mismatch"
    if enterprise.status is not EnterpriseStatus.OPERATING:
        return "not_operating"
    has_account = session.scalar(sa.select(User.id).where(User.enterprise_uscc == enterprise.uscc).limit(1))
    if enterprise.registered_at is not None or has_account is not None:
        return "already_registered"
    return None


def invite_staff(session: Session, admin: User, *, display_name: str, username: str, email: str | None = None,
                 phone: str | None = None) -> tuple[User, str]:
    """A colleague's account with a one-time password they must change at first login; only the
    enterprise's administrator may invite. Returns (user, the temporary password, shown once)."""
    if not admin.is_tenant_admin:
        raise Refused(_l("只有企业管理员可以添加员工账户。"))
    if username_taken(session, username):
        raise Invalid({"username": [_l("该用户名已被使用，请换一个。")]})
    temporary = secrets.token_urlsafe(12)
    user = new_user(username=username.strip(), display_name=display_name.strip(), email=email or None,
                    phone=phone or None, role=Role.ENTERPRISE, enterprise_uscc=admin.enterprise_uscc,
                    password=temporary, must_change_password=True)
    session.add(user)
    session.flush()
    record(session, "staff_invited", actor_user_id=admin.id, subject_uscc=admin.enterprise_uscc,
           detail={"user_id": user.id, "username": user.username})
    return user, temporary


def deactivate_staff(session: Session, admin: User, user_id: int) -> User:
    if not admin.is_tenant_admin:
        raise Refused(_l("只有企业管理员可以停用员工账户。"))
    user = by_id(session, User, user_id)
    if user is None or user.enterprise_uscc != admin.enterprise_uscc:
        raise NotFound(f"user {user_id}")
    return deactivate(session, admin, user, "staff_deactivated", subject_uscc=admin.enterprise_uscc)


def deactivate(session: Session, actor: User, user: User, action: str, *, subject_uscc: str | None, **detail) -> User:
    """Ends `user`'s logins and sessions (the session check reads is_active); the row and its history stay.
    Nobody deactivates their own account. Audited as `action` when it changes something."""
    if user.id == actor.id:
        raise Refused(_l("不能停用您自己的账户。"))
    if user.is_active:
        user.is_active = False
        record(session, action, actor_user_id=actor.id, subject_uscc=subject_uscc,
               detail={"user_id": user.id, "username": user.username, **detail})
    return user


# ---------------------------------------------------------------- data authorization (授权)

@dataclass(frozen=True)
class Grant:
    sources: list[str]
    all_banks: bool
    bank_ids: list[int]
    expires_on: date | None
    guarantor_ids: list[int] = field(default_factory=list)  # guarantee institutions named (never by all_banks)


def end_of_day(day: date) -> datetime:
    """The authorization runs until the end of the chosen day in Shanghai."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


def grant_authorization(session: Session, user: User, grant: Grant, *, now: datetime | None = None) -> Authorization:
    """Let banks see the chosen sources until the chosen day. Raises Invalid; nothing is saved then."""
    now = now or utcnow()
    errors: dict[str, list] = {}
    known = {source.value for source in Source}
    if not grant.sources or not set(grant.sources) <= known:
        errors["sources"] = [_l("请至少选择一项数据来源。")]
    banks = []
    from models.guarantee import Guarantor

    wanted_guarantors = {i for i in grant.guarantor_ids if 0 < i <= MAX_INT}
    guarantors = list(session.scalars(sa.select(Guarantor).where(Guarantor.id.in_(wanted_guarantors),
                                                                 Guarantor.is_active.is_(True)))) if wanted_guarantors else []
    if len(guarantors) != len(set(grant.guarantor_ids)):
        errors["guarantor_ids"] = [_l("请选择平台上的担保机构。")]
    if not grant.all_banks:
        wanted = {i for i in grant.bank_ids if 0 < i <= MAX_INT}
        banks = list(session.scalars(sa.select(Bank).where(Bank.id.in_(wanted), Bank.is_active.is_(True)))) if wanted else []
        if len(banks) != len(set(grant.bank_ids)) or not (banks or guarantors):
            errors["bank_ids"] = [_l("请选择至少一家参与银行，或选择“所有参与银行”。")]
    today = shanghai_today(now)
    if grant.expires_on is None or not today < grant.expires_on <= today + timedelta(days=MAX_AUTHORIZATION_DAYS):
        errors["expires_on"] = [_l("有效期须在明天到一年之内。")]
    if errors:
        raise Invalid(errors)
    authorization = Authorization(uscc=user.enterprise_uscc, sources=sorted(set(grant.sources)),
                                  all_banks=grant.all_banks, granted_by_id=user.id, granted_at=now,
                                  expires_at=end_of_day(grant.expires_on))
    authorization.banks = banks
    authorization.guarantors = guarantors
    session.add(authorization)
    session.flush()
    in_principle.refresh_enterprises(session, [authorization.uscc])  # policies may now score (预授信)
    record(session, "authorization_granted", actor_user_id=user.id, subject_uscc=user.enterprise_uscc,
           authorization_id=authorization.id,
           detail={"sources": authorization.sources, "all_banks": authorization.all_banks,
                   "bank_ids": sorted(b.id for b in banks), "guarantor_ids": sorted(g.id for g in guarantors),
                   "expires_at": authorization.expires_at.isoformat()})
    return authorization


def own_authorization(session: Session, user: User, authorization_id: int) -> Authorization:
    authorization = by_id(session, Authorization, authorization_id)
    if authorization is None or authorization.uscc != user.enterprise_uscc:
        raise NotFound(f"authorization {authorization_id}")
    return authorization


def revoke_authorization(session: Session, user: User, authorization_id: int, *,
                         now: datetime | None = None) -> Authorization:
    """End an authorization at once; it is kept (with who revoked it and when), never deleted."""
    now = now or utcnow()
    authorization = own_authorization(session, user, authorization_id)
    if authorization.revoked_at is not None or authorization.expires_at <= now:
        raise Refused(_l("该授权已撤销或已到期，无需再撤销。"))
    authorization.revoked_at, authorization.revoked_by_id = now, user.id
    session.flush()
    in_principle.refresh_enterprises(session, [authorization.uscc])  # answers resting on it are withdrawn
    record(session, "authorization_revoked", actor_user_id=user.id, subject_uscc=user.enterprise_uscc,
           authorization_id=authorization.id)
    return authorization


# ---------------------------------------------------------------- financing needs

def own_need(session: Session, user: User, need_id: int, *, lock: bool = False) -> FinancingNeed:
    need = by_id(session, FinancingNeed, need_id, with_for_update=lock)
    if need is None or need.uscc != user.enterprise_uscc:
        raise NotFound(f"need {need_id}")
    return need


_WINDOW_WORDS = {"second": _l("%(count)d 秒"), "minute": _l("%(count)d 分钟"), "hour": _l("%(count)d 小时"),
                 "day": _l("%(count)d 天"), "month": _l("%(count)d 个月"), "year": _l("%(count)d 年")}


class _LocalTime:
    """A moment in the display time zone, worded when shown."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def __str__(self) -> str:
        from xinyidai.moments import local_time

        return local_time(self.moment)


class _WindowText:
    """A window's length worded in the language of the moment it is shown ("1 小时" / "1 hour")."""

    def __init__(self, granularity: str, count: int):
        self.granularity, self.count = granularity, count

    def __str__(self) -> str:
        return str(_WINDOW_WORDS[self.granularity]) % {"count": self.count}


class PublishingPaused(Refused):
    """An enterprise published as many needs as its limit allows in a window; `retry_at` says when it may again."""

    def __init__(self, count: int, window: _WindowText, retry_at: datetime):
        self.retry_at = retry_at
        super().__init__(_l("本企业在最近 %(window)s内已发布 %(count)d 条融资需求，已达上限；请于 %(time)s 之后再发布。"
                            "您填写的内容仍在下方。", window=window, count=count, time=_LocalTime(retry_at)))


def check_publishing_limit(session: Session, uscc: str, limit: str | None, *, now: datetime | None = None) -> None:
    """PublishingPaused when the enterprise already published `limit` needs (``"5/hour;20/day"``, the rate-limit
    syntax) in a window. Counted from the needs themselves — withdrawn ones too, since each reached banks'
    pipelines — so every worker and host sees the same count; the enterprise's row is locked first, so two
    publications at once are counted one after the other."""
    if not limit:
        return
    from limits import parse_many

    now = now or utcnow()
    session.execute(sa.select(Enterprise.uscc).where(Enterprise.uscc == uscc).with_for_update())
    for item in parse_many(limit):
        since = now - timedelta(seconds=item.get_expiry())
        in_window = sa.select(FinancingNeed.published_at).where(FinancingNeed.uscc == uscc,
                                                                FinancingNeed.published_at > since)
        count = session.scalar(sa.select(sa.func.count()).select_from(in_window.subquery()))
        if count >= item.amount:
            oldest = session.scalar(in_window.order_by(FinancingNeed.published_at).limit(1))
            raise PublishingPaused(count, _WindowText(item.GRANULARITY.name, item.multiples),
                                   oldest + timedelta(seconds=item.get_expiry()))


def publish_need(session: Session, user: User, data: dict, *, today: date | None = None,
                 limit: str | None = None) -> tuple[FinancingNeed, list[Fit]]:
    """Publish a need and match it at once. `data` is checked by NeedSchema (raises Invalid); `limit`: how many
    needs the enterprise may publish per window (`check_publishing_limit`; raises PublishingPaused)."""
    from xinyidai.domain.need_schema import load_need

    values = load_need(data)
    check_publishing_limit(session, user.enterprise_uscc, limit)
    need = FinancingNeed(uscc=user.enterprise_uscc, published_by_id=user.id, **values)
    session.add(need)
    session.flush()
    record(session, "need_published", actor_user_id=user.id, subject_uscc=need.uscc, detail={"need_id": need.id})
    upstream.need_changed(session, need, "need.published")
    return need, offer_need(session, need, user, today=today)


def update_need(session: Session, user: User, need: FinancingNeed, data: dict, *,
                today: date | None = None) -> list[Fit]:
    """Edit a need while no bank has claimed it; the matches follow the new terms."""
    from xinyidai.domain.need_schema import load_need

    if need.status is not NeedStatus.OPEN:
        raise Refused(_l("银行已受理或需求已结束，不能再修改；如需变更，请撤回后重新发布。"))
    values = load_need(data)
    changed = sorted(k for k, v in values.items() if getattr(need, k) != v)
    for key in changed:
        setattr(need, key, values[key])
    need.updated_at = utcnow()
    if changed:
        record(session, "need_updated", actor_user_id=user.id, subject_uscc=need.uscc,
               detail={"need_id": need.id, "fields": changed})
        upstream.need_changed(session, need, "need.updated")
    return offer_need(session, need, user, today=today)


def withdraw_need(session: Session, user: User, need: FinancingNeed) -> FinancingNeed:
    """Withdraw at any time before the loan is made: every application still in progress is withdrawn too."""
    if need.status in (NeedStatus.CLOSED, NeedStatus.WITHDRAWN):
        raise Refused(_l("该需求已结束，不能撤回。"))
    for application in _applications(session, need):
        if application.state is S.MATCHED or application.state in HOLDS_CLAIM:
            transition(session, application, S.WITHDRAWN, _actor(user), by_enterprise=True,
                       detail={"reason": "need_withdrawn"})
    need.status = NeedStatus.WITHDRAWN
    need.updated_at = utcnow()
    in_principle.refresh_need(session, need)  # its in-principle answers go with it
    record(session, "need_withdrawn", actor_user_id=user.id, subject_uscc=need.uscc, detail={"need_id": need.id})
    upstream.need_changed(session, need, "need.withdrawn")
    return need


def set_contact_control(session: Session, user: User, need: FinancingNeed, *, open_to_all_banks: bool,
                        max_contacts: int | None, today: date | None = None) -> list[Fit]:
    """How many banks, and which, may have the need in their pipeline (and so contact the enterprise)."""
    if need.status not in (NeedStatus.OPEN, NeedStatus.CLAIMED):
        raise Refused(_l("该需求已结束，不能再修改联系设置。"))
    if max_contacts is not None and not 1 <= max_contacts <= 20:
        raise Invalid({"max_contacts": [_l("联系银行数须在 1 到 20 家之间，或留空表示不限。")]})
    before = (need.open_to_all_banks, need.max_contacts)
    need.open_to_all_banks, need.max_contacts = open_to_all_banks, max_contacts
    if before != (open_to_all_banks, max_contacts):
        record(session, "need_contacts_set", actor_user_id=user.id, subject_uscc=need.uscc,
               detail={"need_id": need.id, "open_to_all_banks": open_to_all_banks, "max_contacts": max_contacts})
    return offer_need(session, need, user, today=today)


def _applications(session: Session, need: FinancingNeed) -> list[Application]:
    return list(session.scalars(sa.select(Application).where(Application.need_id == need.id).order_by(Application.id)))


def offer_need(session: Session, need: FinancingNeed, user: User, *, today: date | None = None) -> list[Fit]:
    """Match the need (DESIGN §5) and put it in the pipeline of the banks the enterprise allows.

    The matching engine's `rematch` holds the rules (open to all or only the products applied to, at most
    `max_contacts` banks, matches a bank already viewed or acted on kept first and never deleted); a match the
    enterprise's change takes away is withdrawn in the enterprise's name.
    """
    return refresh_matches(session, need, today, actor=_actor(user), by_enterprise=True)


def apply_to_product(session: Session, user: User, need: FinancingNeed, product_id: int, *,
                     today: date | None = None) -> Application:
    """The enterprise asks one product's bank to handle the need (it must fit, and fit the contact limit)."""
    if need.status is not NeedStatus.OPEN:
        raise Refused(_l("只有对接中的需求可以申请产品。"))
    product = by_id(session, Product, product_id)
    if product is None or not product.bank.is_active:
        raise NotFound(f"product {product_id}")
    fit = assess(need, session.get(Enterprise, need.uscc), product, standing_of(session, need.uscc),
                 today or shanghai_today())
    if not fit.eligible:
        raise Refused(_l("该产品与需求不匹配，不能申请。"))
    existing = session.scalar(sa.select(Application).where(Application.need_id == need.id,
                                                           Application.product_id == product.id))
    if existing is not None and existing.state is not S.MATCHED:
        raise Refused(_l("该产品的申请已在办理中或已结束，不能重复申请。"))
    if existing is None and need.max_contacts:
        banks = set(session.scalars(sa.select(Application.bank_id).where(
            Application.need_id == need.id, Application.state.not_in(list(TERMINAL)))))
        if product.bank_id not in banks and len(banks) >= need.max_contacts:
            raise Refused(_l("已达到您设定的可联系银行数上限；请先调整联系设置。"))
    if existing is None:
        existing = Application(need_id=need.id, product_id=product.id, bank_id=product.bank_id, uscc=need.uscc,
                               match_rank=fit.rank)
        session.add(existing)
    existing.applied_by_enterprise = True
    session.flush()
    record(session, "enterprise_applied", actor_user_id=user.id, subject_uscc=need.uscc,
           detail={"need_id": need.id, "application_id": existing.id, "product_id": product.id})
    return existing


def own_application(session: Session, user: User, application_id: int, *, lock: bool = False) -> Application:
    if not 0 < application_id <= MAX_INT:
        application = None
    else:  # locked like every other writer: the need first, then the application (no deadlock with a bank)
        application = locked_application(session, application_id) if lock else session.get(Application, application_id)
    if application is None or application.uscc != user.enterprise_uscc:
        raise NotFound(f"application {application_id}")
    return application


def withdraw_application(session: Session, user: User, application: Application) -> ApplicationEvent:
    """Raises IllegalTransition (with zh/en wording) when the application is past approval or over."""
    return transition(session, application, S.WITHDRAWN, _actor(user), by_enterprise=True,
                      detail={"reason": "withdrawn_by_enterprise"})


# ---------------------------------------------------------------- commitments, self-reports, notifications

def make_commitment(session: Session, user: User, text: str) -> CreditCommitment:
    text = (text or "").strip()
    if not 10 <= len(text) <= 2000:
        raise Invalid({"text": [_l("承诺内容须在 10 到 2000 个字之间。")]})
    commitment = CreditCommitment(uscc=user.enterprise_uscc, text=text, made_by_id=user.id)
    session.add(commitment)
    session.flush()
    record(session, "credit_commitment_made", actor_user_id=user.id, subject_uscc=user.enterprise_uscc,
           detail={"commitment_id": commitment.id})
    return commitment


def withdraw_commitment(session: Session, user: User, commitment_id: int) -> CreditCommitment:
    commitment = by_id(session, CreditCommitment, commitment_id)
    if commitment is None or commitment.uscc != user.enterprise_uscc:
        raise NotFound(f"commitment {commitment_id}")
    if commitment.withdrawn_at is not None:
        raise Refused(_l("该承诺已撤回。"))
    commitment.withdrawn_at = utcnow()
    record(session, "credit_commitment_withdrawn", actor_user_id=user.id, subject_uscc=user.enterprise_uscc,
           detail={"commitment_id": commitment.id})
    return commitment


def add_self_report(session: Session, user: User, *, topic: str, period: str | None, value: str) -> SelfReport:
    from xinyidai.domain.vocabulary import SELF_REPORT_TOPICS

    errors: dict[str, list] = {}
    if topic not in SELF_REPORT_TOPICS:
        errors["topic"] = [_l("请选择填报内容。")]
    period = (period or "").strip() or None
    if period is not None and not re.fullmatch(r"\d{4}(-(0[1-9]|1[0-2]))?", period):
        errors["period"] = [_l("期间请写成 2025 或 2025-06 的形式。")]
    value = (value or "").strip()
    if not 1 <= len(value) <= 500:
        errors["value"] = [_l("请填写内容（不超过 500 字）。")]
    if errors:
        raise Invalid(errors)
    report = SelfReport(uscc=user.enterprise_uscc, topic=topic, period=period, value=value, reported_by_id=user.id)
    session.add(report)
    session.flush()
    record(session, "self_report_added", actor_user_id=user.id, subject_uscc=user.enterprise_uscc,
           detail={"self_report_id": report.id, "topic": topic})
    return report
