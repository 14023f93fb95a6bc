"""The application state machine of DESIGN §6, enforced in this one place for every channel.

matched → claimed (受理) → approved | declined(reason) → disbursed → repaying → repaid | overdue → defaulted,
plus withdrawn by the enterprise before disbursement, and matched → approved in one step when the bank
confirms its own live in-principle approval (预授信, xinyidai.domain.in_principle; it claims the need too).

The guarantee step (银担合作, DESIGN §13) for a product that requires a platform guarantor: claimed →
guarantee_requested (the bank names one of a guarantor's guarantee products) → guaranteed (the guarantor
accepts, its fee and coverage recorded) → approved; a guarantor that declines (with a reason) sends the
application back to claimed, where the bank may ask another guarantor or decline. Such a product is never
approved without an accepted guarantee. The guarantee records are kept by xinyidai.domain.guarantees.

Every transition is an ApplicationEvent with who,
when and through which channel; an illegal one raises IllegalTransition (HTTP 409); a repeated report
with the same idempotency key is a no-op that returns the first event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import SHANGHAI, utcnow
from models.lending import (
    Application,
    ApplicationEvent,
    ApplicationState,
    Channel,
    FinancingNeed,
    GuaranteeType,
    NeedStatus,
)
from xinyidai.domain import upstream

S = ApplicationState

# Who may move an application from a state to another.
BANK_MOVES: dict[ApplicationState, frozenset[ApplicationState]] = {
    S.MATCHED: frozenset({S.CLAIMED, S.APPROVED}),  # approved: only on a live in-principle approval
    S.CLAIMED: frozenset({S.APPROVED, S.DECLINED, S.GUARANTEE_REQUESTED}),
    S.GUARANTEE_REQUESTED: frozenset({S.DECLINED}),
    S.GUARANTEED: frozenset({S.APPROVED, S.DECLINED}),
    S.APPROVED: frozenset({S.DISBURSED, S.DECLINED}),
    S.DISBURSED: frozenset({S.REPAYING, S.OVERDUE, S.REPAID}),
    S.REPAYING: frozenset({S.OVERDUE, S.REPAID}),
    S.OVERDUE: frozenset({S.REPAYING, S.REPAID, S.DEFAULTED}),
}
ENTERPRISE_MOVES: dict[ApplicationState, frozenset[ApplicationState]] = {
    S.MATCHED: frozenset({S.WITHDRAWN}),
    S.CLAIMED: frozenset({S.WITHDRAWN}),
    S.GUARANTEE_REQUESTED: frozenset({S.WITHDRAWN}),
    S.GUARANTEED: frozenset({S.WITHDRAWN}),
    S.APPROVED: frozenset({S.WITHDRAWN}),
}
# The guarantor asked for a guarantee accepts it (guaranteed) or declines it (back to the bank's claim).
GUARANTOR_MOVES: dict[ApplicationState, frozenset[ApplicationState]] = {
    S.GUARANTEE_REQUESTED: frozenset({S.GUARANTEED, S.CLAIMED}),
}
# The platform (Channel.SYSTEM) records what banks report through it (imports, demo data) and may also take
# back a match nobody has claimed: when the enterprise's contact control no longer offers it, or when the
# bank let the claim SLA lapse (xinyidai.domain.sla).
SYSTEM_MOVES: dict[ApplicationState, frozenset[ApplicationState]] = {
    **BANK_MOVES, S.MATCHED: BANK_MOVES[S.MATCHED] | {S.WITHDRAWN},
}
TERMINAL = frozenset({S.DECLINED, S.WITHDRAWN, S.REPAID, S.DEFAULTED})
# The states in which the bank holds the enterprise's need (claimed, not yet disbursed).
HOLDS_CLAIM = frozenset({S.CLAIMED, S.GUARANTEE_REQUESTED, S.GUARANTEED, S.APPROVED})
# In progress with the bank: claimed and after, until the loan ends.
IN_PROGRESS = HOLDS_CLAIM | {S.DISBURSED, S.REPAYING, S.OVERDUE}

DECLINE_REASONS: dict[str, tuple[str, str]] = {
    "insufficient_cash_flow": ("经营现金流不足", "insufficient operating cash flow"),
    "credit_record": ("信用记录不符合要求", "credit record does not meet requirements"),
    "insufficient_guarantee": ("担保或抵押不足", "insufficient guarantee or collateral"),
    "outside_policy": ("不符合产品或授信政策", "outside product or credit policy"),
    "incomplete_information": ("资料不完整", "incomplete information"),
    "enterprise_unreachable": ("无法联系企业", "enterprise could not be reached"),
    "enterprise_declined_offer": ("企业放弃", "enterprise turned down the offer"),
    "other": ("其他原因", "other reason"),
}

# A code that says nothing by itself: the enterprise must be told the reason in words.
REASONS_NEEDING_TEXT = frozenset({"other"})


class IllegalTransition(Exception):
    """The move is not allowed from the application's current state (HTTP 409). str() is Chinese."""

    def __init__(self, zh: str, en: str):
        super().__init__(zh)
        self.zh, self.en = zh, en


