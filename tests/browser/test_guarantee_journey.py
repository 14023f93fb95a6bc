"""银担合作 in a real browser (Chromium via Playwright, against gunicorn): a bank officer claims a matched need for a
product that requires a platform guarantor and asks for the guarantee; the guarantor's staff, in their own
browser, open the request (seeing the enterprise's detail under its authorization naming them) and accept with a
fee and coverage; the officer then approves and disburses."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from models.base import utcnow
from models.consent import Authorization
from models.enterprise import Enterprise, EnterpriseStatus, SizeClass
from models.guarantee import GuaranteeProduct, Guarantor
from models.identity import Role
from models.lending import Application, Bank, FinancingNeed, GuaranteeType, Product
from tests.browser.conftest import local_only_page, log_in, seed_database
from tests.conftest import TEST_PASSWORD, fresh_uscc
from tests.live_server import free_port, gunicorn, throwaway_database
from xinyidai.domain.users import new_user
from xinyidai.extensions import db

ENTERPRISE_NAME = "上海闵行担保测试有限公司"


@pytest.fixture(scope="module")
def guarantee_live(tmp_path_factory):
    """gunicorn over a database holding a bank with a guarantor-required product matched to an enterprise's need,
    a guarantor with one guarantee product, one login for each, and the enterprise's authorization naming the
    guarantor."""
    folder = tmp_path_factory.mktemp("guarantee-live")
    with throwaway_database(folder) as url:
        def seed():
            bank = Bank(code="GUARBANK", name_zh="闵行测试银行", name_en="Minhang Test Bank")
            guarantor = Guarantor(code="SHGUAR", name_zh="上海测试融资担保", name_en="Shanghai Test Guarantee")
            enterprise = Enterprise(uscc=fresh_uscc("310112"), name=ENTERPRISE_NAME, district_code="310112",
                                    industry_section="C", industry_division="39", established_on=date(2016, 3, 1),
                                    registered_capital_fen=200_000_000, status=EnterpriseStatus.OPERATING,
                                    size_class=SizeClass.SMALL)
            db.session.add_all([bank, guarantor, enterprise])
            db.session.flush()
            product = Product(bank_id=bank.id, code="DBD", name_zh="担保贷", name_en="Guaranteed Loan",
                              min_amount_fen=10_000_000, max_amount_fen=500_000_000, min_term_months=6,
                              max_term_months=36, min_rate_bp=330, max_rate_bp=450,
                              guarantee_type=GuaranteeType.GUARANTEE_COMPANY, guarantor_required=True,
                              guarantor_id=guarantor.id)
            need = FinancingNeed(uscc=enterprise.uscc, amount_fen=80_000_000, term_months=12,
                                 purpose="working_capital", guarantee_types=["担保公司"])
            db.session.add_all([product, need, GuaranteeProduct(
                guarantor_id=guarantor.id, code="PC", name_zh="批次担保", name_en="Batch guarantee", fee_rate_bp=100,
                coverage_bp=8000, max_amount_fen=1_000_000_000)])
            db.session.flush()
            db.session.add(Application(need_id=need.id, product_id=product.id, bank_id=bank.id, uscc=enterprise.uscc,
                                       match_rank=1.0))
            owner = new_user(username="guarantee-owner", display_name="企业负责人", role=Role.ENTERPRISE,
                             enterprise_uscc=enterprise.uscc, is_tenant_admin=True, password=TEST_PASSWORD)
            db.session.add_all([
                owner,
                new_user(username="guarantee-officer", display_name="银行客户经理", role=Role.BANK, bank_id=bank.id,
                         is_tenant_admin=True, password=TEST_PASSWORD),
                new_user(username="guarantee-staff", display_name="担保业务员", role=Role.GUARANTOR,
                         guarantor_id=guarantor.id, is_tenant_admin=True, password=TEST_PASSWORD),
            ])
            db.session.flush()
            grant = Authorization(uscc=enterprise.uscc, sources=["tax", "public_credit"], all_banks=True,
                                  granted_by_id=owner.id, expires_at=utcnow() + timedelta(days=30))
            grant.guarantors.append(guarantor)
            db.session.add(grant)
        seed_database(url, folder, seed)
        environment = {"XYD_INSTANCE_PATH": str(folder), "DATABASE_URL": url, "SECRET_KEY": "live-guarantee"}
        with gunicorn(environment, free_port()) as base_url:
            yield base_url


def state_badge(page) -> str:
    return page.locator("h1 .badge").inner_text().strip()


def test_a_guaranteed_application_goes_claim_guarantee_accepted_approved_disbursed(browser, guarantee_live):
    officer = local_only_page(browser, guarantee_live)
    staff = local_only_page(browser, guarantee_live)
    try:
        log_in(officer, "guarantee-officer")
        officer.wait_for_url("**/bank/")
        officer.goto("/bank/pipeline")
        officer.locator("tbody tr").first.locator("form[action$='/claim'] button").click()
        officer.wait_for_url("**/bank/applications/*")
        assert state_badge(officer) == "已受理"
        application_url = officer.url
        assert officer.locator("form[action$='/approve']").count() == 0  # no approval before the guarantee
        guarantee = officer.locator("form[action$='/guarantee']")
        assert "上海测试融资担保" in guarantee.locator("select[name=guarantee_product_id]").inner_text()
        guarantee.locator("button[type=submit]").click()
        officer.wait_for_url("**/bank/applications/*")
        assert state_badge(officer) == "待担保机构答复"

        log_in(staff, "guarantee-staff")
        staff.wait_for_url("**/guarantor/")
        staff.goto("/guarantor/applications?status=requested")
        staff.locator("tbody tr").first.locator("a").click()
        staff.wait_for_url("**/guarantor/applications/*")
        assert staff.locator("#authorized").count() == 1  # detail under the authorization naming the guarantor
        assert ENTERPRISE_NAME in staff.locator("section[aria-labelledby=ent-h]").inner_text()
        accept = staff.locator("form[action$='/accept']")
        accept.locator("input[name=fee_rate]").fill("0.8")
        accept.locator("input[name=coverage]").fill("70")
        accept.locator("button[type=submit]").click()
        staff.wait_for_url("**/guarantor/applications/*")
        assert state_badge(staff) == "担保已同意"
        assert "担保费率 0.80%，担保比例 70.00%" in staff.locator("table").first.inner_text()

        officer.goto(application_url)
        assert state_badge(officer) == "担保已同意"
        officer.click("form[action$='/approve'] button")
        officer.wait_for_url("**/bank/applications/*")
        assert state_badge(officer) == "已审批通过"
        disburse = officer.locator("form[action$='/disburse']")
        disburse.locator("input[name=amount]").fill("800000")
        disburse.locator("input[name=rate]").fill("3.60")
        disburse.locator("input[name=disbursed_on]").fill(date.today().isoformat())
        disburse.locator("button[type=submit]").click()
        officer.wait_for_url("**/bank/applications/*")
        assert state_badge(officer) == "已放款"
        history = officer.locator(".bank-history").inner_text()
        for step in ("已受理", "待担保机构答复", "担保已同意", "已审批通过", "已放款"):
            assert step in history
        for page in (officer, staff):
            assert page.external_requests == []
            assert page.console_errors == []
    finally:
        officer.context.close()
        staff.context.close()
