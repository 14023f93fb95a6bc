"""The guarantee step inside the one state machine (银担合作, DESIGN §13): claimed → guarantee_requested →
guaranteed (fee and coverage recorded) → approved → disbursed; a guarantor's decline hands the application back
to the bank's claim; a product that requires a guarantor is never approved without an accepted guarantee."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from models.guarantee import Guarantee, GuaranteeStatus
from models.lending import ApplicationState, Channel, GuaranteeType, NeedStatus
from models.upstream import OutboxEvent
from xinyidai.domain import guarantees
from xinyidai.domain.lifecycle import Actor, Disbursement, IllegalTransition, transition

S = ApplicationState
WEB = Actor(Channel.WEB, user_id=None)
LOAN = Disbursement(40_000_000, 385, 12, date.today(), GuaranteeType.GUARANTEE_COMPANY)


@pytest.fixture
def guaranteed_product(make_product, make_guarantor):
    guarantor = make_guarantor()
    product = make_product(guarantee_type=GuaranteeType.GUARANTEE_COMPANY, guarantor_required=True)
    return product, guarantor


def claimed(db_session, make_application, product):
    application = make_application(product=product)
    transition(db_session, application, S.CLAIMED, WEB)
    return application


def test_guaranteed_application_goes_claim_guarantee_approve_disburse(db_session, make_application, guaranteed_product):
    product, guarantor = guaranteed_product
    application = claimed(db_session, make_application, product)
    guarantees.request_guarantee(db_session, application, guarantor.test_product.id, WEB)
    assert application.state is S.GUARANTEE_REQUESTED
    guarantees.accept(db_session, application, guarantor.id, WEB, fee_rate_bp=80, coverage_bp=7000)
    assert application.state is S.GUARANTEED
    assert (application.guarantor_id, application.guarantee_fee_bp, application.guarantee_coverage_bp) == (
        guarantor.id, 80, 7000)
    transition(db_session, application, S.APPROVED, WEB)
    transition(db_session, application, S.DISBURSED, WEB, detail={"disbursement": LOAN})
    assert [e.to_state for e in application.events] == [S.CLAIMED, S.GUARANTEE_REQUESTED, S.GUARANTEED, S.APPROVED,
                                                          S.DISBURSED]
    guarantee = db_session.scalar(sa.select(Guarantee).where(Guarantee.application_id == application.id))
    assert (guarantee.status, guarantee.fee_rate_bp, guarantee.coverage_bp) == (GuaranteeStatus.ACCEPTED, 80, 7000)
    assert application.need.status is NeedStatus.CLOSED
    # the guarantee steps are reported to the city node as state changes, never dropped
    types = db_session.scalars(sa.select(OutboxEvent.event_type).where(
        OutboxEvent.aggregate_id == str(application.id)).order_by(OutboxEvent.sequence)).all()
    assert types.count("application.state_changed") == 2


def test_a_product_requiring_a_guarantor_is_not_approved_without_one(db_session, make_application, guaranteed_product):
    product, _ = guaranteed_product
    application = claimed(db_session, make_application, product)
    with pytest.raises(IllegalTransition) as refused:
        transition(db_session, application, S.APPROVED, WEB)
    assert "guarantee" in refused.value.en
    assert "担保" in refused.value.zh
    assert application.state is S.CLAIMED


def test_a_product_without_the_requirement_has_no_guarantee_step(db_session, make_application, make_product,
                                                                 make_guarantor):
    guarantor = make_guarantor()
    application = claimed(db_session, make_application, make_product())
    with pytest.raises(IllegalTransition) as refused:
        guarantees.request_guarantee(db_session, application, guarantor.test_product.id, WEB)
    assert "does not use a platform guarantee" in refused.value.en


def test_a_product_naming_its_guarantor_refuses_another_ones_guarantee(db_session, make_application, make_product,
                                                                       make_guarantor):
    named, other = make_guarantor(), make_guarantor()
    product = make_product(guarantor_required=True, guarantor_id=named.id)
    application = claimed(db_session, make_application, product)
    assert guarantees.offered_products(db_session, application) == [named.test_product]
    with pytest.raises(IllegalTransition) as refused:
        guarantees.request_guarantee(db_session, application, other.test_product.id, WEB)
    assert "names its guarantor" in refused.value.en
    guarantees.request_guarantee(db_session, application, named.test_product.id, WEB)
    assert application.state is S.GUARANTEE_REQUESTED


def test_a_guarantee_product_too_small_for_the_amount_is_not_offered(db_session, make_application, guaranteed_product):
    product, guarantor = guaranteed_product
    guarantor.test_product.max_amount_fen = 10_000_00  # 10,000 yuan: the need asks for 500,000
    application = claimed(db_session, make_application, product)
    assert guarantees.offered_products(db_session, application) == []
    with pytest.raises(IllegalTransition):
        guarantees.request_guarantee(db_session, application, guarantor.test_product.id, WEB)


def test_a_declined_guarantee_goes_back_to_the_bank_which_may_ask_another(db_session, make_application,
                                                                         guaranteed_product, make_guarantor):
    product, first = guaranteed_product
    second = make_guarantor()
    application = claimed(db_session, make_application, product)
    guarantees.request_guarantee(db_session, application, first.test_product.id, WEB)
    with pytest.raises(IllegalTransition):  # a decline needs a known reason
        guarantees.decline(db_session, application, first.id, WEB, reason_code="nope")
    with pytest.raises(IllegalTransition):  # "other" needs words
        guarantees.decline(db_session, application, first.id, WEB, reason_code="other")
    guarantees.decline(db_session, application, first.id, WEB, reason_code="insufficient_counter_guarantee",
                       reason_text="反担保不足")
    assert application.state is S.CLAIMED
    assert application.need.status is NeedStatus.CLAIMED  # the bank keeps its claim
    guarantees.request_guarantee(db_session, application, second.test_product.id, WEB)
    rows = guarantees.guarantees_of(db_session, application.id)
    assert [(g.guarantor_id, g.status) for g in rows] == [(first.id, GuaranteeStatus.DECLINED),
                                                          (second.id, GuaranteeStatus.REQUESTED)]
    assert rows[0].decline_reason_code == "insufficient_counter_guarantee"


def test_only_the_guarantor_asked_can_answer_and_fee_and_coverage_stay_within_its_product(
        db_session, make_application, guaranteed_product, make_guarantor):
    product, guarantor = guaranteed_product
    stranger = make_guarantor()
    application = claimed(db_session, make_application, product)
    guarantees.request_guarantee(db_session, application, guarantor.test_product.id, WEB)
    with pytest.raises(IllegalTransition) as refused:
        guarantees.accept(db_session, application, stranger.id, WEB, fee_rate_bp=50, coverage_bp=5000)
    assert "only the guarantor asked" in refused.value.en
    with pytest.raises(IllegalTransition):
        guarantees.accept(db_session, application, guarantor.id, WEB, fee_rate_bp=150, coverage_bp=5000)  # fee 1 %
    with pytest.raises(IllegalTransition):
        guarantees.accept(db_session, application, guarantor.id, WEB, fee_rate_bp=50, coverage_bp=9000)  # cover 80 %
    assert application.state is S.GUARANTEE_REQUESTED


def test_bank_moves_cannot_answer_for_the_guarantor(db_session, make_application, guaranteed_product):
    product, guarantor = guaranteed_product
    application = claimed(db_session, make_application, product)
    guarantees.request_guarantee(db_session, application, guarantor.test_product.id, WEB)
    with pytest.raises(IllegalTransition):
        transition(db_session, application, S.GUARANTEED, WEB,
                   detail={"guarantor_id": guarantor.id, "fee_rate_bp": 50, "coverage_bp": 5000})
    with pytest.raises(IllegalTransition) as refused:  # and the guarantor answers nothing else
        transition(db_session, application, S.APPROVED, WEB, by_guarantor=True)
    assert "guarantor can only answer" in refused.value.en


@pytest.mark.parametrize("ending", ["bank_declines", "enterprise_withdraws"])
def test_an_application_ending_while_the_guarantor_decides_cancels_the_open_guarantee(
        db_session, make_application, guaranteed_product, ending):
    product, guarantor = guaranteed_product
    application = claimed(db_session, make_application, product)
    guarantees.request_guarantee(db_session, application, guarantor.test_product.id, WEB)
    if ending == "bank_declines":
        transition(db_session, application, S.DECLINED, WEB, detail={"reason_code": "insufficient_guarantee"})
    else:
        transition(db_session, application, S.WITHDRAWN, WEB, by_enterprise=True)
    assert guarantees.open_guarantee(db_session, application.id) is None
    assert guarantees.guarantees_of(db_session, application.id)[0].status is GuaranteeStatus.CANCELLED
    assert application.need.status is NeedStatus.OPEN  # released to the other banks


def test_in_principle_confirmation_cannot_skip_the_guarantee(db_session, make_application, guaranteed_product):
    product, _ = guaranteed_product
    application = make_application(product=product)
    with pytest.raises(IllegalTransition) as refused:
        transition(db_session, application, S.APPROVED, WEB, detail={"in_principle_answer_id": 1})
    assert "guarantee" in refused.value.en
