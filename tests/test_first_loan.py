"""首贷户: a disbursement reported through any channel (web form, CSV upload, API) marks the enterprise's
first loan on the platform, which the office dashboards count as first-time borrowers."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from models.base import utcnow
from models.identity import Role
from models.lending import Channel, FinancingNeed
from tests.conftest import csrf_token
from xinyidai.domain import products as operations
from xinyidai.domain.lifecycle import Actor
from xinyidai.domain.tokens import issue_token
from xinyidai.extensions import db

UPLOAD_HEADER = ("application_id,outcome,reason_code,reason_text,amount_yuan,rate_percent,term_months,disbursed_on,"
                 "guarantee_type,days_past_due,as_of,outstanding_yuan\n")


@pytest.fixture
def desk(db_session, make_bank, make_user, make_product, make_enterprise, make_application, login):
    """A logged-in officer, an API token and a product of one bank; approved(enterprise) gives an approved
    application of a fresh need of that enterprise."""

    class Desk:
        bank = make_bank()
        officer = make_user(Role.BANK, bank_id=bank.id)
        product = make_product(bank=bank)
        token = issue_token(db_session, bank, "core").token

        def approved(self, enterprise=None):
            enterprise = enterprise or make_enterprise()
            need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="设备购置",
                                 guarantee_types=["信用"])
            db_session.add(need)
            db_session.flush()
            application = make_application(product=self.product, need=need)
            actor = Actor(Channel.WEB, user_id=self.officer.id)
            operations.claim(db_session, application, actor)
            operations.report_outcome(db_session, application, operations.OutcomeReport(
                operations.S.APPROVED), actor)
            # Decided three months ago: the loans below are dated since (a disbursement may not precede it).
            application.claimed_at = application.decided_at = utcnow() - timedelta(days=90)
            db_session.commit()
            return application

    desk = Desk()
    login(desk.officer)
    return desk


def disburse_on_the_web(client, application, day):
    path = f"/bank/applications/{application.id}"
    response = client.post(f"{path}/disburse", data={
        "idempotency_key": f"web-{application.id}", "amount": "500000", "rate": "3.85", "term_months": "12",
        "disbursed_on": day, "guarantee_type": "信用", "csrf_token": csrf_token(client, path)})
    assert response.status_code == 302
    db.session.expire_all()


def disburse_over_the_api(client, desk, application, day):
    response = client.post(f"/api/v1/applications/{application.id}/disburse",
                           json={"amount_fen": 50_000_000, "rate_bp": 385, "term_months": 12, "disbursed_on": day,
                                 "guarantee_type": "信用"},
                           headers={"Authorization": f"Bearer {desk.token}", "Idempotency-Key": f"api-{application.id}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    db.session.expire_all()


def disburse_by_upload(client, application, day):
    content = UPLOAD_HEADER + f"{application.id},disbursed,,,500000,3.85,12,{day},信用,,,\n"
    response = client.post("/bank/outcomes/upload", content_type="multipart/form-data",
                           data={"csrf_token": csrf_token(client, "/bank/outcomes/upload"),
                                 "file": (io.BytesIO(content.encode()), "outcomes.csv")})
    assert response.status_code == 200
    assert "新保存 1 行" in response.get_data(as_text=True)
    db.session.expire_all()


@pytest.mark.parametrize("channel", ["web", "api", "csv"])
def test_a_first_disbursement_marks_a_first_time_borrower_through_every_channel(client, desk, make_enterprise, channel):
    enterprise = make_enterprise()
    first, second = desk.approved(enterprise), desk.approved(enterprise)
    report = {"web": lambda a, d: disburse_on_the_web(client, a, d),
              "api": lambda a, d: disburse_over_the_api(client, desk, a, d),
              "csv": lambda a, d: disburse_by_upload(client, a, d)}[channel]
    report(first, "2026-11-02")
    assert first.first_loan is True
    report(second, "2026-11-20")
    assert second.first_loan is False
    assert first.first_loan is True


def test_a_loan_reported_late_but_made_earlier_takes_the_first_loan_mark(client, desk, make_enterprise):
    enterprise = make_enterprise()
    later, earlier = desk.approved(enterprise), desk.approved(enterprise)
    disburse_on_the_web(client, later, "2026-11-20")
    assert later.first_loan is True
    disburse_over_the_api(client, desk, earlier, "2026-10-15")
    assert earlier.first_loan is True
    assert later.first_loan is False


def test_each_enterprise_has_its_own_first_loan(client, desk):
    one, other = desk.approved(), desk.approved()
    disburse_on_the_web(client, one, "2026-11-02")
    disburse_by_upload(client, other, "2026-11-03")
    assert one.first_loan is True
    assert other.first_loan is True
