"""An SME in a real browser on a phone-sized screen: registers by USCC, authorizes one bank, publishes a need
(after one typing mistake), sees its matches and a near miss, and sees the bank's claim in its time line."""

from __future__ import annotations

from datetime import date

import pytest

from models.enterprise import Enterprise, EnterpriseStatus, SizeClass
from models.identity import Role
from models.lending import Bank, GuaranteeType, Product
from tests.browser.conftest import local_only_page, log_in, seed_database
from tests.conftest import TEST_PASSWORD, fresh_uscc
from tests.live_server import free_port, gunicorn, throwaway_database
from xinyidai.domain.users import new_user
from xinyidai.extensions import db

ENTERPRISE_NAME = "上海松江旅程精密制造有限公司"
BANK_NAME = "松江旅程银行"
OFFICER = "live-journey-officer"


def seed_world() -> str:
    """A registry enterprise with no account yet, a bank with one fitting and one too-small product, its officer."""
    uscc = fresh_uscc("310117")
    bank = Bank(code="ENTJOURNEY", name_zh=BANK_NAME, name_en="Songjiang Journey Bank")
    db.session.add_all([bank, Enterprise(
        uscc=uscc, name=ENTERPRISE_NAME, district_code="310117", industry_section="C", industry_division="34",
        established_on=date(2016, 4, 1), registered_capital_fen=500_000_000, status=EnterpriseStatus.OPERATING,
        size_class=SizeClass.SMALL)])
    db.session.flush()
    common = {"bank_id": bank.id, "min_term_months": 3, "max_term_months": 36, "guarantee_type": GuaranteeType.CREDIT}
    db.session.add_all([
        Product(code="EJ1", name_zh="制造业信用贷", name_en="Manufacturing credit loan", min_amount_fen=10_000_000,
                max_amount_fen=500_000_000, min_rate_bp=320, max_rate_bp=420, fee_bp=50, **common),
        Product(code="EJ2", name_zh="小微快贷", name_en="Micro quick loan", min_amount_fen=1_000_000,
                max_amount_fen=100_000_000, min_rate_bp=300, max_rate_bp=380, **common),
        new_user(username=OFFICER, display_name="旅程客户经理", role=Role.BANK, bank_id=bank.id, password=TEST_PASSWORD),
    ])
    return uscc


@pytest.fixture(scope="module")
def journey_instance(tmp_path_factory):
    folder = tmp_path_factory.mktemp("enterprise-live")
    with throwaway_database(folder) as url:
        environment = {"XYD_INSTANCE_PATH": str(folder), "DATABASE_URL": url, "SECRET_KEY": "enterprise-live",
                       "XYD_RATELIMIT": "0"}
        uscc = seed_database(url, folder, seed_world)
        with gunicorn(environment, free_port()) as base_url:
            yield base_url, uscc


def fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")


def test_register_authorize_publish_see_matches_and_the_banks_claim(browser, journey_instance):
    base_url, uscc = journey_instance
    phone = local_only_page(browser, base_url, width=390, height=844)

    # register by USCC, name and contact
    phone.goto("/register")
    phone.fill("#uscc", uscc.lower())
    phone.fill("#name", ENTERPRISE_NAME)
    phone.fill("#contact_name", "陈静")
    phone.fill("#contact_phone", "13800001111")
    phone.fill("#contact_email", "chen.jing@example.com")
    phone.fill("#username", "songjiang-finance")
    phone.fill("#password", TEST_PASSWORD)
    phone.fill("#confirm_password", TEST_PASSWORD)
    phone.check("#acting_for")
    assert fits_the_phone(phone)
    phone.click("main form button[type=submit]")
    phone.wait_for_url("**/enterprise/authorizations")
    assert "注册成功" in phone.locator(".flash--success").inner_text()

    # authorize one bank to see two sources; the page says what it will and will not see
    phone.check("input[name=sources][value=tax]")
    phone.check("input[name=sources][value=social_insurance]")
    phone.check("input[name=scope][value=chosen]")
    phone.locator("fieldset#bank_ids label", has_text=BANK_NAME).click()
    phone.click("#grant button[type=submit]")
    assert "授权已生效" in phone.locator(".flash--success").inner_text()
    bank_block = phone.locator("li.ent-bank", has_text=BANK_NAME).inner_text()
    assert "税务（月度）" in bank_block
    assert "看不到" in bank_block
    assert "公共信用" in bank_block.split("看不到")[1]
    assert phone.locator(".ent-badge--live").count() == 1
    assert fits_the_phone(phone)

    # publish a need: one typing mistake first, kept and explained, then corrected
    phone.click("nav.site-nav >> text=融资需求")
    phone.click("text=发布新需求")
    phone.fill("#amount", "0.5")  # 5,000 yuan: below the smallest need
    phone.fill("#term_months", "12")
    phone.select_option("#purpose", "设备购置")
    phone.check("input[name=guarantee_types][value=信用]")
    phone.select_option("#contact_preference", "电话")
    phone.click("main form button[type=submit]")
    assert "金额须在 1 万元到 10 亿元之间" in phone.locator("#amount-error").inner_text()
    assert phone.input_value("#term_months") == "12"
    assert phone.locator(".form-errors").count() == 1
    phone.fill("#amount", "200")
    phone.click("main form button[type=submit]")
    phone.wait_for_url("**/enterprise/needs/*")

    # the matches at once: the fitting product with its annual cost and why; the too-small one says why not
    assert "找到 1 个匹配的产品" in phone.locator(".flash--success").inner_text()
    offer = phone.locator(".ent-offer", has_text="制造业信用贷").inner_text()
    assert BANK_NAME in offer
    assert "3.70% – 4.70%" in offer  # 3.20–4.20% plus a 0.5% fee over 12 months
    assert "为什么匹配" in offer
    near = phone.locator("section", has_text="差一点匹配的产品").inner_text()
    assert "小微快贷" in near
    assert "金额高于产品上限" in near
    assert fits_the_phone(phone)

    # the bank officer, on a desktop, sees the enterprise (authorized) and claims the need
    desk = local_only_page(browser, base_url)
    log_in(desk, OFFICER)
    desk.wait_for_url("**/bank/")
    desk.goto("/bank/pipeline")
    desk.locator("table a[href*='/bank/applications/']").first.click()
    assert ENTERPRISE_NAME in desk.content()
    desk.click("form[action$='/claim'] button")
    assert desk.locator(".flash--success").count() == 1

    # back on the phone: a notification, and the claim in the application's time line
    phone.goto("/enterprise/needs")
    assert "通知（1）" in phone.locator("nav.site-nav").inner_text()
    phone.click("nav.site-nav >> text=申请跟踪")
    phone.locator("table a", has_text="制造业信用贷").click()
    timeline = phone.locator("ol.ent-timeline").inner_text()
    assert "平台把需求匹配给该产品" in timeline
    assert "银行受理了需求，将与您联系" in timeline
    assert "已受理" in phone.locator("h1").inner_text()
    # which bank saw the data, from the audit log
    phone.click("nav.site-nav >> text=数据授权")
    assert BANK_NAME in phone.locator("#views").inner_text()
    assert fits_the_phone(phone)

    for page in (phone, desk):
        assert page.external_requests == []
        assert [e for e in page.console_errors if "Content Security Policy" in e] == []
        page.context.close()
