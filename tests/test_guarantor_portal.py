"""银担合作 through the app (issue 18 item 4): the operator onboards a guarantor, its staff list guarantee products,
a bank's product requires a platform guarantor, the bank asks for the guarantee, the guarantor answers on its
own pages (seeing enterprise detail only under an authorization naming it, audited), and the bank approves and
disburses. Refusals are said in the user's language."""

from __future__ import annotations

import html
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import utcnow
from models.consent import Authorization
from models.guarantee import Guarantee, GuaranteeProduct, GuaranteeStatus, Guarantor
from models.identity import Role, User
from models.lending import ApplicationState, FinancingNeed, GuaranteeType, Product
from tests.conftest import TEST_PASSWORD, FreshContextClient, csrf_token
from xinyidai.domain.passwords import hash_password
from xinyidai.extensions import db

S = ApplicationState
TODAY = date.today()
APPROVAL = {"amount": "500000", "term_months": "12", "rate": "3.50"}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def post(client, path, data, form_page=None):
    response = client.post(path, data={**data, "csrf_token": csrf_token(client, form_page or path)})
    db.session.expire_all()
    return response


def browser(app, user):
    client = FreshContextClient(app, app.response_class, use_cookies=True)
    response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    return client


@pytest.fixture
def setting(app, db_session, make_bank, make_guarantor, make_user, make_product, make_enterprise, make_application):
    """A bank whose product requires a guarantor, a claimed-to-be application of it, and two guarantors."""
    bank = make_bank()
    guarantor, other = make_guarantor(), make_guarantor()
    product = make_product(bank=bank, guarantee_type=GuaranteeType.GUARANTEE_COMPANY, guarantor_required=True)
    enterprise = make_enterprise()
    need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                         guarantee_types=["担保公司"])
    db_session.add(need)
    db_session.flush()
    application = make_application(product=product, need=need)
    officer = make_user(Role.BANK, bank_id=bank.id, is_tenant_admin=True)
    staff = make_user(Role.GUARANTOR, guarantor_id=guarantor.id, is_tenant_admin=True)
    stranger = make_user(Role.GUARANTOR, guarantor_id=other.id)
    owner = make_user(Role.ENTERPRISE, enterprise_uscc=enterprise.uscc, is_tenant_admin=True)
    db_session.commit()
    return {"bank": browser(app, officer), "guarantor": browser(app, staff), "stranger": browser(app, stranger),
            "enterprise": browser(app, owner), "application": application, "product": product,
            "guarantee_product": guarantor.test_product, "guarantor_row": guarantor, "enterprise_row": enterprise,
            "owner": owner}


def bank_path(s):
    return f"/bank/applications/{s['application'].id}"


def guarantor_path(s):
    return f"/guarantor/applications/{s['application'].id}"


def ask_for_guarantee(s):
    bank, path = s["bank"], bank_path(s)
    assert post(bank, f"{path}/claim", {"idempotency_key": "c1"}, path).status_code == 302
    return post(bank, f"{path}/guarantee", {"idempotency_key": "g1",
                                            "guarantee_product_id": str(s["guarantee_product"].id)}, path)


