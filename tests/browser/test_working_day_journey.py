"""A bank's working day in a real browser (Chromium via Playwright, against gunicorn), two people at once:
the bank's administrator invites a loan officer, who logs in with the one-time password; the officer claims a
need whose enterprise has not authorized the bank and requests authorization; the enterprise grants it from
its notifications in one step; bank and enterprise exchange messages on the application; the administrator
hands the officer's work back and deactivates the login."""

from __future__ import annotations

from datetime import date

import pytest

from models.enterprise import Enterprise, EnterpriseStatus, SizeClass
from models.identity import Role
from models.lending import Application, Bank, FinancingNeed, GuaranteeType, Product
from tests.browser.conftest import local_only_page, log_in, seed_database
from tests.conftest import TEST_PASSWORD, fresh_uscc
from tests.live_server import free_port, serve, throwaway_database
from xinyidai.domain.users import new_user
from xinyidai.extensions import db

COMPANY = "上海闵行浏览器授权测试有限公司"
NEW_PASSWORD = "a brand new passphrase 2026"


@pytest.fixture(scope="module")
def day_live(tmp_path_factory):
    """gunicorn over a migrated database: a bank with its administrator and a product, an enterprise with
    its administrator and a need matched to the product, no authorization anywhere."""
    folder = tmp_path_factory.mktemp("day-live")
    with throwaway_database(folder) as url:
        def seed():
            bank = Bank(code="DAYBANK", name_zh="闵行测试银行", name_en="Minhang Test Bank")
            enterprise = Enterprise(uscc=fresh_uscc("310112"), name=COMPANY, district_code="310112",
                                    industry_section="C", industry_division="39", established_on=date(2014, 6, 1),
                                    registered_capital_fen=300_000_000, status=EnterpriseStatus.OPERATING,
                                    size_class=SizeClass.SMALL)
            db.session.add_all([bank, enterprise])
            db.session.flush()
            product = Product(bank_id=bank.id, code="DAY1", name_zh="闵行科创贷", name_en="Minhang tech loan",
                              min_amount_fen=10_000_000, max_amount_fen=500_000_000, min_term_months=3,
                              max_term_months=36, min_rate_bp=320, max_rate_bp=480,
                              guarantee_type=GuaranteeType.CREDIT)
            need = FinancingNeed(uscc=enterprise.uscc, amount_fen=60_000_000, term_months=12,
                                 purpose="working_capital", guarantee_types=["信用"])
            db.session.add_all([product, need])
            db.session.flush()
            db.session.add(Application(need_id=need.id, product_id=product.id, bank_id=bank.id, uscc=enterprise.uscc,
                                       match_rank=0.9))
            db.session.add_all([
                new_user(username="day-admin", display_name="周管理员", role=Role.BANK, bank_id=bank.id,
                         is_tenant_admin=True, password=TEST_PASSWORD),
                new_user(username="day-enterprise", display_name="孙总", role=Role.ENTERPRISE,
                         enterprise_uscc=enterprise.uscc, is_tenant_admin=True, password=TEST_PASSWORD),
            ])
        seed_database(url, folder, seed)
        environment = {"XYD_INSTANCE_PATH": str(folder), "DATABASE_URL": url, "SECRET_KEY": "live-day",
                       "XYD_RATELIMIT": "0"}
        with serve(environment, free_port(), ready_timeout=120) as server:  # a busy machine starts slowly
            yield server.url


@pytest.fixture
def open_page(browser, day_live):
    """open_page(width) → a fresh browser (own cookies) whose confirmation dialogs are accepted."""
    contexts = []

    def make(width: int = 1280):
        page = local_only_page(browser, day_live, width=width)
        contexts.append(page.context)
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield make
    for context in contexts:
        context.close()


def test_staff_request_authorization_and_messages_in_one_working_day(open_page):
    admin = open_page()
    log_in(admin, "day-admin")
    admin.wait_for_url("**/bank/")
    admin.click("nav >> text=员工管理")
    admin.fill("input[name=display_name]", "吴客户经理")
    admin.fill("input[name=username]", "day-officer")
    admin.click("form[action$='/bank/staff#invite-h'] button[type=submit]")
    password = admin.locator("[data-testid=temporary-password]").inner_text().strip()
    assert len(password) >= 12

    officer = open_page(390)  # the officer works on a phone
    log_in(officer, "day-officer", password)
    officer.wait_for_url("**/account/password**")
    officer.fill("input[name=current_password]", password)
    officer.fill("input[name=new_password]", NEW_PASSWORD)
    officer.fill("input[name=confirm_password]", NEW_PASSWORD)
    officer.click("main form button[type=submit]")
    officer.goto("/bank/pipeline")
    officer.locator("tbody tr").first.locator("form[action$='/claim'] button").click()
    officer.wait_for_url("**/bank/applications/*")
    application_url = officer.url
    assert COMPANY not in officer.content()
    officer.fill("textarea[name=note]", "为完成授信审查，需要查看近 12 个月的纳税数据。")
    officer.click("form[action$='/authorization-request#authorization'] button")
    officer.wait_for_selector("text=正在等待企业答复")

    owner = open_page()
    log_in(owner, "day-enterprise")
    owner.wait_for_url("**/enterprise/**")
    assert "通知（" in owner.locator("nav").inner_text()
    owner.goto("/enterprise/notifications")
    request = owner.locator(".ent-request").first
    assert "为完成授信审查" in request.inner_text()
    request.locator("button:has-text('同意授权')").click()
    owner.wait_for_url("**/enterprise/applications/*")
    assert "已授权该银行查看" in owner.content()

    officer.goto(application_url)
    assert COMPANY in officer.locator("#ent-h").locator("..").inner_text()
    officer.fill("textarea[name=body]", "请上传近三个月的银行流水。")
    assert "已输入 13 / 1000 字" in officer.locator("#body-counter").inner_text()
    officer.click("form[action$='/messages#thread'] button")
    officer.wait_for_selector("text=留言已发送")

    owner.reload()
    assert "请上传近三个月的银行流水。" in owner.locator("#thread").inner_text()
    owner.fill("textarea[name=body]", "好的，今天下午上传。")
    owner.click("form[action$='/messages#thread'] button")
    owner.wait_for_selector("text=留言已发送")
    officer.reload()
    assert "好的，今天下午上传。" in officer.locator("#thread").inner_text()

    admin.goto("/bank/staff")
    row = admin.locator("tr[data-username=day-officer]")
    assert row.locator("td").nth(4).inner_text().strip() == "1"
    row.locator("form[action$='/hand-over'] button").click()
    admin.wait_for_selector("text=已转交名下的在办申请")
    admin.locator("tr[data-username=day-officer] form[action$='/deactivate'] button").click()  # confirmed
    admin.wait_for_selector("text=该员工账户已停用")
    assert "已停用" in admin.locator("tr[data-username=day-officer]").inner_text()
    officer.goto("/bank/pipeline")
    assert "/login" in officer.url  # the deactivated officer's session has ended
    for page in (admin, officer, owner):
        assert page.console_errors == []
