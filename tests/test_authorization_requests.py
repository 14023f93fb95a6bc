"""请求授权 and the message thread: a bank that claimed a need from an enterprise that has not authorized it
asks; the enterprise is notified and grants or refuses in one step. Bank and enterprise write to each other
on the application, audited, with no contact details before the claim."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.consent import Authorization
from models.identity import Role
from models.lending import ApplicationState, FinancingNeed
from models.messages import Message
from tests.conftest import FreshContextClient, csrf_token
from xinyidai.extensions import db

S = ApplicationState
COMPANY = "上海授权请求测试有限公司"


@pytest.fixture
def pair(app, make_user, make_enterprise, make_bank, make_product, make_application, db_session):
    """A logged-in officer and a logged-in enterprise user (separate browsers) on one claimed application."""
    bank = make_bank()
    enterprise = make_enterprise(name=COMPANY)
    need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                         guarantee_types=["信用"])
    db_session.add(need)
    db_session.flush()
    application = make_application(product=make_product(bank=bank), need=need)
    officer = make_user(Role.BANK, bank_id=bank.id)
    owner = make_user(Role.ENTERPRISE, enterprise_uscc=enterprise.uscc, is_tenant_admin=True)
    db_session.commit()
    clients = {}
    for name, user in (("bank", officer), ("enterprise", owner)):
        client = FreshContextClient(app, app.response_class, use_cookies=True)
        assert client.post("/login", data={"username": user.username, "password": "correct horse battery staple",
                                           "csrf_token": csrf_token(client)}).status_code == 302
        clients[name] = client
    return {"application": application, "bank_id": bank.id, **clients}


def post(client, path, data=None, page="/account/password"):
    response = client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, page)})
    db.session.expire_all()
    return response


def text(response) -> str:
    return response.get_data(as_text=True)


def claim(pair) -> None:
    application = pair["application"]
    page = f"/bank/applications/{application.id}"
    assert post(pair["bank"], f"{page}/claim", {"idempotency_key": "claim-1"}, page).status_code == 302


def actions(name: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == name)))


def test_a_bank_asks_and_the_enterprise_grants_in_one_step(pair):
    application, bank_page = pair["application"], f"/bank/applications/{pair['application'].id}"
    assert "请求授权" not in text(pair["bank"].get(bank_page))  # not before the claim
    claim(pair)
    assert COMPANY not in text(pair["bank"].get(bank_page))
    asked = post(pair["bank"], f"{bank_page}/authorization-request", {"note": "为完成授信审查"}, bank_page)
    assert asked.status_code == 302
    assert "正在等待企业答复" in text(pair["bank"].get(bank_page))

    notifications = text(pair["enterprise"].get("/enterprise/notifications"))
    assert "请求您授权其查看信用信息" in notifications
    assert "为完成授信审查" in notifications
    assert "通知（" in notifications  # the navigation counts it
    request_id = actions("authorization_requested")[0].detail["request_id"]
    answered = post(pair["enterprise"], f"/enterprise/authorization-requests/{request_id}/answer",
                    {"decision": "grant"})
    assert answered.headers["Location"].endswith(f"/enterprise/applications/{application.id}")

    grant = db.session.scalar(sa.select(Authorization).where(Authorization.uscc == application.uscc))
    assert not grant.all_banks
    assert [b.id for b in grant.banks] == [pair["bank_id"]]
    assert COMPANY in text(pair["bank"].get(bank_page))  # the detail is there at once
    assert [e.detail["granted"] for e in actions("authorization_request_answered")] == [True]
    assert len(actions("authorization_granted")) == 1
    assert "请求授权" not in text(pair["bank"].get(bank_page))  # nothing left to ask for
    again = post(pair["enterprise"], f"/enterprise/authorization-requests/{request_id}/answer", {"decision": "grant"})
    assert again.status_code == 302
    assert "已经答复过" in text(pair["enterprise"].get("/enterprise/notifications"))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Authorization)
                             .where(Authorization.uscc == application.uscc)) == 1


def test_a_refusal_is_recorded_and_the_bank_sees_only_the_summary(pair):
    claim(pair)
    bank_page = f"/bank/applications/{pair['application'].id}"
    post(pair["bank"], f"{bank_page}/authorization-request", {}, bank_page)
    request_id = actions("authorization_requested")[0].detail["request_id"]
    post(pair["enterprise"], f"/enterprise/authorization-requests/{request_id}/answer", {"decision": "refuse"})
    page = text(pair["bank"].get(bank_page))
    assert "拒绝了本行的授权请求" in page
    assert COMPANY not in page
    assert db.session.scalar(sa.select(Authorization).where(Authorization.uscc == pair["application"].uscc)) is None


def test_a_request_needs_a_claim_and_only_one_is_pending(pair):
    bank_page = f"/bank/applications/{pair['application'].id}"
    assert post(pair["bank"], f"{bank_page}/authorization-request", {}, bank_page).status_code == 409
    claim(pair)
    assert post(pair["bank"], f"{bank_page}/authorization-request", {}, bank_page).status_code == 302
    assert post(pair["bank"], f"{bank_page}/authorization-request", {}, bank_page).status_code == 409
    assert len(actions("authorization_requested")) == 1


def test_bank_and_enterprise_write_on_the_application_and_it_is_audited(pair):
    application = pair["application"]
    bank_page, own_page = f"/bank/applications/{application.id}", f"/enterprise/applications/{application.id}"
    claim(pair)
    assert post(pair["bank"], f"{bank_page}/messages", {"body": "请补充近三个月的银行流水。"}, bank_page).status_code == 302
    assert "通知（2）" in text(pair["enterprise"].get("/enterprise/notifications"))  # the claim and the message
    assert "请补充近三个月的银行流水。" in text(pair["enterprise"].get(own_page))
    assert "通知（" not in text(pair["enterprise"].get("/enterprise/notifications"))  # opened: read
    assert post(pair["enterprise"], f"{own_page}/messages", {"body": "好的，明天上传。"}, own_page).status_code == 302
    assert "好的，明天上传。" in text(pair["bank"].get(bank_page))
    sent = actions("message_sent")
    assert [e.detail["side"] for e in sent] == ["bank", "enterprise"]
    assert all("流水" not in str(e.detail) for e in sent)  # the audit says who wrote, not what


def test_no_contact_details_before_the_claim(pair):
    application = pair["application"]
    bank_page, own_page = f"/bank/applications/{application.id}", f"/enterprise/applications/{application.id}"
    refused = post(pair["enterprise"], f"{own_page}/messages", {"body": "请打 138 1234 5678 联系我"}, own_page)
    assert refused.status_code == 422
    assert "不能包含电话、邮箱" in text(refused)
    assert "138 1234 5678" in text(refused)  # the input is kept to correct
    refused = post(pair["bank"], f"{bank_page}/messages", {"body": "邮件 officer@bank.example.cn"}, bank_page)
    assert refused.status_code == 422
    assert post(pair["bank"], f"{bank_page}/messages", {"body": "贵企业是否接受抵押？"}, bank_page).status_code == 302
    claim(pair)
    assert post(pair["enterprise"], f"{own_page}/messages", {"body": "电话 13812345678"}, own_page).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 2


def test_an_application_that_is_over_takes_no_more_messages(pair, db_session):
    application = pair["application"]
    application.state = S.DECLINED
    db_session.commit()
    own_page = f"/enterprise/applications/{application.id}"
    assert 'name="body"' not in text(pair["enterprise"].get(own_page))
    assert post(pair["enterprise"], f"{own_page}/messages", {"body": "为什么？"}, own_page).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


def test_another_banks_officer_cannot_read_or_write_the_thread(pair, make_user, app):
    stranger = make_user(Role.BANK)  # of a bank of its own
    client = FreshContextClient(app, app.response_class, use_cookies=True)
    client.post("/login", data={"username": stranger.username, "password": "correct horse battery staple",
                                "csrf_token": csrf_token(client)})
    path = f"/bank/applications/{pair['application'].id}"
    assert client.get(path).status_code == 404
    assert post(client, f"{path}/messages", {"body": "你好"}).status_code == 404
