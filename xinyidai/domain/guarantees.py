"""银担合作 (DESIGN §13): what a guarantee institution does, for every channel, and the records of the lifecycle's
guarantee step.

The state moves themselves (claimed → guarantee_requested → guaranteed | back to claimed) are the one state
machine's (`xinyidai.domain.lifecycle.transition`); it calls back here to keep the `Guarantee` rows in step in
the same transaction. A guarantor sees an application only while it holds a guarantee row of it (it was asked);
another guarantor's looks exactly like a missing one. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.base import utcnow
from models.guarantee import Guarantee, GuaranteeProduct, GuaranteeProductStatus, GuaranteeStatus, Guarantor
from models.identity import Role, User
from models.lending import Application, ApplicationState, Channel
from xinyidai.audit import record
from xinyidai.database import MAX_INT, by_id
from xinyidai.domain.errors import Invalid, NotFound
from xinyidai.domain.lifecycle import Actor, IllegalTransition, locked_application, transition

S = ApplicationState

# Why a guarantor says no: code → (Chinese, English). The bank and the enterprise see the words.
DECLINE_REASONS: dict[str, tuple[str, str]] = {
    "outside_guarantee_policy": ("不符合担保准入条件", "outside the guarantee's eligibility rules"),
    "amount_above_limit": ("超出可担保额度", "amount above what the guarantor can guarantee"),
    "credit_record": ("信用记录不符合担保要求", "credit record does not meet the guarantee's requirements"),
    "insufficient_counter_guarantee": ("反担保措施不足", "insufficient counter-guarantee"),
    "incomplete_information": ("资料不完整", "incomplete information"),
    "other": ("其他原因", "other reason"),
}
REASONS_NEEDING_TEXT = frozenset({"other"})
MAX_FEE_BP = 3600  # the platform's ceiling for every fee (xinyidai.domain.inputs: fees above 36 % are refused)


# ---------------------------------------------------------------- look-ups

def active_guarantors(session: Session) -> list[Guarantor]:
    return list(session.scalars(sa.select(Guarantor).where(Guarantor.is_active.is_(True)).order_by(Guarantor.code)))


def guarantee_required(application: Application) -> bool:
    return bool(application.product and application.product.guarantor_required)


def open_guarantee(session: Session, application_id: int) -> Guarantee | None:
    """The guarantee still waiting for the guarantor's answer, if any (at most one at a time)."""
    return session.scalar(sa.select(Guarantee).where(Guarantee.application_id == application_id,
                                                     Guarantee.status == GuaranteeStatus.REQUESTED))


def guarantees_of(session: Session, application_id: int, guarantor_id: int | None = None) -> list[Guarantee]:
    """The application's guarantees, oldest first (a guarantor's own only, when `guarantor_id` is given)."""
    query = sa.select(Guarantee).where(Guarantee.application_id == application_id)
    if guarantor_id is not None:
        query = query.where(Guarantee.guarantor_id == guarantor_id)
    return list(session.scalars(query.order_by(Guarantee.requested_at, Guarantee.id)))


def guarantor_application(session: Session, guarantor_id: int, application_id: int, *,
                          lock: bool = False) -> Application:
    """An application this guarantor was asked to guarantee (row-locked when `lock`), or NotFound."""
    if not 0 < application_id <= MAX_INT:
        raise NotFound(f"application {application_id}")
    asked = session.scalar(sa.select(Guarantee.id).where(Guarantee.application_id == application_id,
                                                         Guarantee.guarantor_id == guarantor_id).limit(1))
    if asked is None:
        raise NotFound(f"application {application_id}")
    application = locked_application(session, application_id) if lock else session.get(Application, application_id)
    if application is None:
        raise NotFound(f"application {application_id}")
    return application


@dataclass(frozen=True)
class InboxRow:
    guarantee: Guarantee
    application: Application


def inbox(session: Session, guarantor_id: int, *, status: GuaranteeStatus | None = None,
          limit: int = 200) -> list[InboxRow]:
    """The guarantees asked of this guarantor, open ones first, newest first."""
    query = (sa.select(Guarantee, Application).join(Application, Application.id == Guarantee.application_id)
             .where(Guarantee.guarantor_id == guarantor_id))
    if status is not None:
        query = query.where(Guarantee.status == status)
    waiting = sa.case((Guarantee.status == GuaranteeStatus.REQUESTED, 0), else_=1)
    rows = session.execute(query.order_by(waiting, Guarantee.requested_at.desc(), Guarantee.id.desc()).limit(limit))
    return [InboxRow(g, a) for g, a in rows]


