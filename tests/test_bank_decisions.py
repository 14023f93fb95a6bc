"""A bank's decisions as the enterprise lives them: a decline asks first, "其他原因" needs words, the
enterprise reads the reason and a next step; an approval records the approved amount, term and rate; pausing a
product withdraws its matches nobody has claimed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from models.identity import Role
from models.lending import Application, ApplicationState, Channel, FinancingNeed, Product
from tests.conftest import FreshContextClient, csrf_token
from xinyidai.domain.lifecycle import Actor, IllegalTransition, transition
from xinyidai.extensions import db

S = ApplicationState


@pytest.fixture
def setting(app, make_user, make_enterprise, make_bank, make_product, make_application, db_session):
    bank = make_bank()
    product = make_product(bank=bank, min_rate_bp=350)
    enterprise = make_enterprise()
    need = FinancingNeed(uscc=enterprise.uscc, amount_fen=80_000_000, term_months=24, purpose="working_capital",
                         guarantee_types=["信用"])
    db_session.add(need)
    db_session.flush()
    application = make_application(product=product, need=need)
    officer = make_user(Role.BANK, bank_id=bank.id)
    owner = make_user(Role.ENTERPRISE, enterprise_uscc=enterprise.uscc)
    db_session.commit()
    clients = {}
    for name, user in (("bank", officer), ("enterprise", owner)):
        client = FreshContextClient(app, app.response_class, use_cookies=True)
        client.post("/login", data={"username": user.username, "password": "correct horse battery staple",
                                    "csrf_token": csrf_token(client)})
        clients[name] = client
    return {"application": application, "product": product, "officer": officer, **clients}


def post(client, path, data, page):
    response = client.post(path, data={**data, "csrf_token": csrf_token(client, page)})
    db.session.expire_all()
    return response


def claimed(setting) -> str:
    page = f"/bank/applications/{setting['application'].id}"
    post(setting["bank"], f"{page}/claim", {"idempotency_key": "c"}, page)
    return page


def test_the_decline_form_asks_for_confirmation_and_other_needs_words(setting):
    page = claimed(setting)
    html = setting["bank"].get(page).get_data(as_text=True)
    assert 'data-confirm="确定拒绝这笔申请' in html
    refused = post(setting["bank"], f"{page}/decline", {"idempotency_key": "d", "reason_code": "other",
                                                        "reason_text": "  "}, page)
    assert refused.status_code == 422
    assert "须写明具体原因" in refused.get_data(as_text=True)
    assert db.session.get(Application, setting["application"].id).state is S.CLAIMED


def test_other_without_words_is_refused_on_every_channel(db_session, make_application):
    application = make_application()
    transition(db_session, application, S.CLAIMED, Actor(Channel.API))
    with pytest.raises(IllegalTransition):
        transition(db_session, application, S.DECLINED, Actor(Channel.API), detail={"reason_code": "other"})
    transition(db_session, application, S.DECLINED, Actor(Channel.CSV),
               detail={"reason_code": "other", "reason_text": "行业政策调整"})
    assert application.decline_reason_text == "行业政策调整"


def test_the_enterprise_reads_the_reason_and_a_next_step(setting):
    page = claimed(setting)
    post(setting["bank"], f"{page}/decline", {"idempotency_key": "d", "reason_code": "credit_record",
                                              "reason_text": "存在未修复的行政处罚"}, page)
    html = setting["enterprise"].get(f"/enterprise/applications/{setting['application'].id}").get_data(as_text=True)
    assert "银行未予通过：信用记录不符合要求" in html
    assert "存在未修复的行政处罚" in html
    assert "下一步：请在“信用画像”中查看相关记录和修复建议" in html
    english = setting["enterprise"].get(f"/enterprise/applications/{setting['application'].id}?lang=en")
    assert "Next step:" in english.get_data(as_text=True)


def test_an_approval_records_the_terms_and_the_enterprise_sees_them(setting):
    page = claimed(setting)
    form = setting["bank"].get(page).get_data(as_text=True)
    assert 'name="amount"' in form
    assert 'value="800000.00"' in form  # proposed from the need
    post(setting["bank"], f"{page}/approve", {"idempotency_key": "a", "amount": "600000", "term_months": "18",
                                              "rate": "3.85"}, page)
    application = db.session.get(Application, setting["application"].id)
    assert (application.state, application.approved_amount_fen, application.approved_term_months,
            application.approved_rate_bp) == (S.APPROVED, 60_000_000, 18, 385)
    html = setting["enterprise"].get(f"/enterprise/applications/{application.id}").get_data(as_text=True)
    assert "批准条件" in html
    assert "3.85%" in html
    disburse = setting["bank"].get(page).get_data(as_text=True)
    assert 'id="amount" name="amount" type="text" value="600000.00"' in disburse or 'value="600000.00"' in disburse


def test_an_approval_without_terms_is_a_field_error(setting):
    page = claimed(setting)
    response = post(setting["bank"], f"{page}/approve", {"idempotency_key": "a"}, page)
    assert response.status_code == 422
    assert db.session.get(Application, setting["application"].id).state is S.CLAIMED


def test_pausing_a_product_withdraws_its_untouched_matches(setting, make_application, db_session):
    product = setting["product"]
    untouched = make_application(product=product)
    db_session.commit()
    claimed(setting)  # the fixture's application is claimed: it stays with the officer
    post(setting["bank"], f"/bank/products/{product.id}/status", {"status": "paused"}, "/bank/products")
    assert db.session.get(Product, product.id).status.value == "paused"
    assert db.session.get(Application, untouched.id).state is S.WITHDRAWN
    assert db.session.get(Application, setting["application"].id).state is S.CLAIMED
    event = db.session.get(Application, untouched.id).events[-1]
    assert (event.channel, event.detail["reason"]) == (Channel.SYSTEM, "product_paused")
    assert db.session.scalar(sa.select(FinancingNeed.status).where(FinancingNeed.id == untouched.need_id)).value == "open"
