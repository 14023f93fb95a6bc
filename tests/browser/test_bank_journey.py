"""A bank officer in a real browser (Chromium via Playwright, against gunicorn): lists a product, finds the
matched need in the pipeline, claims, approves, disburses and reports repayment; the API docs render offline
under the site's Content-Security-Policy."""

from __future__ import annotations

from datetime import date

import pytest

from models.enterprise import Enterprise, EnterpriseStatus, SizeClass
from models.identity import Role
from models.lending import Bank, FinancingNeed
from tests.browser.conftest import local_only_page, log_in, seed_database
from tests.conftest import TEST_PASSWORD, fresh_uscc
from tests.live_server import free_port, gunicorn, throwaway_database
from xinyidai.domain.users import new_user
from xinyidai.extensions import db


@pytest.fixture(scope="module")
def bank_live(tmp_path_factory):
    """gunicorn over a migrated database holding one bank officer and one enterprise with an open need."""
    folder = tmp_path_factory.mktemp("bank-live")
    with throwaway_database(folder) as url:
        def seed():
            bank = Bank(code="BROWSERBANK", name_zh="黄浦江测试银行", name_en="Huangpu Test Bank")
            enterprise = Enterprise(uscc=fresh_uscc("310104"), name="上海徐汇浏览器测试有限公司", district_code="310104",
                                    industry_section="I", industry_division="65", established_on=date(2016, 3, 1),
                                    registered_capital_fen=200_000_000, status=EnterpriseStatus.OPERATING,
                                    size_class=SizeClass.SMALL)
            db.session.add_all([bank, enterprise])
            db.session.flush()
            db.session.add(FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12,
                                         purpose="working_capital", guarantee_types=["信用"]))
            db.session.add(new_user(username="browser-officer", display_name="浏览器客户经理", role=Role.BANK,
                                    bank_id=bank.id, is_tenant_admin=True, password=TEST_PASSWORD))
        seed_database(url, folder, seed)
        environment = {"XYD_INSTANCE_PATH": str(folder), "DATABASE_URL": url, "SECRET_KEY": "live-bank"}
        with gunicorn(environment, free_port()) as base_url:
            yield base_url


@pytest.fixture
def page(browser, bank_live):
    page = local_only_page(browser, bank_live)
    yield page
    page.context.close()


def state_badge(page) -> str:
    return page.locator("h1 .badge").inner_text().strip()


def test_an_officer_works_a_loan_from_product_to_repayment(page):
    log_in(page, "browser-officer")
    page.wait_for_url("**/bank/")
    page.goto("/bank/products/new")
    for name, value in {"code": "KCD1", "name_zh": "科创贷", "name_en": "Tech loan", "min_amount": "100000",
                        "max_amount": "3000000", "min_term_months": "3", "max_term_months": "36", "min_rate": "3.2",
                        "max_rate": "4.8"}.items():
        page.fill(f"input[name={name}]", value)
    page.click("form.bank-form button[type=submit]")
    page.wait_for_url("**/bank/products")
    assert "KCD1" in page.locator("table").inner_text()

    page.goto("/bank/pipeline")
    row = page.locator("tbody tr").first
    assert "500,000.00" in row.inner_text()
    row.locator("form[action$='/claim'] button").click()
    page.wait_for_url("**/bank/applications/*")
    assert state_badge(page) == "已受理"

    page.click("form[action$='/approve'] button")
    page.wait_for_url("**/bank/applications/*")
    assert state_badge(page) == "已审批通过"

    disburse = page.locator("form[action$='/disburse']")
    disburse.locator("input[name=amount]").fill("500000")
    disburse.locator("input[name=rate]").fill("3.85")
    disburse.locator("input[name=disbursed_on]").fill(date.today().isoformat())  # not before the claim made a moment ago
    disburse.locator("button[type=submit]").click()
    page.wait_for_url("**/bank/applications/*")
    assert state_badge(page) == "已放款"

    repayment = page.locator("form[action$='/repayment']")
    repayment.locator("select[name=status]").select_option("repaying")
    repayment.locator("input[name=as_of]").fill(date.today().isoformat())
    repayment.locator("input[name=outstanding]").fill("480000")
    repayment.locator("button[type=submit]").click()
    page.wait_for_url("**/bank/applications/*")
    assert state_badge(page) == "还款中"

    page.goto("/bank/dashboard")
    assert page.locator(".stat__value").first.inner_text().strip() == "1"
    assert page.external_requests == []
    assert page.console_errors == []


def test_api_docs_render_offline_under_the_content_security_policy(page):
    page.goto("/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "XinYiDai" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector('[data-path="/api/v1/applications/{application_id}/repayment"]')
    assert page.external_requests == []
    assert [error for error in page.console_errors if "Content Security Policy" in error] == []