def offered_products(session: Session, application: Application) -> list[GuaranteeProduct]:
    """The guarantee products a bank may ask for this application: active ones of active guarantors (the one the
    bank's product names, if it names one) that guarantee a loan of the amount asked for."""
    product = application.product
    query = (sa.select(GuaranteeProduct).join(Guarantor, Guarantor.id == GuaranteeProduct.guarantor_id)
             .where(GuaranteeProduct.status == GuaranteeProductStatus.ACTIVE, Guarantor.is_active.is_(True),
                    GuaranteeProduct.max_amount_fen >= _amount(application))
             .order_by(Guarantor.code, GuaranteeProduct.code))
    if product.guarantor_id is not None:
        query = query.where(GuaranteeProduct.guarantor_id == product.guarantor_id)
    return list(session.scalars(query))


def _amount(application: Application) -> int:
    return application.approved_amount_fen or application.need.amount_fen


# ---------------------------------------------------------------- the moves (each through the lifecycle)

def request_guarantee(session: Session, application: Application, guarantee_product_id: int, actor: Actor, *,
                      idempotency_key: str | None = None):
    """The bank asks a guarantor for a guarantee on its claimed application (claimed → guarantee_requested)."""
    return transition(session, application, S.GUARANTEE_REQUESTED, actor, idempotency_key=idempotency_key,
                      detail={"guarantee_product_id": guarantee_product_id})


def accept(session: Session, application: Application, guarantor_id: int, actor: Actor, *, fee_rate_bp: int,
           coverage_bp: int, idempotency_key: str | None = None):
    """The guarantor accepts on a fee and coverage (guarantee_requested → guaranteed)."""
    return transition(session, application, S.GUARANTEED, actor, by_guarantor=True, idempotency_key=idempotency_key,
                      detail={"guarantor_id": guarantor_id, "fee_rate_bp": fee_rate_bp, "coverage_bp": coverage_bp})


def decline(session: Session, application: Application, guarantor_id: int, actor: Actor, *, reason_code: str,
            reason_text: str | None = None, idempotency_key: str | None = None):
    """The guarantor declines with a reason: the application goes back to the bank's claim."""
    return transition(session, application, S.CLAIMED, actor, by_guarantor=True, idempotency_key=idempotency_key,
                      detail={"guarantor_id": guarantor_id, "reason_code": reason_code,
                              "reason_text": (reason_text or "").strip() or None})


# ---------------------------------------------------------------- what the lifecycle calls back

def guarantee_requested(session: Session, application: Application, actor: Actor, detail: dict) -> Guarantee:
    """Claimed → guarantee_requested: checks the product asks for a guarantee and the guarantee product is one
    the bank may ask for, then opens the guarantee row."""
    if not guarantee_required(application):
        raise IllegalTransition("该产品不需要平台担保机构担保", "this product does not use a platform guarantee")
    wanted = detail.get("guarantee_product_id")
    chosen = by_id(session, GuaranteeProduct, wanted) if isinstance(wanted, int) else None
    if chosen is None or chosen not in offered_products(session, application):
        raise IllegalTransition("请选择一款在售、可担保该金额的担保产品" + (
            "（本产品指定了担保机构）" if application.product.guarantor_id else ""),
            "choose an active guarantee product that covers this amount" + (
                " (this product names its guarantor)" if application.product.guarantor_id else ""))
    guarantee = Guarantee(application_id=application.id, guarantor_id=chosen.guarantor_id,
                          guarantee_product_id=chosen.id, amount_fen=_amount(application),
                          requested_by_id=actor.user_id, requested_at=utcnow())
    session.add(guarantee)
    return guarantee