class IdempotencyConflict(IllegalTransition):
    """The idempotency key was already used for a different report."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (web, CSV) or a bank API token, and through which channel."""

    channel: Channel
    user_id: int | None = None
    token_id: int | None = None


@dataclass(frozen=True)
class Disbursement:
    amount_fen: int
    rate_bp: int
    term_months: int
    disbursed_on: date
    guarantee_type: GuaranteeType


def locked_application(session: Session, application_id: int) -> Application | None:
    """The application with its row locked for the transaction (PostgreSQL), so two reports of the
    same outcome, or two officers, serialise instead of both applying.

    Its need is locked first: every writer takes the need before its applications (an enterprise editing
    or withdrawing a need locks the need, then changes the applications), so a claim racing an edit waits
    for it instead of deadlocking with it.
    """
    need_id = session.scalar(sa.select(Application.need_id).where(Application.id == application_id))
    if need_id is None:
        return None
    session.get(FinancingNeed, need_id, with_for_update=True)
    return session.get(Application, application_id, with_for_update=True, populate_existing=True)


def transition(
    session: Session,
    application: Application,
    to_state: ApplicationState,
    actor: Actor,
    *,
    by_enterprise: bool = False,
    by_guarantor: bool = False,
    idempotency_key: str | None = None,
    detail: dict | None = None,
) -> ApplicationEvent:
    """Move `application` to `to_state` or raise IllegalTransition. Does not commit.

    `detail` carries what the move needs: `reason_code` (and `reason_text`) to decline, `disbursement`
    (a Disbursement) to disburse, `days_past_due` for overdue or defaulted; for the guarantee step
    `guarantee_product_id` to ask for a guarantee, and the guarantor's `guarantor_id` with `fee_rate_bp` and
    `coverage_bp` to accept or `reason_code` (and `reason_text`) to decline (`by_guarantor`).
    """
    detail = _normalised(detail or {})
    if idempotency_key:
        earlier = session.scalar(
            sa.select(ApplicationEvent).where(
                ApplicationEvent.application_id == application.id,
                ApplicationEvent.idempotency_key == idempotency_key,
            )
        )
        if earlier is not None:
            if earlier.to_state != to_state or (earlier.detail or {}) != detail:
                raise IdempotencyConflict(
                    "该幂等键已用于另一份不同的报送", "this idempotency key was already used for a different report"
                )
            return earlier
    moves = (ENTERPRISE_MOVES if by_enterprise else GUARANTOR_MOVES if by_guarantor
             else SYSTEM_MOVES if actor.channel is Channel.SYSTEM else BANK_MOVES)
    allowed = moves.get(application.state, frozenset())
    if to_state not in allowed:
        raise IllegalTransition(*_why_not(application.state, to_state, by_enterprise, by_guarantor))
    from_state = application.state
    _apply_effects(session, application, from_state, to_state, actor, detail)
    application.state = to_state
    application.updated_at = utcnow()
    event = ApplicationEvent(
        application_id=application.id,
        from_state=from_state,
        to_state=to_state,
        channel=actor.channel,
        actor_user_id=actor.user_id,
        actor_token_id=actor.token_id,
        idempotency_key=idempotency_key,
        detail=detail,
    )
    session.add(event)
    session.flush()
    upstream.application_moved(session, application, event, by_enterprise=by_enterprise)
    return event


