"""Every API POST keeps its Idempotency-Key and a digest of the request, whatever the outcome (issue 13 item 4):
the same key with a different body is refused even when the first request changed no state (a repayment
update restating "still overdue"), and even when the first one was refused."""

from __future__ import annotations

from datetime import date

import pytest

from models.lending import ApplicationState, Bank
from xinyidai.domain.tokens import issue_token


@pytest.fixture
def repaying(db_session, make_application):
    application = make_application(state=ApplicationState.OVERDUE, days_past_due=40)
    application.disbursed_on, application.disbursed_amount_fen = date.today(), 10_000
    token = issue_token(db_session, db_session.get(Bank, application.bank_id), "idem").token
    db_session.commit()
    return application, token


def post(client, token, path, body, key):
    return client.post(path, json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})


def test_the_same_key_with_another_body_is_refused_when_nothing_changed(client, repaying):
    application, token = repaying
    path = f"/api/v1/applications/{application.id}/repayment"
    first = {"status": "overdue", "days_past_due": 40, "as_of": date.today().isoformat(), "outstanding_fen": 100}
    assert post(client, token, path, first, "k-1").status_code == 200
    changed = {**first, "days_past_due": 400, "outstanding_fen": 999_999}
    response = post(client, token, path, changed, "k-1")
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert application.days_past_due == 40
    again = post(client, token, path, {"outstanding_fen": 100, "status": "overdue", "days_past_due": 40,
                                       "as_of": date.today().isoformat()}, "k-1")  # same data, other key order
    assert again.status_code == 200


def test_a_key_is_kept_even_when_its_first_request_was_refused(client, repaying):
    application, token = repaying
    path = f"/api/v1/applications/{application.id}/repayment"
    assert post(client, token, path, {"status": "nonsense"}, "k-2").status_code == 422
    assert post(client, token, path, {"status": "overdue", "days_past_due": 41}, "k-2").status_code == 409
