"""The demo's guarantee institutions (银担合作): two Shanghai government-backed guarantors with their guarantee
products, the two policy-guarantee loan products that require one (Bank of Shanghai's names the city's SME
policy guarantee fund; Shanghai Rural Commercial Bank's takes either), and the guarantee step written into
their applications' history: every approval of such a loan came after a guarantee the guarantor accepted, and
some claimed applications wait for the guarantor's answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.guarantee import Guarantee, GuaranteeProduct, GuaranteeStatus, Guarantor
from models.lending import Application, ApplicationEvent, Channel, Product
from xinyidai.demo.banks import WAN


@dataclass(frozen=True)
class DemoGuaranteeProduct:
    code: str
    name_zh: str
    name_en: str
    fee_rate_bp: int
    coverage_bp: int
    max_wan: int


@dataclass(frozen=True)
class DemoGuarantor:
    code: str
    name_zh: str
    name_en: str
    short: str  # for usernames: demo-guarantor-<short>
    products: tuple[DemoGuaranteeProduct, ...]


GUARANTORS: tuple[DemoGuarantor, ...] = (
    DemoGuarantor("SHSMEFG", "上海市中小微企业政策性融资担保基金管理中心", "Shanghai SME Policy Financing Guarantee Fund",
                  "smefg", (DemoGuaranteeProduct("PLDB", "批次担保", "Batch guarantee", 50, 8000, 1000),
                            DemoGuaranteeProduct("KCDB", "科创担保", "Sci-tech guarantee", 40, 8000, 500))),
    DemoGuarantor("SHCYJL", "上海创业接力融资担保有限公司", "Shanghai Chuangye Jieli Financing Guarantee", "cyjl",
                  (DemoGuaranteeProduct("CYDB", "创业担保", "Start-up guarantee", 80, 7000, 500),)),
)
# (bank code, product code) → the guarantor it names (None: any platform guarantor)
GUARANTEED_PRODUCTS = {("BOSH", "ZCXDB"): "SHSMEFG", ("SRCB", "DBD"): None}
APPROVED_ON = ("approved", "disbursed", "repaying", "repaid", "overdue", "defaulted")


def store_guarantors(session: Session) -> dict[str, Guarantor]:
    guarantors = {}
    for g in GUARANTORS:
        guarantors[g.code] = Guarantor(code=g.code, name_zh=g.name_zh, name_en=g.name_en)
        session.add(guarantors[g.code])
        session.flush()
        session.add_all(GuaranteeProduct(guarantor_id=guarantors[g.code].id, code=p.code, name_zh=p.name_zh,
                                         name_en=p.name_en, fee_rate_bp=p.fee_rate_bp, coverage_bp=p.coverage_bp,
                                         max_amount_fen=p.max_wan * WAN) for p in g.products)
    session.flush()
    return guarantors


def store_guarantees(session: Session, products: dict, guarantors: dict[str, Guarantor], officers: dict,
                     staff: dict[str, object], seed: int) -> int:
    """Mark the policy-guarantee products as requiring a guarantor and write the guarantee step into their
    applications: claimed → guarantee_requested → guaranteed before each approval (the guarantee accepted at
    or below the product's fee and coverage), and a third of the applications still claimed waiting for the
    guarantor. Returns the number of guarantees written."""
    rng = np.random.default_rng(seed + 18)
    offered = list(session.scalars(sa.select(GuaranteeProduct).order_by(GuaranteeProduct.id)))
    written, still_claimed, touched = 0, 0, []
    for (bank_code, product_code), named in GUARANTEED_PRODUCTS.items():
        product: Product = products[bank_code, product_code]
        product.guarantor_required = True
        product.guarantor_id = guarantors[named].id if named else None
        applications = session.scalars(sa.select(Application).where(Application.product_id == product.id)
                                       .order_by(Application.id)).all()
        for application in applications:
            events = session.scalars(sa.select(ApplicationEvent).where(ApplicationEvent.application_id == application.id)
                                     .order_by(ApplicationEvent.occurred_at, ApplicationEvent.id)).all()
            claim = next((e for e in events if e.to_state.value == "claimed"), None)
            approval = next((e for e in events if e.to_state.value == "approved" and e.from_state is not None
                             and e.from_state.value == "claimed"), None)
            if claim is None:
                continue
            amount = (application.disbursed_amount_fen or application.approved_amount_fen
                      or _need_amount(session, application))
            allowed = [p for p in offered if product.guarantor_id is None or p.guarantor_id == product.guarantor_id]
            # the products that cover the amount; else the largest (the loan was made on it: it covered it then)
            choices = [p for p in allowed if p.max_amount_fen >= amount] or [max(allowed, key=lambda p: p.max_amount_fen)]
            chosen = choices[int(rng.integers(len(choices)))]
            touched.append(application.id)
            if approval is not None:
                written += _accepted(session, application, claim, approval, chosen, amount, officers, staff, rng)
            elif application.state.value == "claimed":
                # the first still claimed waits for its guarantor, the second was just guaranteed; then by chance
                draw = (0.0, 0.5)[still_claimed] if still_claimed < 2 else rng.random()
                still_claimed += 1
                if draw < 0.34:
                    written += _waiting(session, application, claim, chosen, amount, officers)
                elif draw < 0.6:
                    written += _guaranteed_now(session, application, claim, chosen, amount, officers, staff, rng)
    _in_order(session, touched)
    return written


def _in_order(session: Session, application_ids: list[int]) -> None:
    """Each history in the order it happened, ids included (pages list an application's events by id): the
    steps written between earlier ones are stored again with the later events after them."""
    session.flush()
    columns = [c.name for c in ApplicationEvent.__table__.columns if c.name != "id"]
    for application_id in application_ids:
        events = session.scalars(sa.select(ApplicationEvent).where(ApplicationEvent.application_id == application_id)
                                 .order_by(ApplicationEvent.id)).all()
        ordered = sorted(events, key=lambda e: (e.occurred_at, e.id))
        if ordered == list(events):
            continue
        rows = [{name: getattr(e, name) for name in columns} for e in ordered]
        for event in events:
            session.expunge(event)
        session.execute(sa.delete(ApplicationEvent).where(ApplicationEvent.application_id == application_id))
        session.execute(sa.insert(ApplicationEvent.__table__), rows)
    session.expire_all()


def _need_amount(session: Session, application: Application) -> int:
    from models.lending import FinancingNeed

    return session.scalar(sa.select(FinancingNeed.amount_fen).where(FinancingNeed.id == application.need_id))


def _event(application, from_state, to_state, at, channel, actor_user_id, detail):
    return ApplicationEvent(application_id=application.id, from_state=from_state, to_state=to_state, channel=channel,
                            actor_user_id=actor_user_id, detail=detail, occurred_at=at)


def _accepted(session, application, claim, approval, chosen, amount, officers, staff, rng) -> int:
    """The approval came after the guarantee: two steps between the claim and it, the approval now from
    guaranteed. The guarantor accepted at its product's terms or a little below."""
    from models.lending import ApplicationState as S

    span = approval.occurred_at - claim.occurred_at
    asked, answered = claim.occurred_at + span / 3, claim.occurred_at + span * 2 / 3
    fee = int(chosen.fee_rate_bp - 10 * rng.integers(0, 2))
    coverage = int(chosen.coverage_bp - 1000 * rng.integers(0, 2))
    officer, guarantor_user = officers[_bank_code(session, application)], staff[chosen.guarantor_id]
    session.add_all([
        _event(application, S.CLAIMED, S.GUARANTEE_REQUESTED, asked, claim.channel, officer.id,
               {"guarantee_product_id": chosen.id}),
        _event(application, S.GUARANTEE_REQUESTED, S.GUARANTEED, answered, Channel.WEB,
               guarantor_user.id, {"guarantor_id": chosen.guarantor_id, "fee_rate_bp": fee, "coverage_bp": coverage}),
        Guarantee(application_id=application.id, guarantor_id=chosen.guarantor_id, guarantee_product_id=chosen.id,
                  status=GuaranteeStatus.ACCEPTED, amount_fen=amount, requested_by_id=officer.id, requested_at=asked,
                  decided_by_id=guarantor_user.id, decided_at=answered, fee_rate_bp=fee, coverage_bp=coverage),
    ])
    approval.from_state = S.GUARANTEED
    application.guarantor_id, application.guarantee_fee_bp, application.guarantee_coverage_bp = (
        chosen.guarantor_id, fee, coverage)
    return 1


def _guaranteed_now(session, application, claim, chosen, amount, officers, staff, rng) -> int:
    """Claimed, guaranteed a few hours later, and waiting for the bank's approval."""
    from models.lending import ApplicationState as S

    _waiting(session, application, claim, chosen, amount, officers)
    guarantee = next(g for g in session.new if isinstance(g, Guarantee) and g.application_id == application.id)
    answered = guarantee.requested_at + timedelta(hours=20)
    fee, coverage = int(chosen.fee_rate_bp), int(chosen.coverage_bp)
    guarantor_user = staff[chosen.guarantor_id]
    session.add(_event(application, S.GUARANTEE_REQUESTED, S.GUARANTEED, answered, Channel.WEB, guarantor_user.id,
                       {"guarantor_id": chosen.guarantor_id, "fee_rate_bp": fee, "coverage_bp": coverage}))
    guarantee.status, guarantee.decided_by_id, guarantee.decided_at = GuaranteeStatus.ACCEPTED, guarantor_user.id, answered
    guarantee.fee_rate_bp, guarantee.coverage_bp = fee, coverage
    application.state = S.GUARANTEED
    application.guarantor_id, application.guarantee_fee_bp, application.guarantee_coverage_bp = (
        chosen.guarantor_id, fee, coverage)
    return 0  # counted by _waiting


def _waiting(session, application, claim, chosen, amount, officers) -> int:
    from models.lending import ApplicationState as S

    asked = claim.occurred_at + timedelta(hours=3)
    officer = officers[_bank_code(session, application)]
    session.add_all([
        _event(application, S.CLAIMED, S.GUARANTEE_REQUESTED, asked, claim.channel, officer.id,
               {"guarantee_product_id": chosen.id}),
        Guarantee(application_id=application.id, guarantor_id=chosen.guarantor_id, guarantee_product_id=chosen.id,
                  amount_fen=amount, requested_by_id=officer.id, requested_at=asked),
    ])
    application.state = S.GUARANTEE_REQUESTED
    return 1


def _bank_code(session: Session, application: Application) -> str:
    from models.lending import Bank

    return session.scalar(sa.select(Bank.code).where(Bank.id == application.bank_id))
