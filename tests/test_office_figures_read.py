"""The office's figures say what they are (issue 14): a month not yet reported reads "not yet reported (N
banks outstanding)", never a zero; the funnel says what each stage counts; 首贷户 is defined and counted."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale

from models.identity import Role
from models.lending import LoanPerformance, LoanStatus
from tests.test_office_metrics import lend  # noqa: F401 - the fixture
from xinyidai.domain.figures.metrics import Dimension, build_table
from xinyidai.domain.scope import Filters, add_months, office_scope, shanghai_month
from xinyidai.office import charts

DISTRICT = "310113"


@pytest.fixture
def book(db_session, make_enterprise, make_bank, make_product, lend):  # noqa: F811
    """Six loans of two banks disbursed two months ago; both banks reported the month before last,
    only the first one last month."""
    this_month = shanghai_month()
    disbursed = add_months(this_month, -2)
    when = datetime(disbursed.year, disbursed.month, 3, 3, tzinfo=UTC)
    banks = [make_bank(), make_bank()]
    loans = [lend(make_enterprise(district_code=DISTRICT), make_product(banks[n % 2]), when, "repaying", gap_days=0)
             for n in range(6)]
    end_of = {m: add_months(m, 1) - timedelta(days=1) for m in (disbursed, add_months(this_month, -1))}
    for loan_number, loan in enumerate(loans):
        months = [disbursed] + ([add_months(this_month, -1)] if loan_number % 2 == 0 else [])
        for month in months:
            db_session.add(LoanPerformance(application_id=loan.id, as_of=end_of[month], outstanding_fen=80_000_000,
                                           status=LoanStatus.REPAYING))
    db_session.commit()
    return {"banks": banks, "loans": loans, "reported": disbursed, "unreported": add_months(this_month, -1)}


def test_a_month_some_banks_have_not_reported_reads_not_yet_reported_never_zero(client, login, make_user, book):
    period = Filters(book["reported"], shanghai_month())
    table = build_table_for(period, Dimension.MONTH)
    by_month = {row.key: row.cells["outstanding"] for row in table.rows}
    assert by_month[f"{book['reported']:%Y-%m}"].pending == 0
    assert by_month[f"{book['reported']:%Y-%m}"].value == 6 * 80_000_000
    assert by_month[f"{book['unreported']:%Y-%m}"].pending == 1  # the second bank has not reported
    assert by_month[f"{shanghai_month():%Y-%m}"].pending == 2  # the month is not over: nobody has
    login(make_user(Role.OFFICE, district_code=DISTRICT))
    page = client.get(f"/office/dashboard?from={book['reported']:%Y-%m}&to={shanghai_month():%Y-%m}").get_data(
        as_text=True)
    assert "未报送（1 家银行待报送）" in page
    english = client.get("/office/dashboard/banks?lang=en").get_data(as_text=True)
    assert "not yet reported (banks outstanding: 1)" in english
    report = client.get(f"/office/reports/monthly.csv?month={book['unreported']:%Y-%m}&lang=zh").get_data(as_text=True)
    balance = next(line for line in csv.reader(io.StringIO(report)) if line and line[0].startswith("贷款余额"))
    assert balance[1] == "未报送（1 家银行待报送）"  # this month: not a 0


def build_table_for(period, dimension):
    from xinyidai.extensions import db

    return build_table(db.session, office_scope(DISTRICT), period, dimension)


def test_the_funnel_says_what_each_stage_counts_and_shows_no_percentage_of_needs(app, book):
    table = build_table_for(Filters(book["reported"], shanghai_month()), Dimension.MONTH)
    with app.test_request_context():
        funnel = charts.funnel(table)["data"][0]
    assert funnel["textinfo"] == "value"
    assert funnel["y"][0] == "发布需求（笔需求）"
    assert funnel["y"][1] == "匹配（需求×产品，笔）"


def test_first_time_borrowers_are_defined_and_counted_once_each(client, login, make_user, db_session,
                                                                 make_enterprise, make_product, lend):  # noqa: F811
    product = make_product()
    moment = datetime.now(UTC).replace(day=1, hour=3) - timedelta(days=40)
    firsts = [make_enterprise(district_code=DISTRICT) for _ in range(5)]
    for enterprise in firsts:
        lend(enterprise, product, moment, "repaying", gap_days=0, first_loan=True)
        lend(enterprise, product, moment + timedelta(days=1), "repaying", gap_days=0, first_loan=False)
    login(make_user(Role.OFFICE, district_code=DISTRICT))
    page = client.get("/office/dashboard").get_data(as_text=True)
    assert "首贷户：期内获得放款、且在此之前没有在本平台获得过任何贷款的企业" in page
    month = shanghai_month(moment)
    table = build_table_for(Filters(month, month), Dimension.MONTH)
    assert table.total.cells["first_time"].value == 5
    assert table.total.cells["disbursed"].value == 10


def test_the_demo_has_first_time_borrowers_by_the_platforms_own_definition():
    from xinyidai.demo.seed import first_loans, generate

    loans = generate(300, 7).loans
    flags = first_loans(loans)
    assert flags.sum() == loans.firm.nunique()  # one first loan per borrowing firm
    recent = loans[loans.disbursed_on >= loans.disbursed_on.max() - timedelta(days=365)]
    assert flags[recent.index].sum() > 0


def test_a_reversed_period_is_an_error_not_silently_swapped(client, login, make_user):
    login(make_user(Role.OFFICE, district_code=DISTRICT))
    response = client.get("/office/dashboard?from=2026-06&to=2026-01")
    assert response.status_code == 422
    assert "起始月份 2026-06 晚于截止月份 2026-01" in response.get_data(as_text=True)
    english = client.get("/office/dashboard?from=2026-06&to=2026-01&lang=en").get_data(as_text=True)
    assert "The first month 2026-06 is after the last month 2026-01" in english
    assert client.get("/office/dashboard/banks/export.csv?from=2026-06&to=2026-01").status_code == 422


def test_months_read_in_the_pages_language_and_count_axes_tick_whole_numbers(app, client, login, make_user, book):
    table = build_table_for(Filters(book["reported"], shanghai_month()), Dimension.MONTH)
    with app.test_request_context("/?lang=zh"):
        trend = charts.trend(table)
    month = book["reported"]
    assert trend["data"][0]["x"][0] == f"{month.year}年{month.month}月"
    assert trend["layout"]["xaxis"]["type"] == "category"  # not parsed as dates ("Jan 2026")
    counts = trend["layout"]["yaxis2"]
    assert counts["tickformat"] == ",d"
    assert counts["dtick"] == 1  # a handful of loans: one tick per loan, never 0.5
    assert counts["automargin"] is True  # the right axis' title clears its ticks
    with app.test_request_context("/"), force_locale("en"):
        assert charts.trend(table)["data"][0]["x"][0] == month.strftime("%b %Y")
    login(make_user(Role.OFFICE, district_code=DISTRICT))
    page = client.get("/office/dashboard").get_data(as_text=True)
    assert 'type="month"' not in page  # the browser would word it in its own language
    assert f">{shanghai_month().year}年{shanghai_month().month}月</option>" in page