def test_claim_guarantee_accepted_approved_disbursed_over_http(setting, db_session):
    s, application = setting, setting["application"]
    bank, path = s["bank"], bank_path(s)
    assert post(bank, f"{path}/claim", {"idempotency_key": "c1"}, path).status_code == 302
    page = text(bank.get(path))
    assert "申请担保" in page
    assert s["guarantee_product"].name_zh in page  # the guarantee products on offer
    refused = post(bank, f"{path}/approve", {"idempotency_key": "a0", **APPROVAL}, path)
    assert refused.status_code == 409
    assert "须经平台担保机构同意担保后才能审批" in text(refused)
    requested = post(bank, f"{path}/guarantee", {"idempotency_key": "g1",
                                                 "guarantee_product_id": str(s["guarantee_product"].id)}, path)
    assert requested.status_code == 302
    assert application.state is S.GUARANTEE_REQUESTED
    # the guarantor's inbox has it; another guarantor's has nothing and its page is a 404
    assert f"#{application.id}" in text(s["guarantor"].get("/guarantor/applications?status=requested"))
    assert f"#{application.id}" not in text(s["stranger"].get("/guarantor/applications"))
    assert s["stranger"].get(guarantor_path(s)).status_code == 404
    gpath = guarantor_path(s)
    too_dear = post(s["guarantor"], f"{gpath}/accept", {"idempotency_key": "x1", "fee_rate": "2.00",
                                                        "coverage": "80"}, gpath)
    assert too_dear.status_code == 409
    assert "担保费率须在 0 到担保产品费率 1.00% 之间" in text(too_dear)
    accepted = post(s["guarantor"], f"{gpath}/accept", {"idempotency_key": "x2", "fee_rate": "0.80",
                                                        "coverage": "70"}, gpath)
    assert accepted.status_code == 302
    assert application.state is S.GUARANTEED
    assert (application.guarantee_fee_bp, application.guarantee_coverage_bp) == (80, 7000)
    bank_page = text(bank.get(path))
    assert "担保费率 0.80%，担保比例 70.00%" in bank_page
    assert post(bank, f"{path}/approve", {"idempotency_key": "a1", **APPROVAL}, path).status_code == 302
    disbursed = post(bank, f"{path}/disburse", {"idempotency_key": "d1", "amount": "500000", "rate": "3.50",
                                                "term_months": "12", "disbursed_on": TODAY.isoformat(),
                                                "guarantee_type": "担保公司"}, path)
    assert disbursed.status_code == 302
    assert application.state is S.DISBURSED
    assert [e.to_state for e in application.events] == [S.CLAIMED, S.GUARANTEE_REQUESTED, S.GUARANTEED, S.APPROVED,
                                                          S.DISBURSED]
    # the enterprise follows the step on its own application page
    assert "担保机构同意担保：担保费率 0.80%，担保比例 70.00%" in text(s["enterprise"].get(f"/enterprise/applications/{application.id}"))


def test_refusals_are_said_in_english_to_an_english_user(setting):
    s = setting
    bank, path = s["bank"], bank_path(s)
    post(bank, f"{path}/claim", {"idempotency_key": "c1"}, path)
    bank.get(f"{path}?lang=en")
    refused = post(bank, f"{path}/approve", {"idempotency_key": "a0", **APPROVAL}, path)
    assert refused.status_code == 409
    assert "needs a guarantee accepted by a platform guarantor" in text(refused)
    post(bank, f"{path}/guarantee", {"idempotency_key": "g1", "guarantee_product_id": str(s["guarantee_product"].id)},
         path)
    gpath = guarantor_path(s)
    s["guarantor"].get(f"{gpath}?lang=en")
    too_wide = post(s["guarantor"], f"{gpath}/accept", {"idempotency_key": "x1", "fee_rate": "1.00",
                                                        "coverage": "95"}, gpath)
    assert too_wide.status_code == 409
    assert "the coverage must be above 0 and at most the product's 80%" in text(too_wide)
    no_words = post(s["guarantor"], f"{gpath}/decline", {"idempotency_key": "x2", "reason_code": "other"}, gpath)
    assert no_words.status_code == 422
    assert "选择“其他原因”时须写明具体原因" not in text(no_words)  # said in English, beside the field


def test_a_declined_guarantee_shows_the_reason_to_the_bank_which_keeps_its_claim(setting, db_session):
    s, application = setting, setting["application"]
    assert ask_for_guarantee(s).status_code == 302
    gpath = guarantor_path(s)
    declined = post(s["guarantor"], f"{gpath}/decline", {"idempotency_key": "x1",
                                                         "reason_code": "insufficient_counter_guarantee",
                                                         "reason_text": "请补充房产反担保"}, gpath)
    assert declined.status_code == 302
    assert application.state is S.CLAIMED
    page = text(s["bank"].get(bank_path(s)))
    assert "反担保措施不足" in page
    assert "请补充房产反担保" in page
    guarantee = db_session.scalar(sa.select(Guarantee).where(Guarantee.application_id == application.id))
    assert guarantee.status is GuaranteeStatus.DECLINED
    # answered once: a second answer is refused, and the declining guarantor still sees its own history
    again = post(s["guarantor"], f"{gpath}/accept", {"idempotency_key": "x2", "fee_rate": "1", "coverage": "80"}, gpath)
    assert again.status_code == 409
    assert "已拒绝担保" in text(s["guarantor"].get(gpath))