def _why_not(current: ApplicationState, wanted: ApplicationState, by_enterprise: bool,
             by_guarantor: bool = False) -> tuple[str, str]:
    if current in TERMINAL:
        return (f"申请已处于终止状态“{current.value}”，不能再变更", f"the application is already {current.value}; it cannot change")
    if by_guarantor:
        return (f"担保机构只能对等待担保答复的申请作出答复（当前为“{current.value}”）",
                f"a guarantor can only answer an application waiting for its guarantee (it is {current.value})")
    if by_enterprise:
        return (f"企业不能把申请从“{current.value}”改为“{wanted.value}”",
                f"an enterprise cannot move an application from {current.value} to {wanted.value}")
    return (f"不能把申请从“{current.value}”改为“{wanted.value}”",
            f"an application cannot move from {current.value} to {wanted.value}")


def _apply_effects(session, application: Application, from_state, to_state, actor: Actor, detail: dict) -> None:
    from xinyidai.domain import guarantees

    now = utcnow()
    holds_claim = from_state in HOLDS_CLAIM
    need = session.get(FinancingNeed, application.need_id, with_for_update=True)
    if from_state is S.GUARANTEE_REQUESTED:
        # the open guarantee is answered (accepted, declined) or ends with the application
        guarantees.guarantee_step_left(session, application, to_state, actor, detail)
    if to_state is S.GUARANTEE_REQUESTED:
        guarantees.guarantee_requested(session, application, actor, detail)
    elif to_state is S.CLAIMED and from_state is S.GUARANTEE_REQUESTED:
        pass  # declined by the guarantor: the bank keeps its claim and may ask another guarantor or decline
    elif to_state is S.GUARANTEED:
        pass  # the fee and coverage were recorded with the accepted guarantee
    elif to_state is S.CLAIMED:
        if need.status is not NeedStatus.OPEN:
            raise IllegalTransition("该需求已被其他银行受理或已关闭", "the need has been claimed by another bank or is closed")
        need.status = NeedStatus.CLAIMED
        application.claimed_at, application.claimed_by_id = now, actor.user_id
    elif to_state is S.DECLINED:
        code = detail.get("reason_code")
        if code not in DECLINE_REASONS:
            raise IllegalTransition("拒绝时必须给出有效的原因代码", f"a decline needs a reason code, one of: {', '.join(DECLINE_REASONS)}")
        if code in REASONS_NEEDING_TEXT and actor.channel is not Channel.SYSTEM and not (detail.get("reason_text") or "").strip():
            raise IllegalTransition("选择“其他原因”时须写明具体原因", "a decline for “other reason” needs the reason in words")
        application.decline_reason_code, application.decline_reason_text = code, detail.get("reason_text")
        application.decided_at = now
        if holds_claim:
            _release_need(need)
    elif to_state is S.APPROVED:
        if from_state is not S.GUARANTEED and guarantees.guarantee_required(application):
            raise IllegalTransition("该产品须经平台担保机构同意担保后才能审批，请先申请担保",
                                    "this product needs a guarantee accepted by a platform guarantor before it is "
                                    "approved: request the guarantee first")
        if from_state is S.MATCHED:
            answer = _check_in_principle(session, application, detail)
            if need.status is not NeedStatus.OPEN:
                raise IllegalTransition("该需求已被其他银行受理或已关闭", "the need has been claimed by another bank or is closed")
            need.status = NeedStatus.CLAIMED
            application.claimed_at, application.claimed_by_id = now, actor.user_id
            # the approved offer: what the enterprise asked for, up to the pre-approved amount, at its rate
            application.approved_amount_fen = min(need.amount_fen, answer.amount_fen)
            application.approved_term_months, application.approved_rate_bp = need.term_months, answer.rate_bp
        application.decided_at = now
        # The terms approved (when the bank gives them): the offer the enterprise sees before the disbursement.
        # A confirmed in-principle approval keeps the terms of its answer (set above) unless others are given.
        if detail.get("approved_amount_fen") is not None:
            application.approved_amount_fen = detail["approved_amount_fen"]
            application.approved_term_months = detail.get("approved_term_months")
            application.approved_rate_bp = detail.get("approved_rate_bp")
    elif to_state is S.DISBURSED:
        if "amount_fen" not in detail:
            raise IllegalTransition("放款须报送金额、利率、期限、日期和担保方式",
                                    "a disbursement needs amount, rate, term, date and guarantee type")
        application.disbursed_amount_fen, application.rate_bp = detail["amount_fen"], detail["rate_bp"]
        application.term_months = detail["term_months"]
        application.disbursed_on = date.fromisoformat(detail["disbursed_on"])
        application.guarantee_type = GuaranteeType(detail["guarantee_type"])
        need.status = NeedStatus.CLOSED
        _mark_first_loan(session, application)
    elif to_state in (S.OVERDUE, S.DEFAULTED):
        application.days_past_due = int(detail.get("days_past_due", application.days_past_due))
    elif to_state in (S.REPAYING, S.REPAID):
        application.days_past_due = 0
    elif to_state is S.WITHDRAWN and holds_claim:
        _release_need(need)


