"""The district office in a real browser: the dashboard with drawn charts and tables, the monthly report
downloaded, a whitelist drafted, confirmed and published, and an alert raised by a deteriorating borrower."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from models.enterprise import Enterprise, EnterpriseStatus, SizeClass
from models.identity import Role
from models.lending import Application, Bank, Channel, FinancingNeed, GuaranteeType, Product
from models.lending import ApplicationState as State
from models.scoring import ModelVersion, Score, ScoreReason
from models.sources import TaxMonth
from tests.browser.conftest import local_only_page, log_in, seed_database
from tests.conftest import TEST_PASSWORD, fresh_uscc
from tests.live_server import free_port, gunicorn, throwaway_database
from xinyidai.domain.lifecycle import Actor, Disbursement, transition
from xinyidai.domain.monitoring import run_monitoring
from xinyidai.domain.scope import add_months, shanghai_month
from xinyidai.domain.users import new_user
from xinyidai.extensions import db

OFFICE_USERNAME = "live-office-journey"
COLLEAGUE_USERNAME = "live-office-colleague"
SONGJIANG = "310117"


def seed_office_world() -> None:
    """Eight Songjiang borrowers of one bank last month (one now in tax arrears), scores for a whitelist."""
    bank = Bank(code="JOURNEYBANK", name_zh="旅程测试银行", name_en="Journey Test Bank")
    db.session.add(bank)
    db.session.flush()
    product = Product(bank_id=bank.id, code="J1", name_zh="科创信用贷", name_en="Tech credit loan",
                      min_amount_fen=10_000_000, max_amount_fen=500_000_000, min_term_months=3, max_term_months=36,
                      min_rate_bp=300, max_rate_bp=480, guarantee_type=GuaranteeType.CREDIT)
    db.session.add_all([product, ModelVersion(version="journey-model", path="-", card={}, is_active=True)])
    db.session.flush()
    last_month = add_months(shanghai_month(), -1)
    actor = Actor(Channel.SYSTEM)
    for i in range(8):
        enterprise = Enterprise(uscc=fresh_uscc(SONGJIANG), name=f"上海松江旅程测试{i}号有限公司",
                                district_code=SONGJIANG, industry_section="C", industry_division="39",
                                established_on=date(2016, 1, 1), registered_capital_fen=100_000_000,
                                status=EnterpriseStatus.OPERATING, size_class=SizeClass.SMALL)
        db.session.add(enterprise)
        db.session.flush()
        moment = datetime(last_month.year, last_month.month, 3 + i, 2, tzinfo=UTC)
        need = FinancingNeed(uscc=enterprise.uscc, amount_fen=100_000_000, term_months=12, purpose="working_capital",
                             guarantee_types=["信用"], published_at=moment)
        db.session.add(need)
        db.session.flush()
        application = Application(need_id=need.id, product_id=product.id, bank_id=bank.id, uscc=enterprise.uscc,
                                  created_at=moment)
        db.session.add(application)
        db.session.flush()
        transition(db.session, application, State.CLAIMED, actor)
        transition(db.session, application, State.APPROVED, actor)
        transition(db.session, application, State.DISBURSED, actor, detail={"disbursement": Disbursement(
            80_000_000 + i * 1_000_000, 385, 12, moment.date() + timedelta(days=5), GuaranteeType.CREDIT)})
        score = Score(uscc=enterprise.uscc, model_version="journey-model", as_of=last_month, pd_12m=0.01 + i / 100,
                      points=720 - 10 * i, grade=["AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC"][i],
                      gates_passed=True, failed_gates=[])
        score.reasons = [ScoreReason(rank=1, family="tax", feature="tax_paid_months", contribution=-0.4)]
        db.session.add(score)
        if i == 0:  # the deteriorating borrower
            db.session.add(TaxMonth(uscc=enterprise.uscc, month=last_month, invoiced_sales_fen=0, tax_paid_fen=0,
                                    in_arrears=True))
    db.session.flush()
    run_monitoring(db.session)
    db.session.add(new_user(username=OFFICE_USERNAME, display_name="松江区金融服务办（旅程）", role=Role.OFFICE,
                            password=TEST_PASSWORD, district_code=SONGJIANG))
    db.session.add(new_user(username=COLLEAGUE_USERNAME, display_name="松江区金融服务办（复核）", role=Role.OFFICE,
                            password=TEST_PASSWORD, district_code=SONGJIANG))


@pytest.fixture(scope="module")
def office_instance(tmp_path_factory):
    folder = tmp_path_factory.mktemp("office-live")
    with throwaway_database(folder) as url:
        environment = {"XYD_INSTANCE_PATH": str(folder), "DATABASE_URL": url, "SECRET_KEY": "office-live"}
        seed_database(url, folder, seed_office_world)
        with gunicorn(environment, free_port()) as base_url:
            yield base_url


@pytest.fixture
def office_page(browser, office_instance):
    page = local_only_page(browser, office_instance, accept_downloads=True)
    yield page
    page.context.close()


def test_office_user_sees_dashboard_downloads_report_publishes_whitelist_and_sees_alert(office_page, tmp_path):
    page = office_page
    log_in(page, OFFICE_USERNAME)
    page.wait_for_url("**/office/")

    # the dashboard: charts drawn by plotly (served locally) and the numbers as a table
    page.click("nav.site-nav >> text=数据看板")
    page.wait_for_url("**/office/dashboard")
    page.wait_for_selector(".office-chart__plot[data-drawn=true] .main-svg", timeout=30_000)
    assert page.locator(".office-chart__plot[data-drawn=true]").count() == 3
    total_row = page.locator(".office-table tfoot tr")
    assert "8" in total_row.inner_text()
    page.click(".office-tabs >> text=按银行")
    page.wait_for_selector(".office-chart__plot[data-drawn=true]", timeout=30_000)
    assert "旅程测试银行" in page.locator(".office-table").inner_text()

    # the monthly report
    page.click("nav.site-nav >> text=融资成效报送")
    with page.expect_download() as download_info:
        page.click("button:has-text('下载 Excel')")
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    import openpyxl

    assert "主要指标" in openpyxl.load_workbook(saved).sheetnames

    # the whitelist, four eyes: threshold, draft, one firm excluded with a reason, confirmed by one officer...
    page.click("nav.site-nav >> text=白名单管理")
    page.select_option("#min_grade", "A")
    page.click("button:has-text('保存门槛')")
    page.click("button:has-text('按最新评分生成草稿')")
    page.wait_for_url("**/office/whitelist/versions/*")
    version_url = page.url
    rows = page.locator("table tbody tr")
    assert rows.count() == 3  # AAA, AA, A
    assert "纳税：提升评分" in page.content()
    excluded = rows.nth(2)
    excluded.locator("input[name=reason]").fill("正在接受行政调查")
    excluded.locator("button:has-text('移出')").click()
    assert page.locator(".flash--success").count() == 1
    assert page.locator("table tbody tr").count() == 2
    assert "正在接受行政调查" in page.locator("[data-override]").inner_text()
    page.click("button:has-text('确认名单')")
    assert page.locator("[data-four-eyes]").count() == 1  # ...who cannot publish it
    assert page.locator("button:has-text('发布名单')").count() == 0
    # ...and published by a colleague, after ticking the confirmation
    page.context.clear_cookies()
    log_in(page, COLLEAGUE_USERNAME)
    page.wait_for_url("**/office/")
    page.goto(version_url)
    page.click("button:has-text('发布名单')")
    assert page.locator(".badge--published").count() == 0  # the browser holds the unticked box back
    page.check("input[name=confirm]")
    page.click("button:has-text('发布名单')")
    assert page.locator(".badge--published").count() == 1
    with page.expect_download() as download_info:
        page.click("text=下载名单（CSV）")
    listed = (tmp_path / "list.csv")
    download_info.value.save_as(listed)
    assert listed.read_text(encoding="utf-8-sig").count("上海松江旅程测试") == 2
    page.click("text=白名单管理")
    assert "journey-model" in page.locator("table").inner_text()

    # the alert raised by the borrower now in tax arrears, acknowledged
    page.click("nav.site-nav >> text=贷后预警")
    alert = page.locator("article.office-alert").first
    assert "欠税" in alert.inner_text()
    assert "旅程测试银行" in alert.inner_text()
    alert.locator("button:has-text('确认知悉')").click()
    assert page.locator(".flash--success").count() == 1
    assert page.locator("article.office-alert").count() == 0

    assert page.external_requests == []
    assert [e for e in page.console_errors if "Content Security Policy" in e] == []
