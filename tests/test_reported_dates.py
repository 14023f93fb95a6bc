"""Dates a bank reports are bounded on every channel (issue 13 item 2, issue 14): not in the future beyond a
day's clock skew, not before the event they follow; and one impossible date left in the data (from before
these rules) makes `xyd ml train` skip and report that loan instead of failing for the whole platform."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest

from models.base import utcnow
from models.identity import Role
from models.lending import ApplicationState, Bank
from tests.conftest import csrf_token
from xinyidai.domain.tokens import issue_token

TOMORROW_PLUS = (date.today() + timedelta(days=2)).isoformat()


@pytest.fixture
def claimed(db_session, make_application, make_user):
    application = make_application(state=ApplicationState.APPROVED)
    application.claimed_at = application.decided_at = utcnow() - timedelta(days=3)
    officer = make_user(Role.BANK, bank_id=application.bank_id, is_tenant_admin=True)
    token = issue_token(db_session, db_session.get(Bank, application.bank_id), "dates").token
    db_session.commit()
    return application, officer, token


def disburse_api(client, application, token, day: str, key: str):
    return client.post(f"/api/v1/applications/{application.id}/disburse", headers={
        "Authorization": f"Bearer {token}", "Idempotency-Key": key}, json={
        "amount_fen": 100_000, "rate_bp": 400, "term_months": 12, "disbursed_on": day, "guarantee_type": "信用"})


@pytest.mark.parametrize("day", ["9999-12-31", TOMORROW_PLUS, "2000-01-01"])
def test_the_api_refuses_a_disbursement_in_the_future_or_before_the_approval(client, claimed, day):
    application, _officer, token = claimed
    response = disburse_api(client, application, token, day, f"d-{day}")
    assert response.status_code == 422
    assert "disbursed_on" in response.get_json()["errors"]
    assert application.state is ApplicationState.APPROVED


def test_a_disbursement_today_is_accepted_and_a_month_end_in_the_future_is_refused(client, claimed):
    application, _officer, token = claimed
    assert disburse_api(client, application, token, date.today().isoformat(), "ok").status_code == 200
    response = client.post(f"/api/v1/applications/{application.id}/repayment", headers={
        "Authorization": f"Bearer {token}", "Idempotency-Key": "r1"},
        json={"status": "repaying", "as_of": "9999-12-31", "outstanding_fen": 100})
    assert response.status_code == 422
    assert "as_of" in response.get_json()["errors"]


def test_the_web_form_refuses_a_disbursement_dated_in_the_future(client, claimed, login):
    application, officer, _token = claimed
    login(officer)
    path = f"/bank/applications/{application.id}"
    response = client.post(f"{path}/disburse", data={
        "csrf_token": csrf_token(client, path), "idempotency_key": "web-1", "amount": "1000", "rate": "4",
        "term_months": "12", "disbursed_on": TOMORROW_PLUS, "guarantee_type": "信用"})
    assert response.status_code in (409, 422)
    assert "日期不能晚于今天" in response.get_data(as_text=True)
    assert application.state is ApplicationState.APPROVED


def test_the_csv_upload_refuses_a_disbursement_dated_in_the_future(client, claimed, login):
    application, officer, _token = claimed
    login(officer)
    text = ("application_id,outcome,amount_yuan,rate_percent,term_months,disbursed_on,guarantee_type\n"
            f"{application.id},disbursed,1000,4,12,{TOMORROW_PLUS},信用\n")
    response = client.post("/bank/outcomes/upload", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/bank/outcomes/upload"),
        "file": (io.BytesIO(text.encode()), "outcomes.csv")})
    assert "disbursed_on" in response.get_data(as_text=True)
    assert application.state is ApplicationState.APPROVED


def test_labelling_skips_and_reports_a_loan_with_an_impossible_date(db_session, make_application):
    from ml.train import labelled_loans

    good = make_application(state=ApplicationState.REPAYING)
    good.disbursed_on = date(2024, 1, 5)
    bad = make_application(state=ApplicationState.REPAYING)
    bad.disbursed_on = date(9999, 12, 31)  # stored before the rules above existed
    db_session.flush()
    loans = labelled_loans(db_session)
    assert bad.id in loans.attrs["skipped"]
    assert bad.id not in set(loans.application_id)