def test_the_guarantor_sees_enterprise_detail_only_under_an_authorization_naming_it(setting, db_session):
    s, enterprise = setting, setting["enterprise_row"]
    assert ask_for_guarantee(s).status_code == 302
    gpath = guarantor_path(s)
    db_session.add(Authorization(uscc=enterprise.uscc, sources=["tax"], all_banks=True, granted_by_id=s["owner"].id,
                                 expires_at=utcnow() + timedelta(days=30)))
    db_session.commit()
    anonymous = text(s["guarantor"].get(gpath))
    assert enterprise.uscc not in anonymous  # "all banks" does not name a guarantor
    assert 'id="anonymous"' in anonymous
    form = "/enterprise/authorizations"
    granted = post(s["enterprise"], form, {"sources": ["tax", "public_credit"], "scope": "chosen",
                                           "guarantor_ids": [str(s["guarantor_row"].id)],
                                           "expires_on": (TODAY + timedelta(days=60)).isoformat()}, form)
    assert granted.status_code == 302, text(granted)[:2000]
    page = text(s["guarantor"].get(gpath))
    assert enterprise.uscc in page
    assert enterprise.name in page
    view = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "view_credit_detail",
                                                          AuditEntry.subject_uscc == enterprise.uscc)).all()[-1]
    assert view.detail["guarantor_id"] == s["guarantor_row"].id
    # the enterprise sees who looked, by name
    assert s["guarantor_row"].name_zh in text(s["enterprise"].get(form))


def test_a_bank_product_can_name_its_guarantor(app, db_session, make_user, make_guarantor, make_bank):
    guarantor = make_guarantor()
    officer = make_user(Role.BANK, bank_id=make_bank().id, is_tenant_admin=True)
    db_session.commit()
    bank = browser(app, officer)
    page = text(bank.get("/bank/products/new"))
    assert guarantor.name_zh in page
    form = {"code": "DBD", "name_zh": "担保贷", "name_en": "Guaranteed loan", "min_amount": "100000",
            "max_amount": "3000000", "min_term_months": "3", "max_term_months": "36", "min_rate": "3.00",
            "max_rate": "4.80", "fee": "0", "guarantee_type": "担保公司", "min_grade": "", "min_years_operating": "0",
            "status": "active"}
    refused = post(bank, "/bank/products/new", {**form, "guarantor_id": str(guarantor.id)})
    assert refused.status_code == 422
    assert "指定担保机构时须要求平台担保" in text(refused)
    saved = post(bank, "/bank/products/new", {**form, "guarantor_required": "y", "guarantor_id": str(guarantor.id)})
    assert saved.status_code == 302
    product = db_session.scalar(sa.select(Product).where(Product.bank_id == officer.bank_id))
    assert (product.guarantor_required, product.guarantor_id) == (True, guarantor.id)


