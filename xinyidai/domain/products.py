"""What a bank does, for every channel (web, API, CSV): the rules live here, views only parse and render.

Nothing here commits: the caller commits the unit of work (or rolls it back on an error).
Every state change goes through `xinyidai.domain.lifecycle.transition`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from models.audit import AuditEntry
from models.enterprise import Enterprise
from models.identity import Role, User
from models.lending import (
    Application,
    ApplicationEvent,
    ApplicationState,
    Channel,
    FinancingNeed,
    LoanPerformance,
    LoanStatus,
    NeedStatus,
    Product,
    ProductStatus,
)
from xinyidai.audit import record
from xinyidai.database import MAX_INT, by_id
from xinyidai.domain import inputs
from xinyidai.domain.bank_schemas import ProductSchema
from xinyidai.domain.errors import Invalid, NotFound
from xinyidai.domain.lifecycle import (
    HOLDS_CLAIM,
    TERMINAL,
    Actor,
    Disbursement,
    IdempotencyConflict,
    IllegalTransition,
    locked_application,
    transition,
)
from xinyidai.domain.matching import assess, turned_away_banks, within_contact_control
from xinyidai.domain.qualifications import held_for_needs
from xinyidai.domain.standing import standing_of
from xinyidai.i18n import N_

S = ApplicationState


def _actor_fields(actor: Actor) -> dict:
    return {"actor_user_id": actor.user_id, "actor_token_id": actor.token_id}


# ---------------------------------------------------------------- scoped look-ups

def bank_product(session: Session, bank_id: int, product_id: int) -> Product:
    """The bank's own product, or NotFound (also for another bank's product)."""
    product = by_id(session, Product, product_id)
    if product is None or product.bank_id != bank_id:
        raise NotFound(f"product {product_id}")
    return product


def bank_application(session: Session, bank_id: int, application_id: int, *, lock: bool = False) -> Application:
    """The bank's own application (row-locked when `lock`), or NotFound (also for another bank's)."""
    if not 0 < application_id <= MAX_INT:
        raise NotFound(f"application {application_id}")
    application = (locked_application(session, application_id) if lock
                   else session.get(Application, application_id))
    if application is None or application.bank_id != bank_id:
        raise NotFound(f"application {application_id}")
    return application


# ---------------------------------------------------------------- products

def _load_product(data: dict, *, partial: bool) -> dict:
    try:
        return ProductSchema().load(data, partial=partial)
    except ValidationError as error:
        raise Invalid({k: v if isinstance(v, list) else [str(v)] for k, v in error.messages.items()}) from error


def _body_hash(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _product_for_key(session: Session, bank_id: int, key: str, body_hash: str) -> Product | None:
    """The product an earlier create with this idempotency key made, so a retried POST creates one product."""
    earlier = session.scalar(
        sa.select(AuditEntry).where(AuditEntry.action == "product_created",
                                    AuditEntry.detail["bank_id"].as_integer() == bank_id,
                                    AuditEntry.detail["idempotency_key"].as_string() == key)
    )
    if earlier is None:
        return None
    if earlier.detail.get("body_hash") != body_hash:
        raise IdempotencyConflict("该幂等键已用于另一份不同的报送", "this idempotency key was already used for a different request")
    return session.get(Product, earlier.detail["product_id"])


def create_product(session: Session, bank_id: int, data: dict, actor: Actor, *,
                   idempotency_key: str | None = None, today: date | None = None) -> Product:
    """List a new product and match it against the open needs. Raises Invalid (field → messages)."""
    values = _load_product(data, partial=False)
    body_hash = _body_hash(values)
    if idempotency_key and (earlier := _product_for_key(session, bank_id, idempotency_key, body_hash)):
        return earlier
    if session.scalar(sa.select(Product.id).where(Product.bank_id == bank_id, Product.code == values["code"])):
        raise Invalid({"code": [N_("本行已有相同代码的产品")]})
    _check_guarantor(session, values)
    product = Product(bank_id=bank_id, **values)
    session.add(product)
    session.flush()
    record(session, "product_created", **_actor_fields(actor),
           detail={"bank_id": bank_id, "product_id": product.id, "idempotency_key": idempotency_key,
                   "body_hash": body_hash, "channel": actor.channel.value})
    match_new_needs(session, product, today)
    return product


def update_product(session: Session, product: Product, data: dict, actor: Actor, *, today: date | None = None) -> Product:
    """Edit a product. Applications already in the pipeline keep what they were matched on: the edit only
    decides which needs match from now on. Pausing stops new matches; resuming looks for them again."""
    values = _load_product(data, partial=True)
    if "code" in values and values["code"] != product.code and session.scalar(
        sa.select(Product.id).where(Product.bank_id == product.bank_id, Product.code == values["code"])
    ):
        raise Invalid({"code": [N_("本行已有相同代码的产品")]})
    merged = {**{k: getattr(product, k) for k in ("min_amount_fen", "max_amount_fen", "min_term_months",
                                                  "max_term_months", "min_rate_bp", "max_rate_bp")}, **values}
    for low, high, message in (("min_amount_fen", "max_amount_fen", N_("金额下限不能高于上限")),
                               ("min_term_months", "max_term_months", N_("期限下限不能高于上限")),
                               ("min_rate_bp", "max_rate_bp", N_("利率下限不能高于上限"))):
        if merged[low] > merged[high]:
            raise Invalid({high: [message]})
    if "guarantor_id" in values or "guarantor_required" in values:
        _check_guarantor(session, {"guarantor_required": product.guarantor_required, "guarantor_id": product.guarantor_id,
                                   **values})
    changed = {k: v for k, v in values.items() if getattr(product, k) != v}
    for key, value in changed.items():
        setattr(product, key, value)
    if changed:
        session.flush()
        withdrawn = withdraw_untouched_matches(session, product, actor) if changed.get("status") == "paused" else 0
        record(session, "product_updated", **_actor_fields(actor),
               detail={"bank_id": product.bank_id, "product_id": product.id, "fields": sorted(changed),
                       "channel": actor.channel.value, **({"matches_withdrawn": withdrawn} if withdrawn else {})})
        match_new_needs(session, product, today)
    return product


def _check_guarantor(session: Session, values: dict) -> None:
    """A guarantor named by a product is an active platform guarantor, and naming one requires a guarantee."""
    from models.guarantee import Guarantor

    guarantor_id = values.get("guarantor_id")
    if guarantor_id is None:
        return
    guarantor = by_id(session, Guarantor, guarantor_id)
    if guarantor is None or not guarantor.is_active:
        raise Invalid({"guarantor_id": [N_("没有这家平台担保机构")]})
    if not values.get("guarantor_required"):
        raise Invalid({"guarantor_required": [N_("指定担保机构时须要求平台担保")]})


def withdraw_untouched_matches(session: Session, product: Product, actor: Actor) -> int:
    """A paused product takes back its matches nobody has claimed yet: they would sit in the pipeline of a
    product the bank no longer offers. The platform withdraws them (the enterprise is told why); claimed ones
    stay with the officer, who finishes or declines them."""
    untouched = session.scalars(sa.select(Application.id).where(
        Application.product_id == product.id, Application.state == S.MATCHED).order_by(Application.id)).all()
    platform = Actor(Channel.SYSTEM, user_id=actor.user_id, token_id=actor.token_id)
    for application_id in untouched:
        application = locked_application(session, application_id)
        if application.state is S.MATCHED:
            transition(session, application, S.WITHDRAWN, platform, detail={"reason": "product_paused"})
    return len(untouched)


def set_product_status(session: Session, product: Product, status: ProductStatus, actor: Actor) -> Product:
    return update_product(session, product, {"status": status.value}, actor)


def match_new_needs(session: Session, product: Product, today: date | None = None) -> int:
    """Create `matched` applications for open needs this product now fits and was not yet paired with.

    Uses the matching engine's own rules (`assess`) and honours each enterprise's contact control: only needs
    open to all banks, never a bank that was turned away from the need, and no more banks than the enterprise
    allows (a bank already in the need's pipeline may add a product). Existing applications are left as they are.
    """
    if product.status is not ProductStatus.ACTIVE or not product.bank.is_active:
        return 0
    today = today or date.today()
    paired = sa.select(Application.need_id).where(Application.product_id == product.id)
    rows = session.execute(
        sa.select(FinancingNeed, Enterprise)
        .join(Enterprise, Enterprise.uscc == FinancingNeed.uscc)
        .where(FinancingNeed.status == NeedStatus.OPEN, FinancingNeed.open_to_all_banks.is_(True),
               FinancingNeed.id.not_in(paired),
               FinancingNeed.amount_fen.between(product.min_amount_fen, product.max_amount_fen))
    ).all()
    need_ids = [need.id for need, _ in rows]
    live_banks: dict[int, set[int]] = {}
    for start in range(0, len(need_ids), 1000):  # bounded IN lists
        for need_id, bank_id in session.execute(
                sa.select(Application.need_id, Application.bank_id).where(
                    Application.need_id.in_(need_ids[start:start + 1000]), Application.state.not_in(list(TERMINAL)))):
            live_banks.setdefault(need_id, set()).add(bank_id)
    turned_away: dict[int, set[int]] = {}
    for start in range(0, len(need_ids), 1000):
        turned_away.update(turned_away_banks(session, need_ids[start:start + 1000], product.bank_id))
    created = 0
    held = held_for_needs(session, [need for need, _ in rows], today) if product.required_qualifications \
        or product.preferred_qualifications else {}
    for need, enterprise in rows:
        if not within_contact_control(need, product.bank_id, live_banks.get(need.id, set()),
                                      turned_away.get(need.id, set())):
            continue
        fit = assess(need, enterprise, product, standing_of(session, need.uscc), today,
                     held.get(need.id, frozenset()))
        if fit.eligible:
            session.add(Application(need_id=need.id, product_id=product.id, bank_id=product.bank_id,
                                    uscc=need.uscc, match_rank=fit.rank))
            live_banks.setdefault(need.id, set()).add(product.bank_id)
            created += 1
    session.flush()
    return created


# ---------------------------------------------------------------- decisions and outcomes

@dataclass(frozen=True)
class Approval:
    """The terms a bank approves: what the enterprise is offered before the loan is made."""

    amount_fen: int
    term_months: int
    rate_bp: int


@dataclass(frozen=True)
class OutcomeReport:
    """One decision or loan outcome, however it arrived (web form, API body, CSV row)."""

    outcome: ApplicationState
    reason_code: str | None = None
    reason_text: str | None = None
    disbursement: Disbursement | None = None
    days_past_due: int | None = None
    as_of: date | None = None
    outstanding_fen: int | None = None
    approval: Approval | None = None
    guarantee_product_id: int | None = None  # the guarantee asked for (银担合作: claimed → guarantee_requested)

    def transition_detail(self) -> dict:
        detail: dict = {}
        if self.outcome is S.GUARANTEE_REQUESTED:
            detail["guarantee_product_id"] = self.guarantee_product_id
        if self.outcome is S.APPROVED and self.approval is not None:
            detail.update(approved_amount_fen=self.approval.amount_fen, approved_term_months=self.approval.term_months,
                          approved_rate_bp=self.approval.rate_bp)
        if self.outcome is S.DECLINED:
            detail.update(reason_code=self.reason_code, reason_text=self.reason_text)
        if self.outcome is S.DISBURSED:
            detail["disbursement"] = self.disbursement
        if self.outcome in (S.OVERDUE, S.DEFAULTED):
            detail["days_past_due"] = self.days_past_due
        return detail


@dataclass(frozen=True)
class Applied:
    """What a report did: `repeated` when it had been applied before (an idempotent retry: nothing changed)."""

    application: Application
    repeated: bool
    event: ApplicationEvent | None = None


def _event_with_key(session: Session, application: Application, key: str | None) -> ApplicationEvent | None:
    if not key:
        return None
    return session.scalar(sa.select(ApplicationEvent).where(ApplicationEvent.application_id == application.id,
                                                            ApplicationEvent.idempotency_key == key))


def report_outcome(session: Session, application: Application, report: OutcomeReport, actor: Actor, *,
                   idempotency_key: str | None = None) -> Applied:
    """Apply a decision or outcome. Raises IllegalTransition (409) with a plain reason, IdempotencyConflict
    when the key was used for a different report, Invalid for a malformed performance row.

    A repayment report that restates the current state (a monthly "still repaying", "still overdue, now 60
    days") changes no state; it updates days past due and, with `as_of`, the month-end performance row.
    """
    earlier = _event_with_key(session, application, idempotency_key)
    if earlier is None:
        _dates_are_possible(application, report)
    same_state = report.outcome in (S.REPAYING, S.OVERDUE) and application.state is report.outcome
    if earlier is not None or not same_state:
        event = transition(session, application, report.outcome, actor, idempotency_key=idempotency_key,
                           detail=report.transition_detail())
        changed = earlier is None
    else:
        event, changed = None, False
        if report.outcome is S.OVERDUE and report.days_past_due and report.days_past_due != application.days_past_due:
            application.days_past_due, changed = report.days_past_due, True
    if report.as_of is not None:
        changed = _record_performance(session, application, report) or changed
    if changed and event is None:
        record(session, "loan_status_reported", **_actor_fields(actor), subject_uscc=application.uscc,
               detail={"application_id": application.id, "status": report.outcome.value,
                       "days_past_due": report.days_past_due, "channel": actor.channel.value})
    return Applied(application, repeated=not changed, event=event)


def _dates_are_possible(application: Application, report: OutcomeReport) -> None:
    """A reported date is not in the future (beyond a day's clock skew) and not before the event it follows:
    a disbursement not before the claim or approval, a month-end report not before the disbursement."""
    try:
        if report.disbursement is not None and report.outcome is S.DISBURSED:
            decided = application.decided_at or application.claimed_at
            inputs.reported_day(report.disbursement.disbursed_on, not_before=decided.date() if decided else None,
                                before_message=N_("放款日期早于受理或批准日期"))
    except inputs.InputError as error:
        raise Invalid({"disbursed_on": [error.message]}) from None
    try:
        if report.as_of is not None:
            inputs.reported_day(report.as_of)
    except inputs.InputError as error:
        raise Invalid({"as_of": [error.message]}) from None


def _record_performance(session: Session, application: Application, report: OutcomeReport) -> bool:
    """Upsert the month-end row on its natural key (application, as_of); True when it changed anything."""
    if application.disbursed_on is None:
        raise Invalid({"as_of": [N_("贷款尚未发放，不能报送月末状态")]})
    if report.as_of < application.disbursed_on:
        raise Invalid({"as_of": [N_("报送日期早于放款日期")]})
    values = {"outstanding_fen": report.outstanding_fen, "days_past_due": report.days_past_due or 0,
              "status": LoanStatus(report.outcome.value)}
    row = session.get(LoanPerformance, (application.id, report.as_of))
    if row is None:
        session.add(LoanPerformance(application_id=application.id, as_of=report.as_of, **values))
        session.flush()
        return True
    if all(getattr(row, k) == v for k, v in values.items()):
        return False
    for key, value in values.items():
        setattr(row, key, value)
    return True


def claim(session: Session, application: Application, actor: Actor, *, idempotency_key: str | None = None) -> Applied:
    """受理: the bank takes the need; no other bank can claim it while this claim stands."""
    return report_outcome(session, application, OutcomeReport(S.CLAIMED), actor, idempotency_key=idempotency_key)


def reassign(session: Session, application: Application, officer_id: int, actor: Actor) -> Application:
    """Hand a claimed application to another active officer of the same bank (audited, no state change)."""
    if application.state not in HOLDS_CLAIM:
        raise IllegalTransition(f"只有已受理或已批准的申请可以转交（当前为“{application.state.value}”）",
                                f"only a claimed or approved application can be reassigned (it is {application.state.value})")
    officer = by_id(session, User, officer_id)
    if officer is None or officer.role is not Role.BANK or officer.bank_id != application.bank_id or not officer.is_active:
        raise Invalid({"officer_id": [N_("不是本行的在职客户经理")]})
    if application.claimed_by_id != officer.id:
        previous = application.claimed_by_id
        application.claimed_by_id = officer.id
        record(session, "application_reassigned", **_actor_fields(actor), subject_uscc=application.uscc,
               detail={"application_id": application.id, "from_user_id": previous, "to_user_id": officer.id,
                       "channel": actor.channel.value})
    return application


def bank_officers(session: Session, bank_id: int) -> list[User]:
    return list(session.scalars(sa.select(User).where(User.role == Role.BANK, User.bank_id == bank_id,
                                                      User.is_active.is_(True)).order_by(User.display_name)))
