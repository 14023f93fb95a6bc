"""The bank workspace in a browser's shoes: CSRF-protected forms that keep input on error, the pipeline,
working an application from claim to repayment, the dashboard and its export, API tokens, CSV upload."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import utcnow
from models.consent import Authorization
from models.identity import ApiToken, Role
from models.lending import Application, FinancingNeed, LoanPerformance, Product
from tests.conftest import csrf_token
from xinyidai.extensions import db

TODAY = date.today()  # a disbursement is dated between its approval (today) and tomorrow


@pytest.fixture
def officer(make_user, make_bank, login):
    """A logged-in officer (tenant admin) of a fresh bank."""
    user = make_user(Role.BANK, bank_id=make_bank().id, is_tenant_admin=True)
    login(user)
    return user


def text(response) -> str:
    return response.get_data(as_text=True)


def post(client, path, data, form_page=None):
    response = client.post(path, data={**data, "csrf_token": csrf_token(client, form_page or path)})
    db.session.expire_all()  # the request ran in its own session; read what it committed
    return response


def open_match(db_session, make_enterprise, make_application, product, **need_fields):
    enterprise = make_enterprise(district_code=need_fields.pop("district_code", "310115"))
    need = FinancingNeed(uscc=enterprise.uscc, amount_fen=need_fields.pop("amount_fen", 50_000_000), term_months=12,
                         purpose="working_capital", guarantee_types=["信用"], **need_fields)
    db_session.add(need)
    db_session.flush()
    return make_application(product=product, need=need)


APPROVAL = {"amount": "500000", "term_months": "12", "rate": "3.50"}
PRODUCT_FORM = {"code": "KC9", "name_zh": "科创贷", "name_en": "Tech loan", "min_amount": "100000",
                "max_amount": "3000000", "min_term_months": "3", "max_term_months": "36", "min_rate": "3.00",
                "max_rate": "4.80", "fee": "0", "guarantee_type": "信用", "min_grade": "", "min_years_operating": "0",
                "status": "active"}


def test_a_form_without_csrf_is_refused(client, officer):
    response = client.post("/bank/products/new", data=PRODUCT_FORM)
    assert response.status_code == 400


def test_listing_a_product_and_a_form_error_keeps_the_input(client, officer, db_session):
    bad = post(client, "/bank/products/new", {**PRODUCT_FORM, "min_rate": "6.00"})
    assert bad.status_code == 422
    page = text(bad)
    assert "利率下限不能高于上限" in page
    assert 'value="科创贷"' in page
    good = post(client, "/bank/products/new", PRODUCT_FORM)
    assert good.status_code == 302
    product = db_session.scalar(sa.select(Product).where(Product.bank_id == officer.bank_id))
    assert product.min_amount_fen == 10_000_000
    assert product.max_rate_bp == 480
    assert "KC9" in text(client.get("/bank/products"))
    paused = post(client, f"/bank/products/{product.id}/status", {"status": "paused"}, "/bank/products")
    assert paused.status_code == 302
    assert product.status.value == "paused"
    edit = client.get(f"/bank/products/{product.id}/edit")
    assert 'value="3000000.00"' in text(edit)


def test_working_an_application_from_claim_to_repayment(client, officer, db_session, make_product, make_enterprise,
                                                        make_application):
    product = make_product(bank=_bank(db_session, officer))
    application = open_match(db_session, make_enterprise, make_application, product)
    path = f"/bank/applications/{application.id}"
    pipeline = text(client.get("/bank/pipeline"))
    assert f"#{application.id}" in pipeline
    assert post(client, f"{path}/claim", {"idempotency_key": "web-c1"}, path).status_code == 302
    assert application.state.value == "claimed"
    assert application.claimed_by_id == officer.id
    assert f"#{application.id}" not in text(client.get("/bank/pipeline"))
    assert post(client, f"{path}/approve", {"idempotency_key": "web-a1", **APPROVAL}, path).status_code == 302
    missing = post(client, f"{path}/disburse", {"idempotency_key": "web-d1", "amount": "400000", "rate": "3.85",
                                               "term_months": "12", "guarantee_type": "信用"}, path)
    assert missing.status_code == 422
    assert 'value="400000"' in text(missing)
    disbursed = post(client, f"{path}/disburse", {"idempotency_key": "web-d1", "amount": "400000", "rate": "3.85",
                                                 "term_months": "12", "disbursed_on": TODAY.isoformat(),
                                                 "guarantee_type": "信用"}, path)
    assert disbursed.status_code == 302
    assert application.disbursed_amount_fen == 40_000_000
    assert application.rate_bp == 385
    overdue = post(client, f"{path}/repayment", {"idempotency_key": "web-r1", "status": "overdue",
                                                "as_of": TODAY.isoformat(), "outstanding": "400000"}, path)
    assert overdue.status_code == 422
    assert "逾期天数" in text(overdue)
    ok = post(client, f"{path}/repayment", {"idempotency_key": "web-r1", "status": "overdue", "days_past_due": "12",
                                           "as_of": TODAY.isoformat(), "outstanding": "400000"}, path)
    assert ok.status_code == 302
    assert application.state.value == "overdue"
    assert db_session.get(LoanPerformance, (application.id, TODAY)) is not None


def _bank(db_session, officer):
    from models.lending import Bank

    return db_session.get(Bank, officer.bank_id)


def test_a_double_submitted_form_is_applied_once(client, officer, db_session, make_product, make_enterprise,
                                                 make_application):
    application = open_match(db_session, make_enterprise, make_application, make_product(bank=_bank(db_session, officer)))
    path = f"/bank/applications/{application.id}"
    post(client, f"{path}/claim", {"idempotency_key": "same-click"}, path)
    again = post(client, f"{path}/claim", {"idempotency_key": "same-click"}, path)
    assert again.status_code == 302
    assert "未重复执行" in text(client.get(path))


def test_an_illegal_move_is_409_with_a_plain_reason(client, officer, db_session, make_product, make_enterprise,
                                                    make_application):
    application = open_match(db_session, make_enterprise, make_application, make_product(bank=_bank(db_session, officer)))
    path = f"/bank/applications/{application.id}"
    response = post(client, f"{path}/approve", {"idempotency_key": "k", **APPROVAL}, path)
    assert response.status_code == 409
    assert "不能把申请从“matched”改为“approved”" in text(response)


def test_enterprise_detail_needs_authorization_and_every_view_is_audited(client, officer, db_session, make_product,
                                                                         make_enterprise, make_application, make_user):
    application = open_match(db_session, make_enterprise, make_application, make_product(bank=_bank(db_session, officer)))
    from models.enterprise import Enterprise

    name = db_session.get(Enterprise, application.uscc).name
    path = f"/bank/applications/{application.id}"
    assert application.uscc not in text(client.get(path))
    owner = make_user(Role.ENTERPRISE, enterprise_uscc=application.uscc)
    grant = Authorization(uscc=application.uscc, sources=["tax", "social_insurance"], all_banks=True,
                          granted_by_id=owner.id, granted_at=utcnow() - timedelta(hours=1),
                          expires_at=utcnow() + timedelta(days=90))
    db_session.add(grant)
    db_session.commit()
    page = text(client.get(path))
    assert application.uscc in page
    assert name in page
    client.get(path)
    views = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "view_credit_detail",
                                                           AuditEntry.subject_uscc == application.uscc)).all()
    assert len(views) == 2
    assert {v.authorization_id for v in views} == {grant.id}
    assert {v.actor_user_id for v in views} == {officer.id}


def test_dashboard_and_its_export(client, officer, db_session, make_product, make_enterprise, make_application):
    product = make_product(bank=_bank(db_session, officer), code="DASH1")
    application = open_match(db_session, make_enterprise, make_application, product)
    path = f"/bank/applications/{application.id}"
    post(client, f"{path}/claim", {"idempotency_key": "c"}, path)
    post(client, f"{path}/approve", {"idempotency_key": "a", **APPROVAL}, path)
    page = client.get("/bank/dashboard")
    assert page.status_code == 200
    assert "DASH1" in text(page)
    export = client.get("/bank/dashboard.csv")
    assert export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(text(export).lstrip("\ufeff"))))
    assert rows[1][:5] == ["DASH1", product.name_zh, "1", "1", "1"]
    assert rows[1][9] == "1.0000"
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "export", AuditEntry.actor_user_id == officer.id)) == 1


def test_only_the_banks_admin_manages_tokens_and_sees_each_once(client, officer, db_session, make_user, login):
    page = post(client, "/bank/tokens", {"name": "core banking"})
    assert page.status_code == 200
    token = re.search(r"(xyd_[A-Za-z0-9_-]{40,})", text(page)).group(1)
    assert page.headers["Cache-Control"] == "no-store"
    assert token not in text(client.get("/bank/tokens"))
    row = db_session.scalar(sa.select(ApiToken).where(ApiToken.bank_id == officer.bank_id))
    assert client.get("/api/v1/products", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert post(client, f"/bank/tokens/{row.id}/revoke", {}, "/bank/tokens").status_code == 302
    assert client.get("/api/v1/products", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    colleague = make_user(Role.BANK, bank_id=officer.bank_id)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/bank/products")})
    login(colleague)
    assert client.get("/bank/tokens").status_code == 403


UPLOAD_HEADER = "application_id,outcome,reason_code,reason_text,amount_yuan,rate_percent,term_months,disbursed_on,guarantee_type,days_past_due,as_of,outstanding_yuan\n"


def upload(client, content: str):
    token = csrf_token(client, "/bank/outcomes/upload")
    response = client.post("/bank/outcomes/upload", content_type="multipart/form-data",
                           data={"csrf_token": token, "file": (io.BytesIO(content.encode()), "outcomes.csv")})
    db.session.expire_all()
    return response


def test_csv_upload_keeps_good_rows_and_the_same_file_twice_is_a_no_op(client, officer, db_session, make_product,
                                                                       make_enterprise, make_application):
    product = make_product(bank=_bank(db_session, officer))
    first, second, third = (open_match(db_session, make_enterprise, make_application, product) for _ in range(3))
    foreign = make_application()
    db_session.commit()
    content = UPLOAD_HEADER + "\n".join([
        f"{first.id},claimed,,,,,,,,,,",
        f"{first.id},approved,,,,,,,,,,",
        f"{first.id},disbursed,,,500000,3.85,12,{TODAY},信用,,,",
        f"{second.id},claimed,,,,,,,,,,",
        f"{second.id},declined,credit_record,纳税信用 D 级,,,,,,,,",
        f"{third.id},approved,,,,,,,,,,",             # illegal: not claimed yet
        f"{third.id},declined,,,,,,,,,,",             # no reason code
        f"{foreign.id},claimed,,,,,,,,,,",            # another bank's application
        "abc,claimed,,,,,,,,,,",                      # not a number
    ]) + "\n"
    response = upload(client, content)
    assert response.status_code == 200
    assert first.state.value == "disbursed"
    assert first.disbursed_amount_fen == 50_000_000
    assert second.state.value == "declined"
    assert third.state.value == "matched"
    assert db_session.get(Application, foreign.id).state.value == "matched"
    page = text(response)
    assert "本行没有这笔申请" in page
    result_link = re.search(r'href="(/bank/outcomes/results/[^"]+)"', page).group(1)
    with client.get(result_link) as results_file:
        results = list(csv.DictReader(io.StringIO(results_file.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r["result"] for r in results] == ["applied"] * 5 + ["rejected"] * 4
    assert "reason_code" in results[6]["message"]
    again = upload(client, content)
    assert again.status_code == 200
    assert "此前已保存 5 行" in text(again)
    events = db_session.scalar(sa.select(sa.func.count()).select_from(Application).where(Application.id == first.id))
    assert events == 1
    assert len(first.events) == 3


@pytest.mark.parametrize(("lang", "guarantee", "allowed"), [("zh", "信用", "允许的值："), ("en", "credit", "Allowed values: ")])
def test_the_upload_template_says_what_each_column_allows_and_uploads_as_it_is(client, officer, db_session, make_product,
                                                                              make_enterprise, make_application, lang,
                                                                              guarantee, allowed):
    product = make_product(bank=_bank(db_session, officer))
    application = open_match(db_session, make_enterprise, make_application, product)
    db_session.commit()
    client.get(f"/bank/outcomes/upload?lang={lang}")
    page = text(client.get("/bank/outcomes/upload"))
    assert 'href="/bank/outcomes/template.csv"' in page
    response = client.get("/bank/outcomes/template.csv")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    template = response.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(template)))
    assert rows[0] == UPLOAD_HEADER.strip().split(",")
    notes = dict(zip(rows[0], rows[1], strict=True))
    assert notes["application_id"].startswith("# " + allowed)
    assert "claimed | approved | declined | disbursed" in notes["outcome"]
    assert "credit_record" in notes["reason_code"]
    assert guarantee in notes["guarantee_type"]
    examples = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[2:]}
    assert set(examples) >= {"claimed", "approved", "declined", "disbursed", "repaying", "overdue", "repaid"}
    assert examples["disbursed"]["guarantee_type"] == guarantee
    # filled in below the notes and uploaded as it is: the notes are skipped, the real rows applied
    filled = template + "\n".join([f"{application.id},claimed,,,,,,,,,,",
                                   f"{application.id},approved,,,,,,,,,,",
                                   f"{application.id},disbursed,,,500000,3.85,12,{TODAY},{guarantee},,,"]) + "\n"
    result = upload(client, filled)
    assert result.status_code == 200
    assert application.state.value == "disbursed"
    assert application.guarantee_type.value == "信用"
    assert result.get_data(as_text=True).count("bank-row--applied") == 3
    assert "bank-row--rejected" not in result.get_data(as_text=True)


def test_row_errors_are_in_the_page_language_and_show_the_offending_value(client, officer, db_session, make_product,
                                                                         make_enterprise, make_application):
    product = make_product(bank=_bank(db_session, officer))
    application = open_match(db_session, make_enterprise, make_application, product)
    db_session.commit()
    content = UPLOAD_HEADER + "\n".join([
        f"{application.id},approvedd,,,,,,,,,,",                       # not an outcome
        f"{application.id},disbursed,,,500000,3.85,12,{TODAY},vibes,,,",  # not a guarantee type
        f"{application.id},approved,,,,,,,,,,",                         # not claimed yet
        "99999999,claimed,,,,,,,,,,",                                   # not this bank's
    ]) + "\n"
    client.get("/bank/outcomes/upload?lang=en")
    page = text(upload(client, content)).split("<caption>What each column allows")[0]
    assert 'given:<code class="upload-problem__value">approvedd</code> is not a value this column allows. ' \
           "Required: the outcome reported" in page
    assert '<code class="upload-problem__value">vibes</code> is not a value this column allows.' in page
    assert "application_id</code> given:<code class=\"upload-problem__value\">99999999</code>" in page
    from tests.test_english_pages import chinese_on

    assert chinese_on(page.split("<caption>")[-1]) == []  # the row results speak English only
    client.get("/bank/outcomes/upload?lang=zh")
    chinese = text(upload(client, content))
    assert '所填：<code class="upload-problem__value">approvedd</code> 不是该列允许的值。 必填：要报送的结果' in chinese
    assert "本行没有这笔申请" in chinese
    link = re.search(r'href="(/bank/outcomes/results/[^"]+)"', chinese).group(1)
    with client.get(link) as results_file:
        results = list(csv.DictReader(io.StringIO(results_file.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r["value"] for r in results[:2]] == ["approvedd", "vibes"]
    assert results[0]["message"].startswith("outcome: 不是该列允许的值。")
    assert results[0]["message_en"].startswith("outcome: is not a value this column allows.")
    assert results[2]["message_en"]
    assert not chinese_on(results[2]["message_en"])


def test_an_approved_row_may_give_the_terms_approved_all_three_or_none(client, officer, db_session, make_product,
                                                                       make_enterprise, make_application):
    product = make_product(bank=_bank(db_session, officer))
    with_terms, partial = (open_match(db_session, make_enterprise, make_application, product) for _ in range(2))
    db_session.commit()
    content = UPLOAD_HEADER + "\n".join([
        f"{with_terms.id},claimed,,,,,,,,,,", f"{with_terms.id},approved,,,300000,3.95,24,,,,,",
        f"{partial.id},claimed,,,,,,,,,,", f"{partial.id},approved,,,300000,,,,,,,",
    ]) + "\n"
    page = text(upload(client, content))
    assert (with_terms.state.value, with_terms.approved_amount_fen, with_terms.approved_rate_bp,
            with_terms.approved_term_months) == ("approved", 30_000_000, 395, 24)
    assert partial.state.value == "claimed"
    assert "<code>rate_percent</code> 此结果必须填写该列" in page


def test_an_upload_that_is_not_an_outcome_file_says_why(client, officer):
    response = upload(client, "name,amount\nfoo,1\n")
    assert response.status_code == 422
    assert "缺少必需的列" in text(response)


def test_authorized_detail_shows_profile_score_reasons_and_monthly_charts(client, officer, db_session, make_product,
                                                                          make_enterprise, make_application, make_user):
    from models.scoring import ModelVersion, Score, ScoreReason
    from models.sources import SocialInsuranceMonth, TaxMonth

    application = open_match(db_session, make_enterprise, make_application, make_product(bank=_bank(db_session, officer)))
    uscc = application.uscc
    db_session.add(ModelVersion(version="web-test", path="-", card={}))
    db_session.flush()
    score = Score(uscc=uscc, model_version="web-test", as_of=date(2026, 10, 31), pd_12m=0.02, points=712, grade="AA",
                  gates_passed=True)
    score.reasons = [ScoreReason(rank=1, family="tax", feature="sales_trend", contribution=-0.4)]
    db_session.add(score)
    for month in range(1, 13):
        db_session.add(TaxMonth(uscc=uscc, month=date(2026, month, 1) if month < 11 else date(2025, month, 1),
                                invoiced_sales_fen=month * 1_000_000, tax_paid_fen=month * 10_000, in_arrears=False))
        db_session.add(SocialInsuranceMonth(uscc=uscc, month=date(2025, month, 1), insured_headcount=10 + month,
                                            contributions_fen=500_000, months_in_arrears=0))
    owner = make_user(Role.ENTERPRISE, enterprise_uscc=uscc)
    grant = Authorization(uscc=uscc, sources=["tax"], all_banks=False, granted_by_id=owner.id,
                          granted_at=utcnow() - timedelta(hours=1), expires_at=utcnow() + timedelta(days=30))
    grant.banks = [_bank(db_session, officer)]
    db_session.add(grant)
    db_session.commit()
    page = text(client.get(f"/bank/applications/{application.id}"))
    assert "712" in page
    assert "纳税：近半年开票销售额走势表现良好，提升了评分" in page  # the reason in words, never the feature code
    assert "sales_trend" not in page
    english = text(client.get(f"/bank/applications/{application.id}?lang=en"))
    assert "Tax: invoiced sales trend over six months raised the score" in english
    assert "近 12 个月开票销售额" in page
    assert "近 12 个月参保人数" not in page  # social insurance is outside the authorization's sources
    assert "AA" in page


def test_the_refusal_reason_follows_the_page_language(client, officer, db_session, make_product, make_enterprise,
                                                      make_application):
    application = open_match(db_session, make_enterprise, make_application, make_product(bank=_bank(db_session, officer)))
    path = f"/bank/applications/{application.id}"
    client.get(f"{path}?lang=en")
    response = post(client, f"{path}/approve", {"idempotency_key": "k-en", **APPROVAL}, path)
    assert response.status_code == 409
    assert "an application cannot move from matched to approved" in text(response)
