"""Under a live authorization a bank sees what the enterprise says about itself — its credit commitments
(信用承诺) and voluntary reports (自愿填报) — marked as self-reported and unverified; never without one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.base import utcnow
from models.consent import Authorization
from models.identity import Role
from models.lending import Bank
from tests.conftest import TEST_PASSWORD, csrf_token
from xinyidai.domain import needs as operations
from xinyidai.domain.tokens import issue_token

PLEDGE = "本企业承诺所填报信息真实有效，按时足额偿还贷款本息。"
WITHDRAWN_PLEDGE = "本企业承诺一年内不新增对外担保，已撤回的这条不应显示。"


def browser(app, user):
    client = app.test_client()
    response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    return client


@pytest.fixture
def case(db_session, make_user, make_product, make_application):
    officer = make_user(Role.BANK)
    bank = db_session.get(Bank, officer.bank_id)
    application = make_application(product=make_product(bank=bank))
    owner = make_user(Role.ENTERPRISE, enterprise_uscc=application.uscc, is_tenant_admin=True)
    operations.make_commitment(db_session, owner, PLEDGE)
    gone = operations.make_commitment(db_session, owner, WITHDRAWN_PLEDGE)
    operations.withdraw_commitment(db_session, owner, gone.id)
    operations.add_self_report(db_session, owner, topic="annual_revenue", period="2025", value="约 1,200 万元")
    token = issue_token(db_session, bank, "core").token
    db_session.commit()
    return {"officer": officer, "bank": bank, "application": application, "owner": owner, "token": token}


def authorize(db_session, case, bank_ids=None):
    grant = Authorization(uscc=case["application"].uscc, sources=["tax"], all_banks=bank_ids is None,
                          granted_by_id=case["owner"].id, granted_at=utcnow() - timedelta(hours=1),
                          expires_at=utcnow() + timedelta(days=30))
    if bank_ids is not None:
        grant.banks = [db_session.get(Bank, i) for i in bank_ids]
    db_session.add(grant)
    db_session.commit()
    return grant


def test_the_bank_page_shows_self_reported_data_marked_unverified_only_under_authorization(app, db_session, case):
    client = browser(app, case["officer"])
    path = f"/bank/applications/{case['application'].id}"
    before = client.get(path).get_data(as_text=True)
    assert PLEDGE not in before
    assert "约 1,200 万元" not in before
    authorize(db_session, case)
    page = client.get(path).get_data(as_text=True)
    section = page.split('class="bank-self-reported"')[1]
    assert "平台未核实" in section
    assert PLEDGE in section
    assert WITHDRAWN_PLEDGE not in page
    assert "年营业收入（2025）" in section
    assert "约 1,200 万元" in section


def test_an_authorization_naming_another_bank_shows_nothing(app, db_session, case, make_bank):
    authorize(db_session, case, bank_ids=[make_bank().id])
    page = browser(app, case["officer"]).get(f"/bank/applications/{case['application'].id}").get_data(as_text=True)
    assert PLEDGE not in page


def test_the_api_carries_self_reported_data_flagged_unverified(client, db_session, case):
    authorize(db_session, case)
    body = client.get(f"/api/v1/applications/{case['application'].id}",
                      headers={"Authorization": f"Bearer {case['token']}"}).get_json()
    own = body["enterprise"]["detail"]["self_reported"]
    assert own["verified"] is False
    assert [c["text"] for c in own["commitments"]] == [PLEDGE]
    assert own["reports"][0] | {"reported_at": None} == {"topic": "annual_revenue", "period": "2025",
                                                         "value": "约 1,200 万元", "reported_at": None}
