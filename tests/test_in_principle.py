"""Credit policies and in-principle approval (预授信) through the web and the API: a published need is
answered at once by every matching product with a policy, the bank confirms with one action through the
lifecycle, answers are withdrawn when the authorization changes, and a policy never scores without a
live authorization naming the bank."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from ml import synthetic
from ml.features import data_end_as_of
from models.identity import Role
from models.joint import BankScore, CreditPolicy, InPrincipleAnswer
from models.lending import Application, ApplicationEvent, FinancingNeed, NeedStatus
from models.scoring import ModelVersion, Score
from tests.conftest import csrf_token
from tests.test_bank_tenancy import logged_in, page_csrf
from xinyidai.domain.in_principle import invoiced_sales_12m
from xinyidai.domain.needs import shanghai_today
from xinyidai.domain.tokens import issue_token

NEW = "/enterprise/needs/new"


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def market(app, db_session, make_bank, make_product, make_user):
    """An enterprise with provider data and a platform score (grade A), three banks with a product and a
    policy each; the enterprise authorises banks A and B, not C."""
    truth = synthetic.populate(db_session, enterprises=3, seed=2, offset=20_000)
    uscc = truth.uscc[0]
    db_session.add(ModelVersion(version="ip-model", path="-", card={}))
    db_session.flush()
    db_session.add(Score(uscc=uscc, model_version="ip-model", as_of=data_end_as_of(db_session), pd_12m=0.006,
                         points=655, grade="AA", gates_passed=True, failed_gates=[]))
    banks = {name: make_bank(name_zh=f"{name}银行", name_en=f"Bank {name}") for name in "ABC"}
    products = {}
    for name, bank in banks.items():
        products[name] = make_product(bank=bank, min_amount_fen=10_000_000, max_amount_fen=900_000_000,
                                      min_rate_bp=300, max_rate_bp=480, fee_bp=60)
        db_session.add(CreditPolicy(product_id=products[name].id, model="platform", min_band="BBB",
                                    sales_share_bp=1000, rate_by_band={"AA": 320 + 10 * "ABC".index(name)},
                                    valid_days=30))
    owner = make_user(Role.ENTERPRISE, enterprise_uscc=uscc, is_tenant_admin=True)
    officers = {name: make_user(Role.BANK, bank_id=bank.id, is_tenant_admin=True) for name, bank in banks.items()}
    db_session.commit()
    enterprise = logged_in(app, owner)
    path = "/enterprise/authorizations"
    response = enterprise.post(path, data={
        "sources": ["tax", "social_insurance"], "scope": "chosen", "bank_ids": [str(banks["A"].id), str(banks["B"].id)],
        "expires_on": (shanghai_today() + timedelta(days=90)).isoformat(), "csrf_token": csrf_token(enterprise, path)})
    assert response.status_code == 302
    return {"uscc": uscc, "banks": banks, "products": products, "enterprise": enterprise, "officers": officers}


def publish(client):
    data = {"amount": "100", "term_months": "12", "purpose": "设备购置", "purpose_detail": "", "guarantee_types": ["信用"],
            "urgency": "normal", "contact_preference": "电话", "open_to_all_banks": "1", "max_contacts": ""}
    return client.post(NEW, data={**data, "csrf_token": csrf_token(client, NEW)})


def published(db_session, market) -> FinancingNeed:
    """The need the test published (the synthetic population has one of its own)."""
    return db_session.scalar(sa.select(FinancingNeed).where(FinancingNeed.uscc == market["uscc"])
                             .order_by(FinancingNeed.id.desc()).limit(1))


def answers(db_session, need_id, status="live"):
    return {a.bank_id: a for a in db_session.scalars(sa.select(InPrincipleAnswer).where(
        InPrincipleAnswer.need_id == need_id, InPrincipleAnswer.status == status))}


def test_a_published_need_is_answered_by_every_policy_and_one_bank_confirms(app, db_session, market):
    response = publish(market["enterprise"])
    assert response.status_code == 302
    need = published(db_session, market)
    banks, products = market["banks"], market["products"]
    live = answers(db_session, need.id)
    assert set(live) == {b.id for b in banks.values()}
    sales = invoiced_sales_12m(db_session, market["uscc"], data_end_as_of(db_session))
    expected = min(sales // 10, 900_000_000) // 100_000 * 100_000
    for name in "AB":
        answer = live[banks[name].id]
        assert answer.approved, (name, answer.reason_zh)
        assert answer.amount_fen == expected
        assert answer.rate_bp == 320 + 10 * "ABC".index(name)
        assert answer.cost_bp == answer.rate_bp + 60  # a one-off 0.6% fee over 12 months
        assert answer.expires_on > shanghai_today()
        assert answer.band == "AA"
        assert answer.authorization_id is not None
    refused = live[banks["C"].id]  # no authorization names bank C: no score was used
    assert not refused.approved
    assert refused.reason_code == "no_authorization"
    assert refused.score_id is None
    assert refused.pd_12m is None
    assert refused.band is None

    page = text(market["enterprise"].get(response.headers["Location"]))
    section = page.split('id="in-principle"')[1].split("</section>")[0]
    assert section.count("预授信额度最高") == 2
    assert "A银行" in section
    assert "B银行" in section
    assert "C银行" in section
    assert "尚未授权该银行" in section
    assert refused.reason_en.startswith("you have not authorised this bank")  # worded in both languages

    # bank A sees "pre-approved" in its pipeline and confirms with one action
    officer = logged_in(app, market["officers"]["A"])
    assert "已预授信" in text(officer.get("/bank/pipeline"))
    application = db_session.scalar(sa.select(Application).where(Application.need_id == need.id,
                                                                  Application.product_id == products["A"].id))
    detail = text(officer.get(f"/bank/applications/{application.id}"))
    assert "确认预授信并审批通过" in detail
    response = officer.post(f"/bank/applications/{application.id}/confirm",
                            data={"csrf_token": page_csrf(officer), "idempotency_key": "confirm-a"})
    assert response.status_code == 302
    db_session.expire_all()
    application = db_session.get(Application, application.id)
    assert application.state.value == "approved"
    assert application.claimed_by_id == market["officers"]["A"].id
    assert db_session.get(FinancingNeed, need.id).status is NeedStatus.CLAIMED
    event = db_session.scalar(sa.select(ApplicationEvent).where(ApplicationEvent.application_id == application.id))
    assert (event.from_state.value, event.to_state.value) == ("matched", "approved")
    assert event.detail == {"in_principle_answer_id": live[banks["A"].id].id}
    assert answers(db_session, need.id, "confirmed").keys() == {banks["A"].id}
    assert "银行已确认" in text(market["enterprise"].get(f"/enterprise/needs/{need.id}"))

    # bank B's confirmation through the API comes too late: the need is claimed
    token = issue_token(db_session, banks["B"], "ip").token
    db_session.commit()
    other = db_session.scalar(sa.select(Application).where(Application.need_id == need.id,
                                                           Application.product_id == products["B"].id))
    late = app.test_client().post(f"/api/v1/applications/{other.id}/confirm",
                                  headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "b-1"})
    assert late.status_code == 409


def test_a_plain_approval_of_a_match_is_still_refused_and_the_api_confirms(app, db_session, market):
    publish(market["enterprise"])
    need = published(db_session, market)
    bank = market["banks"]["B"]
    token = issue_token(db_session, bank, "ip").token
    db_session.commit()
    application = db_session.scalar(sa.select(Application).where(Application.need_id == need.id,
                                                                 Application.bank_id == bank.id))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "plain"}
    assert client.post(f"/api/v1/applications/{application.id}/approve", headers=headers).status_code == 409
    headers["Idempotency-Key"] = "confirm-b"
    response = client.post(f"/api/v1/applications/{application.id}/confirm", headers=headers)
    assert response.status_code == 200, text(response)
    assert response.get_json()["state"] == "approved"
    # the approved terms are the answer's: what the enterprise asked, up to the pre-approved amount, at its rate
    answer = db_session.scalar(sa.select(InPrincipleAnswer).where(InPrincipleAnswer.application_id == application.id))
    body = response.get_json()
    assert body["approved_amount_fen"] == min(need.amount_fen, answer.amount_fen)
    assert (body["approved_term_months"], body["approved_rate_bp"]) == (need.term_months, answer.rate_bp)
    again = client.post(f"/api/v1/applications/{application.id}/confirm", headers=headers)
    assert again.status_code == 200  # the same key: the same answer, nothing applied twice
    assert db_session.scalar(sa.select(sa.func.count()).select_from(ApplicationEvent).where(
        ApplicationEvent.application_id == application.id)) == 1


def test_revoking_the_authorization_withdraws_the_answers_resting_on_it(app, db_session, market):
    publish(market["enterprise"])
    need = published(db_session, market)
    before = answers(db_session, need.id)
    authorization_id = before[market["banks"]["A"].id].authorization_id
    client = market["enterprise"]
    path = f"/enterprise/authorizations/{authorization_id}/revoke"
    assert client.post(path, data={"csrf_token": csrf_token(client, "/enterprise/authorizations")}).status_code == 302
    db_session.expire_all()
    withdrawn = answers(db_session, need.id, "withdrawn")
    assert {market["banks"][n].id for n in "AB"} <= set(withdrawn)
    assert all(w.withdrawn_reason == "authorization_changed" for w in withdrawn.values())
    now = answers(db_session, need.id)
    assert all(not a.approved and a.reason_code == "no_authorization" for a in now.values())
    officer = logged_in(app, market["officers"]["A"])
    application = db_session.scalar(sa.select(Application).where(Application.need_id == need.id,
                                                                 Application.bank_id == market["banks"]["A"].id))
    response = officer.post(f"/bank/applications/{application.id}/confirm",
                            data={"csrf_token": page_csrf(officer), "idempotency_key": "after-revoke"})
    assert response.status_code == 302
    assert db_session.get(Application, application.id).state.value == "matched"


def test_a_bank_model_policy_never_scores_without_a_live_authorization(app, db_session, market, make_bank_model):
    bank = market["banks"]["C"]
    _sample, version = make_bank_model(bank)
    version.is_active = True
    policy = db_session.get(CreditPolicy, market["products"]["C"].id)
    policy.model = "bank"
    db_session.commit()
    publish(market["enterprise"])
    need = published(db_session, market)
    answer = answers(db_session, need.id)[bank.id]
    assert answer.reason_code == "no_authorization"
    assert answer.pd_12m is None
    assert db_session.scalar(sa.select(sa.func.count()).select_from(BankScore)) == 0


def test_a_policy_says_what_is_wrong_with_it(app, db_session, market):
    officer = logged_in(app, market["officers"]["A"])
    path = f"/bank/products/{market['products']['A'].id}/policy"
    page = text(officer.get(path))
    assert "本行尚未启用联合模型" in page
    form = {"model": "platform", "max_pd": "", "min_band": "", "sales_share": "10", "valid_days": "30",
            "rate_AA": "9.5", "csrf_token": page_csrf(officer)}
    response = officer.post(path, data=form)
    assert response.status_code == 422
    body = text(response)
    assert "请至少设置一项准入门槛" in body
    assert "各等级的利率须在产品的利率区间内" in body
    response = officer.post(path, data={**form, "model": "bank", "min_band": "A", "rate_AA": "3.5"})
    assert response.status_code == 422
    assert "请先在建模沙箱中训练并启用一个版本" in text(response)
    response = officer.post(path, data={**form, "min_band": "A", "rate_AA": "3.5"})
    assert response.status_code == 302
    policy = db_session.get(CreditPolicy, market["products"]["A"].id)
    assert (policy.min_band, policy.sales_share_bp, policy.rate_by_band) == ("A", 1000, {"AA": 350})