def _check_in_principle(session: Session, application: Application, detail: dict):
    """A match is approved without a claim only on the bank's own live, unexpired in-principle approval."""
    from models.joint import InPrincipleAnswer

    answer_id = detail.get("in_principle_answer_id")
    if answer_id is None:  # a plain approval of an unclaimed match stays what it always was: not a move
        raise IllegalTransition(*_why_not(S.MATCHED, S.APPROVED, False))
    answer = session.get(InPrincipleAnswer, answer_id) if isinstance(answer_id, int) else None
    if (answer is None or answer.application_id != application.id or answer.status != "live" or not answer.approved
            or answer.expires_on < utcnow().astimezone(SHANGHAI).date()):
        raise IllegalTransition("只有仍有效的预授信才能直接审批；请先受理这笔申请",
                                "only a live in-principle approval can be approved directly; claim the application first")
    return answer


def _mark_first_loan(session: Session, application: Application) -> None:
    """首贷户: the enterprise's earliest loan made through the platform is its first loan, whichever channel
    reported it. A loan reported late but disbursed earlier takes the mark from the one that had it."""
    earlier = session.scalars(
        sa.select(Application).where(Application.uscc == application.uscc, Application.id != application.id,
                                     Application.disbursed_on.is_not(None))
    ).all()
    own_key = (application.disbursed_on, application.id)
    application.first_loan = all((other.disbursed_on, other.id) > own_key for other in earlier)
    if application.first_loan:
        for other in earlier:
            other.first_loan = False


def _release_need(need: FinancingNeed) -> None:
    """A need a bank let go of is open again to the other matching banks (the "second chance")."""
    if need.status is NeedStatus.CLAIMED:
        need.status = NeedStatus.OPEN


def _normalised(detail: dict) -> dict:
    """The detail as stored on the event (JSON values), so a retried report compares equal."""
    plain = {k: v for k, v in detail.items() if k != "disbursement" and v is not None}
    loan: Disbursement | None = detail.get("disbursement")
    if loan is not None:
        plain.update(amount_fen=loan.amount_fen, rate_bp=loan.rate_bp, term_months=loan.term_months,
                     disbursed_on=loan.disbursed_on.isoformat(), guarantee_type=GuaranteeType(loan.guarantee_type).value)
    return {k: (v.value if hasattr(v, "value") else v) for k, v in plain.items()}
