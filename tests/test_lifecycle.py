"""The application state machine (DESIGN §6): legal moves, refusals with a plain reason, idempotent reports."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.lending import ApplicationState, Channel, GuaranteeType, NeedStatus
from xinyidai.domain.lifecycle import (
    BANK_MOVES,
    ENTERPRISE_MOVES,
    Actor,
    Disbursement,
    IdempotencyConflict,
    IllegalTransition,
    transition,
)

S = ApplicationState
WEB = Actor(Channel.WEB, user_id=None)
LOAN = Disbursement(40_000_000, 385, 12, date(2026, 11, 2), GuaranteeType.CREDIT)


def walk(session, application, *states, **detail):
    for state in states:
        extra = {}
        if state is S.DECLINED:
            extra = {"reason_code": "insufficient_cash_flow"}
        if state is S.DISBURSED:
            extra = {"disbursement": LOAN}
        if state in (S.OVERDUE, S.DEFAULTED):
            extra = {"days_past_due": 95}
        transition(session, application, state, WEB, detail={**extra, **detail})


def test_full_happy_path_records_every_step(db_session, make_application):
    application = make_application()
    walk(db_session, application, S.CLAIMED, S.APPROVED, S.DISBURSED, S.REPAYING, S.REPAID)
    assert application.state is S.REPAID
    assert [e.to_state for e in application.events] == [S.CLAIMED, S.APPROVED, S.DISBURSED, S.REPAYING, S.REPAID]
    assert application.disbursed_amount_fen == 40_000_000
    assert application.rate_bp == 385
    assert application.events[2].detail["disbursed_on"] == "2026-11-02"
    assert application.need.status is NeedStatus.CLOSED


def test_illegal_move_is_refused_with_a_plain_reason(db_session, make_application):
    application = make_application()
    with pytest.raises(IllegalTransition) as refused:
        transition(db_session, application, S.DISBURSED, WEB, detail={"disbursement": LOAN})
    assert "matched" in refused.value.en
    assert "disbursed" in refused.value.en
    assert application.state is S.MATCHED
    assert application.events == []


def test_terminal_states_never_move(db_session, make_application):
    application = make_application()
    walk(db_session, application, S.CLAIMED, S.DECLINED)
    with pytest.raises(IllegalTransition, match="终止"):
        transition(db_session, application, S.CLAIMED, WEB)


def test_decline_needs_a_known_reason_code(db_session, make_application):
    application = make_application()
    walk(db_session, application, S.CLAIMED)
    with pytest.raises(IllegalTransition):
        transition(db_session, application, S.DECLINED, WEB, detail={"reason_code": "vibes"})
    assert application.state is S.CLAIMED


def test_only_one_bank_can_claim_a_need_and_a_decline_frees_it(db_session, make_application):
    first = make_application()
    second = make_application(need=first.need)
    walk(db_session, first, S.CLAIMED)
    with pytest.raises(IllegalTransition, match="其他银行"):
        transition(db_session, second, S.CLAIMED, WEB)
    walk(db_session, first, S.DECLINED)
    assert first.need.status is NeedStatus.OPEN
    walk(db_session, second, S.CLAIMED)  # the second chance
    assert second.state is S.CLAIMED


def test_enterprise_may_withdraw_before_disbursement_only(db_session, make_application):
    application = make_application()
    walk(db_session, application, S.CLAIMED)
    transition(db_session, application, S.WITHDRAWN, WEB, by_enterprise=True)
    assert application.state is S.WITHDRAWN
    assert application.need.status is NeedStatus.OPEN
    other = make_application()
    walk(db_session, other, S.CLAIMED, S.APPROVED, S.DISBURSED)
    with pytest.raises(IllegalTransition):
        transition(db_session, other, S.WITHDRAWN, WEB, by_enterprise=True)


def test_enterprise_cannot_make_bank_decisions(db_session, make_application):
    application = make_application()
    with pytest.raises(IllegalTransition):
        transition(db_session, application, S.CLAIMED, WEB, by_enterprise=True)


def test_repeated_report_with_same_key_is_a_no_op(db_session, make_application):
    application = make_application()
    walk(db_session, application, S.CLAIMED, S.APPROVED)
    api = Actor(Channel.API, token_id=None)
    first = transition(db_session, application, S.DISBURSED, api, idempotency_key="k-1", detail={"disbursement": LOAN})
    again = transition(db_session, application, S.DISBURSED, api, idempotency_key="k-1", detail={"disbursement": LOAN})
    assert again.id == first.id
    assert len(application.events) == 3


def test_same_key_for_a_different_report_is_a_conflict(db_session, make_application):
    application = make_application()
    walk(db_session, application, S.CLAIMED, S.APPROVED, S.DISBURSED)
    transition(db_session, application, S.OVERDUE, WEB, idempotency_key="k-2", detail={"days_past_due": 10})
    with pytest.raises(IdempotencyConflict):
        transition(db_session, application, S.OVERDUE, WEB, idempotency_key="k-2", detail={"days_past_due": 40})


# make_application builds a fresh need and application on every call, so sharing the factory across
# generated examples is safe.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(list(S)), st.booleans()), max_size=8))
def test_any_sequence_of_requests_only_follows_legal_edges(app, make_application, moves):
    """Whatever is asked, the state only ever moves along an edge of the two move tables."""
    from xinyidai.extensions import db

    application = make_application()
    for wanted, by_enterprise in moves:
        before = application.state
        try:
            walk_one = {"reason_code": "other", "reason_text": "测试"} if wanted is S.DECLINED else {}
            if wanted is S.DISBURSED:
                walk_one = {"disbursement": LOAN}
            transition(db.session, application, wanted, WEB, by_enterprise=by_enterprise, detail=walk_one)
        except IllegalTransition:
            assert application.state is before
            continue
        table = ENTERPRISE_MOVES if by_enterprise else BANK_MOVES
        assert wanted in table.get(before, ())