def test_the_operator_onboards_a_guarantor_whose_administrator_lists_a_guarantee_product(app, db_session, make_user):
    admin = make_user(Role.ADMIN)
    db_session.commit()
    operator = browser(app, admin)
    form = {"code": "shsmefg", "name_zh": "上海市中小微企业政策性融资担保基金管理中心",
            "name_en": "Shanghai SME Policy Financing Guarantee Fund", "officer_display_name": "张敏",
            "officer_username": "guarantor-admin-1", "officer_email": "", "officer_phone": ""}
    created = post(operator, "/admin/guarantors", form)
    assert created.status_code == 200
    page = text(created)
    assert "已新增担保机构" in page
    guarantor = db_session.scalar(sa.select(Guarantor).where(Guarantor.code == "SHSMEFG"))
    staff = db_session.scalar(sa.select(User).where(User.username == "guarantor-admin-1"))
    assert (staff.role, staff.guarantor_id, staff.is_tenant_admin, staff.must_change_password) == (
        Role.GUARANTOR, guarantor.id, True, True)
    assert post(operator, "/admin/guarantors", form).status_code == 422  # the same code again
    assert "guarantor-admin-1" in text(operator.get(f"/admin/guarantors/{guarantor.id}"))
    audit = db_session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action == "guarantor_onboarded")).all()
    assert audit == ["guarantor_onboarded"]
    # its staff list a product; a coverage above 100 % is refused beside the field
    staff.must_change_password, staff.password_hash = False, hash_password(TEST_PASSWORD)
    db_session.commit()
    client = browser(app, staff)
    assert "上海市中小微企业政策性融资担保基金管理中心" in text(client.get("/guarantor/"))
    product = {"code": "pc1", "name_zh": "批次担保", "name_en": "", "fee_rate": "0.50", "coverage": "80",
               "max_amount": "10000000"}
    bad = post(client, "/guarantor/products", {**product, "coverage": "120"})
    assert bad.status_code == 422
    assert "担保比例须大于 0% 且不超过 100%" in text(bad)
    assert post(client, "/guarantor/products", product).status_code == 302
    row = db_session.scalar(sa.select(GuaranteeProduct).where(GuaranteeProduct.guarantor_id == guarantor.id))
    assert (row.code, row.fee_rate_bp, row.coverage_bp, row.max_amount_fen) == ("PC1", 50, 8000, 10_000_000_00)
    paused = post(client, f"/guarantor/products/{row.id}/status", {"status": "paused"}, "/guarantor/products")
    assert paused.status_code == 302
    assert row.status.value == "paused"


def test_a_deactivated_guarantor_staff_login_ends(setting, db_session, make_user, app):
    s = setting
    s["guarantor_row"].is_active = False
    db_session.commit()
    assert s["guarantor"].get("/guarantor/applications").status_code == 302  # back to the login page


def test_the_enterprise_follows_the_guarantee_step_in_both_languages(setting):
    s, application = setting, setting["application"]
    assert ask_for_guarantee(s).status_code == 302
    gpath = guarantor_path(s)
    post(s["guarantor"], f"{gpath}/decline", {"idempotency_key": "x1", "reason_code": "credit_record"}, gpath)
    path = f"/enterprise/applications/{application.id}"
    chinese = text(s["enterprise"].get(path))
    assert "银行已向担保机构申请担保（银担合作）" in chinese
    assert "担保机构未同意担保：信用记录不符合担保要求" in chinese
    english = text(s["enterprise"].get(f"{path}?lang=en"))
    assert "The guarantor did not accept the guarantee: credit record does not meet the guarantee's requirements" \
        in english


def test_the_api_shows_the_guarantee_states_and_refuses_an_approval_without_the_guarantee(app, setting, db_session):
    from xinyidai.domain.tokens import issue_token

    s, application = setting, setting["application"]
    bank = db_session.get(type(application.product.bank), application.bank_id)
    token = issue_token(db_session, bank, "core").token
    db_session.commit()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.post(f"/api/v1/applications/{application.id}/claim",
                    headers={**headers, "Idempotency-Key": "c1"}).status_code == 200
    refused = api.post(f"/api/v1/applications/{application.id}/approve", json={},
                       headers={**headers, "Idempotency-Key": "a1"})
    assert refused.status_code == 409
    assert "guarantee" in refused.get_json()["detail"] or "担保" in refused.get_json()["detail"]
    path = bank_path(s)
    post(s["bank"], f"{path}/guarantee", {"idempotency_key": "g1",
                                          "guarantee_product_id": str(s["guarantee_product"].id)}, path)
    shown = api.get(f"/api/v1/applications/{application.id}", headers=headers).get_json()
    assert shown["state"] == "guarantee_requested"
    spec = api.get("/api/v1/openapi.json").get_json()
    states = spec["components"]["schemas"]["ApplicationOut"]["properties"]["state"]["enum"]
    assert {"guarantee_requested", "guaranteed"} <= set(states)
    assert "guarantor_required" in spec["components"]["schemas"]["Product"]["properties"]