def guarantee_step_left(session: Session, application: Application, to_state: ApplicationState, actor: Actor,
                        detail: dict) -> None:
    """The application leaves guarantee_requested: accepted, declined by the guarantor, or ended (the bank
    declined, the enterprise withdrew) before the guarantor answered."""
    guarantee = open_guarantee(session, application.id)
    if guarantee is None:  # a guarantee step recorded without its row (imported history): nothing to close
        return
    now = utcnow()
    if to_state is S.GUARANTEED or to_state is S.CLAIMED:
        if detail.get("guarantor_id") != guarantee.guarantor_id:
            raise IllegalTransition("只有被申请担保的担保机构可以答复", "only the guarantor asked can answer")
        guarantee.decided_by_id, guarantee.decided_at = actor.user_id, now
    if to_state is S.GUARANTEED:
        fee, coverage = detail.get("fee_rate_bp"), detail.get("coverage_bp")
        product = guarantee.product
        if not isinstance(fee, int) or not 0 <= fee <= min(product.fee_rate_bp, MAX_FEE_BP):
            raise IllegalTransition(f"担保费率须在 0 到担保产品费率 {product.fee_rate_bp / 100:.2f}% 之间",
                                    f"the guarantee fee must lie between 0 and the product's {product.fee_rate_bp / 100:.2f}%")
        if not isinstance(coverage, int) or not 0 < coverage <= product.coverage_bp:
            raise IllegalTransition(f"担保比例须大于 0 且不超过担保产品的 {product.coverage_bp / 100:.0f}%",
                                    f"the coverage must be above 0 and at most the product's {product.coverage_bp / 100:.0f}%")
        guarantee.status, guarantee.fee_rate_bp, guarantee.coverage_bp = GuaranteeStatus.ACCEPTED, fee, coverage
        application.guarantor_id = guarantee.guarantor_id
        application.guarantee_fee_bp, application.guarantee_coverage_bp = fee, coverage
    elif to_state is S.CLAIMED:
        code = detail.get("reason_code")
        if code not in DECLINE_REASONS:
            raise IllegalTransition("拒绝担保时必须给出有效的原因代码",
                                    f"declining a guarantee needs a reason code, one of: {', '.join(DECLINE_REASONS)}")
        if code in REASONS_NEEDING_TEXT and not (detail.get("reason_text") or "").strip():
            raise IllegalTransition("选择“其他原因”时须写明具体原因", "a decline for “other reason” needs the reason in words")
        guarantee.status = GuaranteeStatus.DECLINED
        guarantee.decline_reason_code, guarantee.decline_reason_text = code, detail.get("reason_text")
    else:
        guarantee.status, guarantee.decided_at = GuaranteeStatus.CANCELLED, now


# ---------------------------------------------------------------- the guarantor's products

def guarantor_products(session: Session, guarantor_id: int) -> list[GuaranteeProduct]:
    return list(session.scalars(sa.select(GuaranteeProduct).where(GuaranteeProduct.guarantor_id == guarantor_id)
                                .order_by(GuaranteeProduct.code)))


def own_product(session: Session, guarantor_id: int, product_id: int) -> GuaranteeProduct:
    product = by_id(session, GuaranteeProduct, product_id)
    if product is None or product.guarantor_id != guarantor_id:
        raise NotFound(f"guarantee product {product_id}")
    return product


def add_product(session: Session, user: User, *, code: str, name_zh: str, name_en: str, fee_rate_bp: int,
                coverage_bp: int, max_amount_fen: int) -> GuaranteeProduct:
    """A new guarantee product of the user's guarantor. Raises Invalid naming each field at fault."""
    code, name_zh, name_en = code.strip().upper(), name_zh.strip(), (name_en or "").strip() or name_zh.strip()
    errors: dict[str, list] = {}
    if not 0 <= fee_rate_bp <= MAX_FEE_BP:
        errors["fee_rate"] = [_l("担保费率须在 0% 到 36% 之间。")]
    if not 0 < coverage_bp <= 10_000:
        errors["coverage"] = [_l("担保比例须大于 0% 且不超过 100%。")]
    if max_amount_fen <= 0:
        errors["max_amount"] = [_l("最高担保金额须大于 0。")]
    taken = session.scalar(sa.select(GuaranteeProduct.id).where(GuaranteeProduct.guarantor_id == user.guarantor_id,
                                                                GuaranteeProduct.code == code))
    if taken is not None:
        errors["code"] = [_l("本机构已有相同代码的担保产品。")]
    if errors:
        raise Invalid(errors)
    product = GuaranteeProduct(guarantor_id=user.guarantor_id, code=code, name_zh=name_zh, name_en=name_en,
                               fee_rate_bp=fee_rate_bp, coverage_bp=coverage_bp, max_amount_fen=max_amount_fen)
    try:
        with session.begin_nested():
            session.add(product)
            session.flush()
    except IntegrityError:
        raise Invalid({"code": [_l("本机构已有相同代码的担保产品。")]}) from None
    record(session, "guarantee_product_created", actor_user_id=user.id,
           detail={"guarantor_id": user.guarantor_id, "guarantee_product_id": product.id, "code": code,
                   "fee_rate_bp": fee_rate_bp, "coverage_bp": coverage_bp, "max_amount_fen": max_amount_fen})
    return product


def set_product_status(session: Session, user: User, product: GuaranteeProduct, status: GuaranteeProductStatus):
    if product.status is not status:
        product.status = status
        record(session, "guarantee_product_updated", actor_user_id=user.id,
               detail={"guarantor_id": product.guarantor_id, "guarantee_product_id": product.id,
                       "status": status.value})
    return product


# ---------------------------------------------------------------- who may act

def web_actor(user: User) -> Actor:
    if user.role is not Role.GUARANTOR:
        raise NotFound("guarantor")
    return Actor(Channel.WEB, user_id=user.id)
