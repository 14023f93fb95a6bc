"""The office's pages: dashboard views, scoping (another district is a 404), audited exports and reports,
the whitelist workflow and the alerts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.identity import Role
from models.monitoring import Alert, AlertKind
from models.scoring import ModelVersion, Score, ScoreReason, WhitelistStatus, WhitelistVersion
from tests.conftest import csrf_token
from tests.test_office_metrics import lend  # noqa: F401 - the fixture
from xinyidai.domain.scope import shanghai_month

NOW = datetime.now(UTC)
THIS_MONTH = shanghai_month()


@pytest.fixture
def office(make_user):
    return make_user(Role.OFFICE, district_code="310115")


@pytest.fixture
def city(make_user):
    return make_user(Role.OFFICE, district_code="310000")


@pytest.fixture
def lending(make_enterprise, make_product, lend):  # noqa: F811
    """Six Pudong borrowers of one product this month, three Songjiang ones."""
    product = make_product()
    moment = datetime(THIS_MONTH.year, THIS_MONTH.month, 1, 3, tzinfo=UTC)
    pudong = [lend(make_enterprise(district_code="310115"), product, moment, "repaying", gap_days=0) for _ in range(6)]
    songjiang = [lend(make_enterprise(district_code="310117"), product, moment, "repaying", gap_days=0)
                 for _ in range(3)]
    return {"product": product, "pudong": pudong, "songjiang": songjiang}


def exports_logged(db_session, what: str) -> list[AuditEntry]:
    return list(db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "export")
                                   .where(AuditEntry.detail["what"].as_string() == what)))


# ---------------------------------------------------------------- dashboard and scoping

@pytest.mark.parametrize("view", ["overview", "banks", "products", "industries", "sizes", "qualifications"])
def test_each_dashboard_view_shows_charts_and_a_table(client, login, office, lending, view):
    login(office)
    response = client.get(f"/office/dashboard/{view}", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'class="office-chart__plot" data-figure=' in page
    assert "<table" in page
    assert "/office/assets/plotly.min.js" in page


def test_the_dashboard_counts_the_district_and_suppresses_small_cells(client, login, office, lending):
    login(office)
    page = client.get("/office/dashboard/banks").get_data(as_text=True)
    # six Pudong loans of one bank: shown; the three Songjiang loans are not Pudong's business
    assert ">6</td>" in page
    city_page_counts = client.get("/office/dashboard/sizes").get_data(as_text=True)
    assert ">9</td>" not in city_page_counts


def test_pre_aggregated_views_say_how_old_their_figures_are(app, client, login, office, lending, monkeypatch):
    from xinyidai.domain.figures import cube

    cube.forget_cube()
    monkeypatch.setitem(app.config, "XYD_OFFICE_PREAGGREGATE", True)  # as served (tests read SQL by default)
    monkeypatch.setitem(app.config, "XYD_OFFICE_MAX_AGE_SECONDS", 300)
    login(office)
    page = client.get("/office/dashboard/banks").get_data(as_text=True)
    assert ">6</td>" in page  # the same figures as straight from SQL
    assert "数据截至" in page
    assert "至多每 5 分钟更新一次" in page
    assert "Figures as of" in client.get("/office/dashboard/banks?lang=en").get_data(as_text=True)
    # so does its export (in English: the choice above is remembered)
    assert "Figures as of," in client.get("/office/dashboard/banks/export.csv").get_data(as_text=True)
    cube.forget_cube()


@pytest.mark.parametrize("view", ["overview", "banks", "products", "industries", "sizes"])
def test_an_export_from_the_cube_has_the_same_figures_as_one_straight_from_sql(app, client, login, office, lending,
                                                                              monkeypatch, view):
    import csv
    import io

    def rows(pre_aggregated: bool) -> list[list[str]]:
        monkeypatch.setitem(app.config, "XYD_OFFICE_PREAGGREGATE", pre_aggregated)
        response = client.get(f"/office/dashboard/{view}/export.csv")
        assert response.status_code == 200
        read = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        # when it was made and how old the cube is differ; every figure must not
        return [row for row in read if not row or row[0] not in ("生成时间", "数据截至")]

    login(office)
    from_cube, from_sql = rows(True), rows(False)
    assert any(cell == "6" for row in from_cube for cell in row)  # the six Pudong loans are there to compare
    assert from_cube == from_sql


def test_the_city_office_compares_districts_and_narrows_to_one(client, login, city, lending):
    login(city)
    page = client.get("/office/dashboard/districts").get_data(as_text=True)
    assert "district-grid" in page
    assert "浦东新区" in page
    assert client.get("/office/dashboard?district=310117").status_code == 200


@pytest.mark.parametrize("path", [
    "/office/dashboard?district=310117", "/office/dashboard/districts", "/office/dashboard/banks/export.csv?district=310101",
    "/office/reports/monthly.csv?district=310117", "/office/dashboard?bank=999999", "/office/dashboard/nonsense",
])
def test_a_district_office_cannot_reach_another_district(client, login, office, lending, path):
    login(office)
    assert client.get(path).status_code == 404


def test_other_roles_are_refused_and_visitors_sent_to_log_in(client, login, make_user):
    assert client.get("/office/dashboard").status_code == 302
    login(make_user(Role.BANK))
    assert client.get("/office/dashboard").status_code == 403
    assert client.get("/office/whitelist").status_code == 403


def test_plotly_is_served_from_the_installed_package(client, login, office):
    login(office)
    response = client.get("/office/assets/plotly.min.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert b"plotly" in response.data[:2000].lower()
    response.close()


# ---------------------------------------------------------------- exports

def test_csv_export_matches_the_view_and_is_audited(client, login, office, lending, db_session):
    login(office)
    response = client.get("/office/dashboard/banks/export.csv")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header = next(row for row in rows if row and row[0] == "银行")
    bank_row = next(row for row in rows if row and row[0].startswith("测试银行"))
    assert bank_row[header.index("放款（笔）")] == "6"
    logged = exports_logged(db_session, "office_dashboard_bank")
    assert len(logged) == 1
    assert logged[0].actor_user_id == office.id


def test_excel_export_writes_suppressed_cells_as_a_star_and_is_audited(client, login, city, lending, db_session):
    login(city)
    response = client.get("/office/dashboard/districts/export.xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = next(row for row in rows if row and row[0] == "区")
    songjiang = next(row for row in rows if row and row[0] == "松江区")
    pudong = next(row for row in rows if row and row[0] == "浦东新区")
    column = header.index("放款（笔）")
    assert songjiang[column] == "*"  # three enterprises
    assert pudong[column] == "*"  # the one other cell, hidden with it
    assert len(exports_logged(db_session, "office_dashboard_district")) == 1


def test_monthly_report_downloads_in_both_formats_and_each_is_audited(client, login, office, lending, db_session):
    login(office)
    month = f"{THIS_MONTH:%Y-%m}"
    xlsx = client.get(f"/office/reports/monthly.xlsx?month={month}")
    assert xlsx.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx.data))
    assert workbook.sheetnames == ["主要指标", "按银行", "按行业", "按企业规模", "按科技资质", "近12个月趋势"]
    summary = [[c.value for c in row] for row in workbook["主要指标"].iter_rows()]
    disbursed = next(row for row in summary if row and row[0] == "放款（笔）")
    assert disbursed[1] == 6
    text = client.get(f"/office/reports/monthly.csv?month={month}").get_data(as_text=True)
    assert "融资成效月报" in text
    assert len(exports_logged(db_session, "office_monthly_report")) == 2


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "1899-12", "2101-01", "2026-13", "2026-00", "１e3", "abcd"])
@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_a_month_that_is_not_one_is_refused_with_the_reason_never_a_500(client, login, office, lending, db_session,
                                                                       month, file_format):
    login(office)
    response = client.get(f"/office/reports/monthly.{file_format}?month={month}")
    assert response.status_code == 422
    assert "请填写有效月份" in response.get_data(as_text=True) or "日期超出" in response.get_data(as_text=True)
    english = client.get(f"/office/reports/monthly.{file_format}?month={month}&lang=en").get_data(as_text=True)
    assert "month" in english.lower() or "range" in english.lower()
    page = client.get(f"/office/reports?month={month}")
    assert page.status_code == 422  # said on the page, last month offered meanwhile
    assert exports_logged(db_session, "office_monthly_report") == []


def test_a_full_width_report_month_is_read_like_an_ascii_one(client, login, office, lending):
    login(office)
    month = f"{THIS_MONTH:%Y-%m}"
    wide = month.translate({ord(d): chr(0xFF10 + int(d)) for d in "0123456789"})
    assert client.get(f"/office/reports/monthly.csv?month={wide}").get_data() == \
        client.get(f"/office/reports/monthly.csv?month={month}").get_data()


@pytest.mark.parametrize("args", ["from=0001-01", "to=9999-12", "from=0001-01&to=9999-12", "to=2101-01", "from=2026-13"])
def test_a_dashboard_period_outside_the_accepted_years_is_said_never_a_500(client, login, office, lending, args):
    login(office)
    page = client.get(f"/office/dashboard/banks?{args}")
    assert page.status_code == 422
    assert "不是有效月份" in page.get_data(as_text=True)
    assert ">6</td>" in page.get_data(as_text=True)  # the default period shown meanwhile
    export = client.get(f"/office/dashboard/banks/export.xlsx?{args}&lang=en")
    assert export.status_code == 422
    assert "is not a valid month" in export.get_data(as_text=True)


def test_report_cli_writes_the_monthly_report_and_audits_it(cli, lending, db_session, tmp_path):
    result = cli.invoke(args=["report", "monthly", "--district", "310115", "--month", f"{THIS_MONTH:%Y-%m}",
                              "--format", "csv", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = list(tmp_path.iterdir())
    assert len(written) == 1
    assert "一、主要指标" in written[0].read_text(encoding="utf-8-sig")
    logged = exports_logged(db_session, "office_monthly_report")
    assert logged[-1].actor_label == "xyd report monthly"
    bad = cli.invoke(args=["report", "monthly", "--district", "999999", "--month", "2026-01"])
    assert bad.exit_code != 0


def test_report_cli_without_output_writes_under_the_instance_folder_not_the_current_one(app, cli, lending, tmp_path,
                                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)  # wherever a timer happens to start it
    result = cli.invoke(args=["report", "monthly", "--district", "310115", "--month", f"{THIS_MONTH:%Y-%m}",
                              "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert list(tmp_path.iterdir()) == []
    written = Path(app.instance_path) / "reports" / f"xinyidai-monthly-310115-{THIS_MONTH:%Y-%m}.csv"
    assert written.exists()
    assert str(written) in result.output
    written.unlink()


# ---------------------------------------------------------------- whitelist

@pytest.fixture
def scored(db_session, make_enterprise):
    """An active model and Pudong enterprises scored AAA … CCC (one failing a gate), one Songjiang one."""
    db_session.add(ModelVersion(version="wl-1", path="-", card={}, is_active=True))
    db_session.flush()
    enterprises = {}
    for grade, gates in (("AAA", True), ("AA", True), ("A", True), ("BBB", True), ("BB", True), ("AA", False),
                         ("CCC", True)):
        enterprise = make_enterprise(district_code="310115")
        score = Score(uscc=enterprise.uscc, model_version="wl-1", as_of=date(2026, 10, 31), pd_12m=0.01,
                      points=700 - 10 * len(enterprises), grade=grade, gates_passed=gates, failed_gates=[])
        score.reasons = [ScoreReason(rank=1, family="tax", feature="sales_trend", contribution=-0.3)]
        db_session.add(score)
        enterprises[(grade, gates)] = enterprise
    other = make_enterprise(district_code="310117")
    db_session.add(Score(uscc=other.uscc, model_version="wl-1", as_of=date(2026, 10, 31), pd_12m=0.01, points=800,
                         grade="AAA", gates_passed=True, failed_gates=[]))
    db_session.flush()
    return enterprises


def post(client, path, data=None, form_page="/office/whitelist"):
    return client.post(path, data={"csrf_token": csrf_token(client, form_page), **(data or {})})


@pytest.fixture
def colleague(app, make_user):
    """A second officer of the same district, logged in on a browser of their own (the four eyes)."""
    from tests.test_every_page import logged_in

    return logged_in(app, make_user(Role.OFFICE, district_code="310115"))


PUBLISH = {"confirm": "y"}


def test_office_sets_threshold_reviews_confirms_and_a_colleague_publishes_its_whitelist(
        client, login, office, colleague, scored, db_session):
    login(office)
    assert post(client, "/office/whitelist/threshold", {"min_grade": "A"}).status_code == 302
    response = post(client, "/office/whitelist/draft")
    assert response.status_code == 302
    version_path = response.headers["Location"]
    page = client.get(version_path).get_data(as_text=True)
    assert "纳税：提升评分" in page
    version = db_session.scalars(sa.select(WhitelistVersion).order_by(WhitelistVersion.id.desc())).first()
    assert (version.status, version.min_grade, version.model_version) == (WhitelistStatus.DRAFT, "A", "wl-1")
    listed = {scored[key].uscc for key in (("AAA", True), ("AA", True), ("A", True))}
    assert {e.uscc for e in version_entries(db_session, version)} == listed
    assert post(client, f"{version_path}/publish", PUBLISH, form_page=version_path).status_code == 409  # a draft
    assert post(client, f"{version_path}/confirm", form_page=version_path).status_code == 302
    assert "须由另一位工作人员核对后发布" in client.get(version_path).get_data(as_text=True)
    assert post(client, f"{version_path}/publish", PUBLISH, form_page=version_path).status_code == 409  # own
    assert post(colleague, f"{version_path}/publish", form_page=version_path).status_code == 422  # box not ticked
    db_session.refresh(version)
    assert version.status is WhitelistStatus.CONFIRMED
    assert post(colleague, f"{version_path}/publish", PUBLISH, form_page=version_path).status_code == 302
    db_session.refresh(version)
    assert version.status is WhitelistStatus.PUBLISHED
    assert version.confirmed_by_id == office.id
    assert version.published_at is not None
    # a second round supersedes the first, which is kept
    post(client, "/office/whitelist/threshold", {"min_grade": "BBB"})
    second = post(client, "/office/whitelist/draft").headers["Location"]
    post(client, f"{second}/confirm", form_page=second)
    post(colleague, f"{second}/publish", PUBLISH, form_page=second)
    db_session.refresh(version)
    assert version.status is WhitelistStatus.SUPERSEDED
    actions = set(db_session.scalars(sa.select(AuditEntry.action)))
    assert {"whitelist_threshold_set", "whitelist_drafted", "whitelist_confirmed", "whitelist_published"} <= actions
    assert "wl-1" in client.get("/office/whitelist").get_data(as_text=True)


def test_a_draft_is_adjusted_firm_by_firm_with_reasons_and_the_published_list_downloads(
        client, login, office, colleague, scored, db_session):
    login(office)
    post(client, "/office/whitelist/threshold", {"min_grade": "A"})
    version_path = post(client, "/office/whitelist/draft").headers["Location"]
    aaa, bbb = scored[("AAA", True)].uscc, scored[("BBB", True)].uscc
    adjust = f"{version_path}/overrides"
    assert post(client, adjust, {"action": "exclude", "uscc": aaa, "reason": ""}, form_page=version_path).status_code == 409
    assert post(client, adjust, {"action": "exclude", "uscc": aaa, "reason": "Under investigation"},
                form_page=version_path).status_code == 302
    assert post(client, adjust, {"action": "include", "uscc": bbb.lower(), "reason": "Supply-chain anchor firm"},
                form_page=version_path).status_code == 302
    outsider = scored[("AA", False)].uscc  # failed a gate: stays out unless someone includes it
    assert post(client, adjust, {"action": "include", "uscc": "91310115MA1XXXXX0X", "reason": "x"},
                form_page=version_path).status_code == 409  # not a firm of the district
    version = db_session.scalars(sa.select(WhitelistVersion).order_by(WhitelistVersion.id.desc())).first()
    members = {e.uscc: e.change for e in version_entries(db_session, version)}
    assert aaa not in members
    assert members[bbb] == "included"
    assert outsider not in members
    page = client.get(version_path).get_data(as_text=True)
    assert "Under investigation" in page
    assert "Supply-chain anchor firm" in page
    post(client, f"{version_path}/confirm", form_page=version_path)
    assert post(client, adjust, {"action": "exclude", "uscc": bbb, "reason": "late"},
                form_page=version_path).status_code == 409  # a confirmed list is no longer adjusted
    assert client.get(f"{version_path}/list.csv").status_code == 404  # not published yet
    post(colleague, f"{version_path}/publish", PUBLISH, form_page=version_path)
    download = client.get(f"{version_path}/list.csv")
    assert download.status_code == 200
    assert download.headers["Cache-Control"] == "no-store"
    lines = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    listed = {line[0] for line in lines if len(line) == 3 and len(line[0]) == 18}
    assert listed == set(members)
    assert any(line[0] == "发布时间" and line[1].endswith("(UTC+8)") for line in lines)
    assert exports_logged(db_session, "whitelist")
    assert {"whitelist_override"} <= set(db_session.scalars(sa.select(AuditEntry.action)))


def version_entries(db_session, version):
    from models.scoring import WhitelistEntry

    return db_session.scalars(sa.select(WhitelistEntry).where(WhitelistEntry.whitelist_version_id == version.id)).all()


def test_another_districts_whitelist_version_is_a_404(client, login, office, make_user, scored, db_session):
    other = WhitelistVersion(district_code="310117", model_version="wl-1", min_grade="BBB")
    db_session.add(other)
    db_session.flush()
    login(office)
    assert client.get(f"/office/whitelist/versions/{other.id}").status_code == 404
    assert post(client, f"/office/whitelist/versions/{other.id}/confirm").status_code == 404
    assert client.get("/office/whitelist?district=310117").status_code == 404  # never silently its own instead
    db_session.refresh(other)
    assert other.status is WhitelistStatus.DRAFT


def test_a_draft_needs_an_active_model(client, login, office):
    login(office)
    response = post(client, "/office/whitelist/draft")
    assert response.status_code == 302
    assert "尚无启用的评分模型" in client.get(response.headers["Location"]).get_data(as_text=True)


# ---------------------------------------------------------------- alerts

@pytest.fixture
def alerts(db_session, lending):
    pudong, songjiang = lending["pudong"][0], lending["songjiang"][0]
    rows = [Alert(event_key=f"tax_arrears:{a.uscc}:{a.bank_id}:2026-10", kind=AlertKind.TAX_ARREARS, uscc=a.uscc,
                  application_id=a.id, bank_id=a.bank_id, district_code=district,
                  evidence={"since_month": "2026-10", "months": ["2026-10"]})
            for a, district in ((pudong, "310115"), (songjiang, "310117"))]
    db_session.add_all(rows)
    db_session.flush()
    return rows


def test_office_sees_its_alerts_and_acknowledges_them(client, login, office, alerts, db_session):
    login(office)
    page = client.get("/office/alerts").get_data(as_text=True)
    assert "欠税" in page
    assert alerts[0].uscc in page
    assert alerts[1].uscc not in page
    response = post(client, f"/office/alerts/{alerts[0].id}/acknowledge", form_page="/office/alerts")
    assert response.status_code == 302
    db_session.refresh(alerts[0])
    assert alerts[0].acknowledged_by_id == office.id
    assert alerts[0].uscc not in client.get("/office/alerts").get_data(as_text=True)
    assert alerts[0].uscc in client.get("/office/alerts?status=acknowledged").get_data(as_text=True)


def test_another_districts_alert_cannot_be_acknowledged(client, login, office, alerts, db_session):
    login(office)
    assert post(client, f"/office/alerts/{alerts[1].id}/acknowledge", form_page="/office/alerts").status_code == 404
    db_session.refresh(alerts[1])
    assert alerts[1].acknowledged_at is None


def test_english_labels(client, login, office, lending):
    login(office)
    page = client.get("/office/dashboard?lang=en").get_data(as_text=True)
    assert "Loans disbursed" in page


def _publish(client, colleague, grade):
    post(client, "/office/whitelist/threshold", {"min_grade": grade})
    version = post(client, "/office/whitelist/draft").headers["Location"]
    post(client, f"{version}/confirm", form_page=version)
    assert post(colleague, f"{version}/publish", PUBLISH, form_page=version).status_code == 302


def test_publishing_a_whitelist_rematches_the_open_needs_of_enterprises_that_joined_or_left_it(
        client, login, office, colleague, scored, make_product, db_session):
    from models.lending import Application, FinancingNeed
    from xinyidai.domain.matching import refresh_matches

    enterprise = scored[("BBB", True)]
    whitelist_only = make_product(whitelist_only=True)
    need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                         guarantee_types=["信用"])
    db_session.add(need)
    db_session.flush()
    refresh_matches(db_session, need)

    def matched_to_product():
        db_session.expire_all()
        return db_session.scalars(sa.select(Application).where(
            Application.need_id == need.id, Application.product_id == whitelist_only.id)).all()

    login(office)
    _publish(client, colleague, "A")  # BBB is not listed: the whitelist-only product may not take the need
    assert matched_to_product() == []
    _publish(client, colleague, "BBB")  # now it is: the need reaches that product without anyone touching it
    assert [a.state.value for a in matched_to_product()] == ["matched"]
    _publish(client, colleague, "AA")  # it leaves the list: the untouched match leaves the product's pipeline
    assert matched_to_product() == []
