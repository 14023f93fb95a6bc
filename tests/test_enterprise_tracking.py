"""Tracking: every application with its time line, withdrawing (notifications: test_enterprise_notifications)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from models.identity import Role
from models.lending import Application, ApplicationState, Channel, GuaranteeType
from tests.conftest import csrf_token
from xinyidai.domain import needs as operations
from xinyidai.domain.lifecycle import Actor, Disbursement, transition

S = ApplicationState


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def world(db_session, make_user, make_bank, make_product, login):
    owner = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    bank = make_bank(name_zh="松江农商银行")
    product = make_product(bank=bank, name_zh="科创信用贷")
    officer = make_user(Role.BANK, bank_id=bank.id)
    need, _fits = operations.publish_need(db_session, owner, {
        "amount_fen": 80_000_000, "term_months": 12, "purpose": "研发投入", "guarantee_types": ["信用"],
        "contact_preference": "线上"})
    db_session.commit()
    application = db_session.scalar(sa.select(Application).where(Application.need_id == need.id))
    login(owner)
    return {"owner": owner, "officer": officer, "application": application, "product": product, "need": need}


def bank_acts(db_session, world, *moves):
    actor = Actor(Channel.WEB, user_id=world["officer"].id)
    for state, detail in moves:
        transition(db_session, world["application"], state, actor, detail=detail)
    db_session.commit()


def test_time_line_shows_what_the_bank_did_in_plain_words(client, db_session, world):
    bank_acts(db_session, world, (S.CLAIMED, None), (S.APPROVED, None),
              (S.DISBURSED, {"disbursement": Disbursement(75_000_000, 385, 12, date(2026, 11, 20), GuaranteeType.CREDIT)}))
    page = text(client.get(f"/enterprise/applications/{world['application'].id}"))
    timeline = page.split('class="ent-timeline"')[1]
    order = ["平台把需求匹配给该产品", "银行受理了需求，将与您联系", "银行审批通过",
             "银行已放款：75 万元，年利率 3.85%，12 个月"]
    positions = [timeline.index(step) for step in order]
    assert positions == sorted(positions)
    assert "撤回申请" not in page  # past approval: no longer the enterprise's to withdraw
    listing = text(client.get("/enterprise/applications"))
    assert "松江农商银行" in listing
    assert "已放款" in listing


def test_a_decline_shows_the_banks_reason(client, db_session, world):
    bank_acts(db_session, world, (S.CLAIMED, None),
              (S.DECLINED, {"reason_code": "insufficient_guarantee", "reason_text": "需追加保证人"}))
    page = text(client.get(f"/enterprise/applications/{world['application'].id}"))
    assert "银行未予通过：担保或抵押不足" in page
    assert "需追加保证人" in page
    english = text(client.get(f"/enterprise/applications/{world['application'].id}?lang=en"))
    assert "insufficient guarantee or collateral" in english


def test_withdrawing_an_application_and_refusal_after_disbursement(client, db_session, world):
    path = f"/enterprise/applications/{world['application'].id}"
    response = client.post(path + "/withdraw", data={"csrf_token": csrf_token(client, path)}, follow_redirects=True)
    assert "申请已撤回。" in text(response)
    db_session.refresh(world["application"])
    assert world["application"].state is S.WITHDRAWN
    assert "您撤回了申请" in text(client.get(path))
    again = client.post(path + "/withdraw", data={"csrf_token": csrf_token(client, path)}, follow_redirects=True)
    assert "申请已处于终止状态" in text(again)


def test_tracking_pages_need_an_enterprise_login(client, db_session, world, make_user, login):
    client.post("/logout", data={"csrf_token": csrf_token(client, "/enterprise/needs")})
    assert client.get("/enterprise/applications").status_code == 302  # to the login page
    login(world["officer"])
    for path in ("/enterprise/applications", "/enterprise/needs", "/enterprise/profile", "/enterprise/authorizations",
                 "/enterprise/notifications", "/enterprise/staff"):
        assert client.get(path).status_code == 403, path
