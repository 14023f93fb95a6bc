"""The office's figures reconcile with a plain recomputation from the records, small cells are suppressed,
and the cache follows the data."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from models.enterprise import Enterprise, SizeClass
from models.identity import Role
from models.lending import (
    Application,
    ApplicationEvent,
    ApplicationState,
    Channel,
    FinancingNeed,
    GuaranteeType,
    LoanPerformance,
    LoanStatus,
)
from models.scoring import ModelVersion, Score, WhitelistEntry, WhitelistStatus, WhitelistVersion
from xinyidai.domain.figures import metrics
from xinyidai.domain.figures.metrics import Dimension, build_table
from xinyidai.domain.lifecycle import Actor, Disbursement, transition
from xinyidai.domain.scope import Filters, office_scope

S = ApplicationState
SYSTEM = Actor(Channel.SYSTEM)
# The test population lives in 2026-01 … 2026-03; "today" is later, so the book month is March.
TODAY = datetime(2026, 5, 10, tzinfo=UTC)
PERIOD = Filters(date(2026, 1, 1), date(2026, 3, 1))
STEPS = {
    "matched": [], "claimed": [S.CLAIMED], "declined": [S.CLAIMED, S.DECLINED],
    "approved": [S.CLAIMED, S.APPROVED], "approved_then_declined": [S.CLAIMED, S.APPROVED, S.DECLINED],
    "approved_then_withdrawn": [S.CLAIMED, S.APPROVED, S.WITHDRAWN],
    "repaying": [S.CLAIMED, S.APPROVED, S.DISBURSED, S.REPAYING],
    "overdue": [S.CLAIMED, S.APPROVED, S.DISBURSED, S.OVERDUE],
    "defaulted": [S.CLAIMED, S.APPROVED, S.DISBURSED, S.OVERDUE, S.DEFAULTED],
    # 银担合作: a product that requires a platform guarantor (pass `guarantee_product`)
    "guaranteed": [S.CLAIMED, S.GUARANTEE_REQUESTED, S.GUARANTEED, S.APPROVED, S.DISBURSED, S.REPAYING],
    "guarantee_declined": [S.CLAIMED, S.GUARANTEE_REQUESTED, S.CLAIMED, S.DECLINED],
}


@pytest.fixture
def lend(db_session, make_application):
    """lend(enterprise, product, when, outcome, …): a need and its application taken through the real
    lifecycle to `outcome`, then dated: matched at `when`, each later step a few days after the one before."""

    def make(enterprise, product, when: datetime, outcome: str, *, amount_fen=1_000_000_00, rate_bp=380,
             guarantee=GuaranteeType.CREDIT, first_loan=False, gap_days=2, guarantee_product=None,
             fee_rate_bp=80, coverage_bp=7000):
        need = FinancingNeed(uscc=enterprise.uscc, amount_fen=amount_fen, term_months=12, purpose="working_capital",
                             guarantee_types=["信用"], published_at=when - timedelta(hours=5))
        db_session.add(need)
        db_session.flush()
        application = make_application(product=product, need=need, created_at=when)
        moments = []
        for i, state in enumerate(STEPS[outcome], start=1):
            moment = when + timedelta(days=gap_days * i, hours=i)
            detail, by_guarantor = {}, state is S.GUARANTEED or application.state is S.GUARANTEE_REQUESTED
            if state is S.GUARANTEE_REQUESTED:
                detail = {"guarantee_product_id": guarantee_product.id}
            elif state is S.GUARANTEED:
                detail = {"guarantor_id": guarantee_product.guarantor_id, "fee_rate_bp": fee_rate_bp,
                          "coverage_bp": coverage_bp}
            elif by_guarantor:  # the guarantor declines: back to the bank's claim
                detail = {"guarantor_id": guarantee_product.guarantor_id, "reason_code": "credit_record"}
            elif state is S.DECLINED:
                detail = {"reason_code": "other", "reason_text": "policy change"}
            elif state is S.DISBURSED:
                detail = {"disbursement": Disbursement(amount_fen, rate_bp, 12, moment.date(), guarantee)}
            elif state in (S.OVERDUE, S.DEFAULTED):
                detail = {"days_past_due": 40 if state is S.OVERDUE else 95}
            event = transition(db_session, application, state, SYSTEM, detail=detail,
                               by_enterprise=state is S.WITHDRAWN, by_guarantor=by_guarantor)
            event.occurred_at = moment
            moments.append((state, moment))
        for state, moment in moments:
            if state is S.CLAIMED and application.claimed_at is None or state is S.CLAIMED and i == 1:
                application.claimed_at = moment
            if state in (S.APPROVED, S.DECLINED):
                application.decided_at = moment
        application.first_loan = first_loan if application.disbursed_on else None
        db_session.flush()
        return application

    return make


def report_month_end(db_session, application, as_of: date, outstanding_fen: int, days_past_due=0,
                     status=LoanStatus.REPAYING):
    db_session.add(LoanPerformance(application_id=application.id, as_of=as_of, outstanding_fen=outstanding_fen,
                                   days_past_due=days_past_due, status=status))


@pytest.fixture
def population(db_session, make_enterprise, make_bank, make_product, lend):
    """Two banks, three products, enterprises in Pudong (310115) and Songjiang (310117), three months."""
    bank_a, bank_b = make_bank(code="BANKA"), make_bank(code="BANKB")
    a1, a2 = make_product(bank_a, guarantee_type=GuaranteeType.CREDIT), make_product(bank_a, guarantee_type=GuaranteeType.MORTGAGE)
    b1 = make_product(bank_b)
    pudong = [make_enterprise(district_code="310115", industry_section="C" if i % 3 else "I",
                              size_class=[SizeClass.SMALL, SizeClass.MICRO][i % 2]) for i in range(16)]
    songjiang = [make_enterprise(district_code="310117", industry_section="C") for _ in range(6)]
    outcomes = ["repaying", "overdue", "defaulted", "declined", "approved", "approved_then_declined",
                "approved_then_withdrawn", "claimed", "matched", "repaying"]
    loans = []
    for i, enterprise in enumerate(pudong + songjiang):
        # Late-evening UTC moments fall in the next Shanghai day, some in the next month.
        when = datetime(2026, 1 + i % 3, 28 if i % 4 == 0 else 5 + i, 17 if i % 2 else 3, tzinfo=UTC)
        product = [a1, a2, b1][i % 3]
        outcome = outcomes[i % len(outcomes)]
        loans.append(lend(enterprise, product, when, outcome, amount_fen=(50 + 10 * i) * 1_000_000,
                          rate_bp=350 + 5 * i, guarantee=product.guarantee_type, first_loan=i % 4 == 1))
        if i % 5 == 0:  # a second, earlier application of the same enterprise with another bank
            lend(enterprise, b1 if product.bank_id == bank_a.id else a1, when - timedelta(days=20), "repaying",
                 amount_fen=30_000_000)
    for application in loans:
        if application.disbursed_on:
            overdue = application.state in (S.OVERDUE, S.DEFAULTED)
            for month_end in (date(2026, 2, 28), date(2026, 3, 31)):
                if month_end > application.disbursed_on:
                    report_month_end(db_session, application, month_end, application.disbursed_amount_fen // 2,
                                     days_past_due=40 if overdue else 0,
                                     status=LoanStatus.OVERDUE if overdue else LoanStatus.REPAYING)
    _certificates(db_session, pudong + songjiang, loans)
    db_session.add(ModelVersion(version="m-test", path="-", card={}, is_active=True))
    db_session.flush()
    version = WhitelistVersion(district_code="310115", model_version="m-test", min_grade="BBB",
                               status=WhitelistStatus.PUBLISHED, published_at=datetime(2026, 1, 15, tzinfo=UTC))
    db_session.add(version)
    db_session.flush()
    for enterprise in pudong[:9]:
        score = Score(uscc=enterprise.uscc, model_version="m-test", as_of=date(2026, 1, 1), pd_12m=0.02, points=650,
                      grade="A", gates_passed=True, failed_gates=[])
        db_session.add(score)
        db_session.flush()
        db_session.add(WhitelistEntry(whitelist_version_id=version.id, uscc=enterprise.uscc, score_id=score.id,
                                      grade="A", change="added"))
    db_session.flush()
    return {"banks": (bank_a, bank_b), "products": (a1, a2, b1), "pudong": pudong, "songjiang": songjiang}


def _certificates(db_session, enterprises, loans) -> None:
    """Tech certificates whose validity starts or ends on the Shanghai day of a record (its UTC day is another
    for the evening moments), overlapping ones (the higher class counts) and expired ones."""
    from models.sources import Qualification

    def day(moment):
        return (moment.astimezone(UTC) + SHANGHAI).date()

    def add(enterprise, kind, issued_on, expires_on):
        db_session.add(Qualification(uscc=enterprise.uscc, kind=kind, issued_on=issued_on, expires_on=expires_on))

    matched = [day(application.created_at) for application in loans]
    add(enterprises[1], "高新技术企业", matched[1], date(2028, 12, 31))  # valid from its match on
    add(enterprises[3], "科技型中小企业", date(2025, 5, 1), matched[3])  # the expiry day itself still counts
    add(enterprises[5], "科技型中小企业", date(2025, 5, 1), date(2027, 4, 30))
    add(enterprises[5], "专精特新", date(2025, 12, 1), date(2028, 11, 30))  # the higher class of the two
    add(enterprises[0], "科技小巨人", matched[0] - timedelta(days=5), date(2029, 1, 1))  # after its earlier loan
    add(enterprises[7], "高新技术企业", date(2022, 1, 1), date(2024, 12, 31))  # expired before the period
    for enterprise in (enterprises[2], enterprises[9], enterprises[16], enterprises[17], enterprises[20]):
        add(enterprise, "高新技术企业", date(2024, 11, 1), date(2027, 10, 31))
    add(enterprises[11], "科技型中小企业", matched[11] + timedelta(days=1), date(2027, 4, 30))  # from the day after
    db_session.flush()


@pytest.fixture
def guaranteed_loans(db_session, population, make_guarantor, make_product, lend):
    """On top of the population: bank B's guarantor-required product, and loans on the guarantees of two
    guarantors (seven Pudong firms and two Songjiang ones on the first, three Pudong ones on the second), one
    guarantee declined and the loan then declined by the bank."""
    first, second = make_guarantor(code="GA"), make_guarantor(code="GB")
    product = make_product(population["banks"][1], guarantee_type=GuaranteeType.GUARANTEE_COMPANY,
                           guarantor_required=True)
    loans = []
    for i, (enterprise, guarantor) in enumerate(
            [*((e, first) for e in population["pudong"][:7]), *((e, first) for e in population["songjiang"][:2]),
             *((e, second) for e in population["pudong"][7:10])]):
        when = datetime(2026, 1 + i % 3, 6 + i, 3, tzinfo=UTC)
        loans.append(lend(enterprise, product, when, "guaranteed", amount_fen=(100 + 10 * i) * 1_000_000,
                          guarantee=GuaranteeType.GUARANTEE_COMPANY, guarantee_product=guarantor.test_product,
                          fee_rate_bp=40 + 5 * i, coverage_bp=6000 + 100 * i))
    lend(population["pudong"][11], product, datetime(2026, 2, 3, 3, tzinfo=UTC), "guarantee_declined",
         guarantee_product=first.test_product)
    return {"guarantors": (first, second), "product": product, "loans": loans}


# ---------------------------------------------------------------- the recomputation, record by record

SHANGHAI = timedelta(hours=8)


def _day(moment) -> date:
    if isinstance(moment, datetime):
        return (moment.astimezone(UTC) + SHANGHAI).date()
    return moment


def _tech_class(certificates: list, day: date) -> str:
    """Recomputed by hand: the best class held on the Shanghai day (both validity days included)."""
    from xinyidai.domain.qualifications import NO_QUALIFICATION, TECH_CLASSES

    held = {q.kind.value for q in certificates if q.issued_on <= day <= q.expires_on}
    return next((kind for kind in TECH_CLASSES if kind in held), NO_QUALIFICATION)


def _month(moment) -> str:
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC) + SHANGHAI
    return f"{moment:%Y-%m}"


def recompute(session, districts, filters: Filters, dimension: Dimension) -> dict:
    """{family: {key: {measure: value, "usccs": set}}} straight from the ORM rows, in Python."""
    from models.sources import Qualification

    enterprises = {e.uscc: e for e in session.scalars(sa.select(Enterprise))}
    certificates = defaultdict(list)
    for q in session.scalars(sa.select(Qualification)):
        certificates[q.uscc].append(q)
    months = {f"{m:%Y-%m}" for m in filters.months}
    book = f"{metrics.book_month_of(filters, TODAY):%Y-%m}"
    out = defaultdict(lambda: defaultdict(lambda: defaultdict(float)))
    usccs = defaultdict(lambda: defaultdict(set))

    def add(family, uscc, app, moment, in_total=True, **measures):
        e = enterprises[uscc]
        month = _month(moment)
        if e.district_code not in districts or month not in months:
            return
        if filters.industry and e.industry_section != filters.industry:
            return
        if filters.bank_id and (app is None or app.bank_id != filters.bank_id):
            return
        key = {Dimension.MONTH: month, Dimension.INDUSTRY: e.industry_section, Dimension.SIZE: e.size_class.value,
               Dimension.DISTRICT: e.district_code, Dimension.BANK: app.bank_id if app else None,
               Dimension.PRODUCT: app.product_id if app else None,
               Dimension.GUARANTOR: app.guarantor_id if app else None,
               Dimension.TECH_CLASS: _tech_class(certificates[uscc], _day(moment))}[dimension]
        for name in ("total", key) if in_total else (key,):
            out[family][name]["count"] += 1
            for measure, value in measures.items():
                out[family][name][measure] += value
            usccs[family][name].add(uscc)

    applications = session.scalars(sa.select(Application)).all()
    for need in session.scalars(sa.select(FinancingNeed)):
        apps = [a for a in applications if a.need_id == need.id]
        app = next((a for a in apps if a.bank_id == filters.bank_id), None) if filters.bank_id else None
        if filters.bank_id and app is None:
            continue
        add("needs", need.uscc, app, need.published_at, amount=need.amount_fen)
    for a in applications:
        add("matched", a.uscc, a, a.created_at)
        if a.claimed_at:
            add("claimed", a.uscc, a, a.claimed_at, days=(a.claimed_at - a.created_at).total_seconds() / 86400)
        if a.decided_at:
            add("decided", a.uscc, a, a.decided_at, days=(a.decided_at - a.created_at).total_seconds() / 86400)
        if a.disbursed_on:
            add("disbursed", a.uscc, a, a.disbursed_on, amount=a.disbursed_amount_fen,
                rate_amount=a.disbursed_amount_fen * a.rate_bp,
                credit_amount=a.disbursed_amount_fen if a.guarantee_type is GuaranteeType.CREDIT else 0,
                defaulted=1 if a.state is S.DEFAULTED else 0, first=1 if a.first_loan else 0)
        if a.disbursed_on and a.guarantor_id:
            add("guaranteed", a.uscc, a, a.disbursed_on, amount=a.disbursed_amount_fen,
                fee_amount=a.disbursed_amount_fen * a.guarantee_fee_bp,
                coverage_amount=a.disbursed_amount_fen * a.guarantee_coverage_bp)
    by_id = {a.id: a for a in applications}
    for event in session.scalars(sa.select(ApplicationEvent).where(ApplicationEvent.to_state == S.APPROVED)):
        a = by_id[event.application_id]
        add("approved", a.uscc, a, event.occurred_at)
    for row in session.scalars(sa.select(LoanPerformance)):
        a = by_id[row.application_id]
        month = _month(row.as_of)
        if row.status in metrics.OUTSTANDING and (dimension is Dimension.MONTH and month <= book or month == book):
            # a stock: the total is the book at the period's end, the months each their own month-end
            add("book", a.uscc, a, row.as_of, in_total=month == book, outstanding=row.outstanding_fen,
                overdue_amount=row.outstanding_fen if row.days_past_due > 0 else 0)
    return {family: {key: {**values, "enterprises": len(usccs[family][key])} for key, values in keys.items()}
            for family, keys in out.items()}


def expected_cell(kpi_key: str, f: dict):
    if not f:
        return None
    count = f["count"]

    def share(numerator, denominator):
        return f.get(numerator, 0) / f[denominator] if f.get(denominator) else None

    return {
        "needs": lambda: count, "needs_amount": lambda: f.get("amount"), "matched": lambda: count,
        "claimed": lambda: count, "response_days": lambda: f.get("days", 0) / count, "approved": lambda: count,
        "decision_days": lambda: f.get("days", 0) / count, "disbursed": lambda: count,
        "disbursed_amount": lambda: f.get("amount"), "avg_rate": lambda: share("rate_amount", "amount") / 100,
        "credit_share": lambda: share("credit_amount", "amount"), "default_rate": lambda: f.get("defaulted", 0) / count,
        "overdue_rate": lambda: share("overdue_amount", "outstanding"), "outstanding": lambda: f.get("outstanding"),
        "guaranteed": lambda: count, "guaranteed_amount": lambda: f.get("amount"),
        "guarantee_fee": lambda: share("fee_amount", "amount") / 100,
        "guarantee_coverage": lambda: share("coverage_amount", "amount") / 100,
    }[kpi_key]()


@pytest.mark.parametrize("dimension", [d for d in Dimension if d is not Dimension.DISTRICT])
@pytest.mark.parametrize("office", ["310115", "310000"])
def test_every_figure_reconciles_with_a_recomputation_from_the_records(db_session, population, guaranteed_loans,
                                                                       dimension, office):
    scope = office_scope(office)
    table = build_table(db_session, scope, PERIOD, dimension, today=TODAY)
    truth = recompute(db_session, scope.districts, PERIOD, dimension)
    checked = 0
    for row in [*table.rows, table.total]:
        for kpi in table.kpis:
            if kpi.family.value == "whitelist":
                continue
            figures = truth.get(kpi.family.value, {}).get(row.key, {})
            cell = row.cells[kpi.key]
            assert cell.enterprises == figures.get("enterprises", 0), (row.key, kpi.key)
            if kpi.key == "first_time":
                continue  # distinct enterprises, checked below
            expected = expected_cell(kpi.key, figures)
            if expected is None:
                assert cell.value in (None, 0), (row.key, kpi.key, cell.value)
            else:
                assert cell.value == pytest.approx(expected, rel=1e-9, abs=1e-9), (row.key, kpi.key)
                checked += 1
    assert checked > (8 if dimension is Dimension.GUARANTOR else 20)  # by guarantor: its four figures only


def test_first_time_borrowers_are_distinct_enterprises_with_a_first_loan(db_session, population):
    table = build_table(db_session, office_scope("310000"), PERIOD, Dimension.MONTH, today=TODAY)
    firsts = {a.uscc for a in db_session.scalars(sa.select(Application).where(Application.first_loan.is_(True)))}
    assert table.total.cells["first_time"].value == len(firsts) > 0


def test_approvals_count_an_approval_later_declined_or_withdrawn(db_session, population):
    table = build_table(db_session, office_scope("310000"), PERIOD, Dimension.BANK, today=TODAY)
    approvals = db_session.scalar(sa.select(sa.func.count()).select_from(ApplicationEvent)
                                  .where(ApplicationEvent.to_state == S.APPROVED,
                                         ApplicationEvent.occurred_at >= PERIOD.start_utc,
                                         ApplicationEvent.occurred_at < PERIOD.end_utc))
    reversed_later = db_session.scalar(sa.select(sa.func.count()).select_from(Application)
                                       .where(Application.state.in_([S.DECLINED, S.WITHDRAWN]),
                                              Application.decided_at.is_not(None)))
    assert reversed_later >= 2  # both kinds of reversal are in the population
    assert table.total.cells["approved"].value == approvals


def test_a_district_office_counts_only_its_district(db_session, population):
    pudong = build_table(db_session, office_scope("310115"), PERIOD, Dimension.MONTH, today=TODAY)
    songjiang = build_table(db_session, office_scope("310117"), PERIOD, Dimension.MONTH, today=TODAY)
    city = build_table(db_session, office_scope("310000"), PERIOD, Dimension.DISTRICT, today=TODAY)
    for key in ("matched", "disbursed", "disbursed_amount"):
        assert pudong.total.cells[key].value + songjiang.total.cells[key].value == city.total.cells[key].value
    by_code = {row.key: row for row in city.rows}
    assert by_code["310115"].cells["matched"].value == pudong.total.cells["matched"].value
    assert len(city.rows) == 16


def test_filters_by_bank_and_industry_narrow_every_family(db_session, population):
    bank_a = population["banks"][0]
    filtered = Filters(PERIOD.start, PERIOD.end, bank_id=bank_a.id, industry="C")
    table = build_table(db_session, office_scope("310115"), filtered, Dimension.MONTH, today=TODAY)
    truth = recompute(db_session, ("310115",), filtered, Dimension.MONTH)
    for key, family in (("matched", "matched"), ("disbursed", "disbursed"), ("needs", "needs")):
        assert table.total.cells[key].value == truth.get(family, {}).get("total", {}).get("count", 0)
    assert table.total.cells["matched"].value < build_table(
        db_session, office_scope("310115"), PERIOD, Dimension.MONTH, today=TODAY).total.cells["matched"].value


def test_whitelist_size_and_conversion_per_industry(db_session, population):
    table = build_table(db_session, office_scope("310115"), PERIOD, Dimension.INDUSTRY, today=TODAY)
    assert table.total.cells["whitelist_size"].value == 9
    listed = population["pudong"][:9]
    converted = {a.uscc for a in db_session.scalars(sa.select(Application).where(
        Application.uscc.in_([e.uscc for e in listed]), Application.disbursed_on >= date(2026, 1, 15)))}
    assert table.total.cells["whitelist_conversion"].value == pytest.approx(len(converted) / 9)
    assert sum(row.cells["whitelist_size"].value for row in table.rows) == 9


def test_guaranteed_lending_per_district_and_per_guarantor(db_session, population, guaranteed_loans):
    """银担合作 in the city office's district comparison and in the view by guarantor, each cell from its own
    loans (a district with two guaranteed firms shows "*")."""
    first, second = guaranteed_loans["guarantors"]
    loans = guaranteed_loans["loans"]
    city = build_table(db_session, office_scope("310000"), PERIOD, Dimension.DISTRICT, today=TODAY)
    rows = {row.key: row for row in city.rows}
    pudong = [a for a in loans if a.uscc in {e.uscc for e in population["pudong"]}]
    assert rows["310115"].cells["guaranteed"].value == len(pudong) == 10
    assert rows["310115"].cells["guaranteed_amount"].value == sum(a.disbursed_amount_fen for a in pudong)
    assert rows["310117"].cells["guaranteed"].suppressed  # two Songjiang firms
    assert city.total.cells["guaranteed"].value == 12
    by_guarantor = build_table(db_session, office_scope("310000"), PERIOD, Dimension.GUARANTOR, today=TODAY)
    assert {kpi.family for kpi in by_guarantor.kpis} == {metrics.Family.GUARANTEED}
    rows = {row.key: row for row in by_guarantor.rows}
    on_first = [a for a in loans if a.guarantor_id == first.id]
    assert rows[first.id].cells["guaranteed"].value == 9
    fee = sum(a.disbursed_amount_fen * a.guarantee_fee_bp for a in on_first) / sum(a.disbursed_amount_fen for a in on_first)
    assert rows[first.id].cells["guarantee_fee"].value == pytest.approx(fee / 100)
    assert rows[second.id].cells["guaranteed"].suppressed  # three firms
    assert rows[first.id].cells["guaranteed"].suppressed  # … and the other would give them away by subtraction
    assert not by_guarantor.total.cells["guaranteed"].suppressed
    declined = db_session.scalar(sa.select(sa.func.count()).select_from(Application).where(
        Application.product_id == guaranteed_loans["product"].id, Application.state == S.DECLINED))
    assert declined == 1  # the declined guarantee's loan counts nowhere in 银担合作


def test_the_office_dashboard_by_guarantor_opens_and_exports(app, db_session, population, guaranteed_loans,
                                                             make_user, client, login):
    login(make_user(Role.OFFICE, district_code="310000"))
    page = client.get("/office/dashboard/guarantors?from=2026-01&to=2026-03")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "银担合作放款金额（万元）" in body
    assert guaranteed_loans["guarantors"][0].name_zh in body
    export = client.get("/office/dashboard/guarantors/export.csv?from=2026-01&to=2026-03")
    assert export.status_code == 200
    assert "担保机构" in export.get_data(as_text=True)
    english = client.get("/office/dashboard/districts?from=2026-01&to=2026-03&lang=en").get_data(as_text=True)
    assert "Guaranteed lending (10k yuan)" in english


# ---------------------------------------------------------------- suppression

def test_cells_of_fewer_than_five_enterprises_are_suppressed_and_a_lone_one_takes_another(
        db_session, make_enterprise, make_bank, make_product, lend):
    big, small, idle = make_bank(code="BIGBANK"), make_bank(code="SMALLBANK"), make_bank(code="IDLEBANK")
    big_product, small_product = make_product(big), make_product(small)
    when = datetime(2026, 2, 10, 3, tzinfo=UTC)
    for _ in range(7):
        lend(make_enterprise(district_code="310116"), big_product, when, "repaying")
    for _ in range(3):
        lend(make_enterprise(district_code="310116"), small_product, when, "repaying")
    table = build_table(db_session, office_scope("310116"), PERIOD, Dimension.BANK, today=TODAY)
    rows = {row.key: row for row in table.rows}
    assert rows[small.id].cells["disbursed"].suppressed
    assert rows[small.id].cells["disbursed"].shown is None
    assert rows[small.id].cells["avg_rate"].suppressed  # every figure of the family
    # the only other bank with loans would give the small one away by subtraction from the total
    assert rows[big.id].cells["disbursed"].suppressed
    assert not table.total.cells["disbursed"].suppressed
    assert table.total.cells["disbursed"].value == 10
    zero = [row for row in table.rows if row.key not in (big.id, small.id)]
    assert idle.id in [row.key for row in zero]
    assert all(not row.cells["disbursed"].suppressed and row.cells["disbursed"].value == 0 for row in zero)


def test_a_single_loan_of_a_single_bank_never_shows(db_session, make_enterprise, make_product, lend):
    product = make_product()
    lend(make_enterprise(district_code="310118"), product, datetime(2026, 3, 3, 3, tzinfo=UTC), "repaying",
         amount_fen=123_456_00)
    for dimension in Dimension:
        if dimension is Dimension.DISTRICT:
            continue
        table = build_table(db_session, office_scope("310118"), PERIOD, dimension, today=TODAY)
        for row in [*table.rows, table.total]:
            for key in ("disbursed", "disbursed_amount", "avg_rate"):
                if key in row.cells:
                    assert row.cells[key].shown in (None, 0), (dimension, row.key, key)


# ---------------------------------------------------------------- the cube's age

def _matched(table) -> int:
    return table.total.cells["matched"].value


def test_an_exact_cube_is_rebuilt_when_the_records_change(db_session, make_enterprise, make_product, lend):
    from xinyidai.domain.figures import cube

    cube.forget_cube()
    product, scope = make_product(), office_scope("310120")
    for _ in range(5):
        lend(make_enterprise(district_code="310120"), product, datetime(2026, 2, 3, 3, tzinfo=UTC), "matched")
    assert _matched(cube.cube_table(db_session, scope, PERIOD, Dimension.MONTH, today=TODAY)) == 5
    lend(make_enterprise(district_code="310120"), product, datetime(2026, 2, 4, 3, tzinfo=UTC), "matched")
    assert _matched(cube.cube_table(db_session, scope, PERIOD, Dimension.MONTH, today=TODAY)) == 6
    cube.forget_cube()


def test_a_cube_within_its_age_is_served_and_a_new_worker_starts_from_the_hosts_snapshot(
        db_session, make_enterprise, make_product, lend, tmp_path):
    from xinyidai.domain.figures import cube

    cube.forget_cube()
    product, scope = make_product(), office_scope("310120")
    for _ in range(5):
        lend(make_enterprise(district_code="310120"), product, datetime(2026, 2, 3, 3, tzinfo=UTC), "matched")
    aged = {"max_age_seconds": 300, "folder": tmp_path}
    assert _matched(cube.cube_table(db_session, scope, PERIOD, Dimension.MONTH, today=TODAY, **aged)) == 5
    built = cube.current_cube(db_session, **aged)
    assert (tmp_path / cube.SNAPSHOT).is_file()
    lend(make_enterprise(district_code="310120"), product, datetime(2026, 2, 4, 3, tzinfo=UTC), "matched")
    # younger than its age: the figures stay as they were built (the page says how old they are)
    assert _matched(cube.cube_table(db_session, scope, PERIOD, Dimension.MONTH, today=TODAY, **aged)) == 5
    cube.forget_cube()  # a fresh worker: it reads the snapshot instead of rebuilding
    assert cube.current_cube(db_session, **aged).built_at == built.built_at
    # the exact reading (no age allowed) sees the new record and rebuilds
    cube.forget_cube()
    assert _matched(cube.cube_table(db_session, scope, PERIOD, Dimension.MONTH, today=TODAY, folder=tmp_path)) == 6
    cube.forget_cube()


def test_a_cube_past_its_age_is_served_while_it_is_rebuilt_in_the_background(
        db_session, make_enterprise, make_product, lend, monkeypatch):
    import threading

    from xinyidai.domain.figures import cube

    cube.forget_cube()
    lend(make_enterprise(district_code="310120"), make_product(), datetime(2026, 2, 3, 3, tzinfo=UTC), "matched")
    old = cube.current_cube(db_session)
    old.built_at -= 600
    lend(make_enterprise(district_code="310120"), make_product(), datetime(2026, 2, 4, 3, tzinfo=UTC), "matched")
    release, rebuilt = threading.Event(), cube.Cube(("new",), {}, None, 0.0)

    def slow_build(_session):
        release.wait(10)
        return rebuilt

    monkeypatch.setattr(cube, "build_cube", slow_build)
    assert cube.current_cube(db_session, max_age_seconds=300) is old  # served at once, not after the rebuild
    release.set()
    [refresh] = [t for t in threading.enumerate() if t.name == "office-cube-refresh"]
    refresh.join(10)
    assert cube.current_cube(db_session, max_age_seconds=300) is rebuilt
    cube.forget_cube()


@pytest.mark.parametrize("dimension", list(Dimension))
def test_the_pre_aggregated_cube_gives_exactly_the_sql_figures(db_session, population, guaranteed_loans, dimension):
    from xinyidai.domain.figures import cube

    cube.forget_cube()
    narrowed = Filters(PERIOD.start, PERIOD.end, bank_id=population["banks"][0].id, industry="C")
    for office in ("310115", "310000"):
        for filters in (PERIOD, narrowed):
            fast = cube.cube_table(db_session, office_scope(office), filters, dimension, today=TODAY)
            direct = build_table(db_session, office_scope(office), filters, dimension, today=TODAY)
            assert [row.key for row in fast.rows] == [row.key for row in direct.rows]
            for mine, theirs in zip([*fast.rows, fast.total], [*direct.rows, direct.total], strict=True):
                for key, cell in mine.cells.items():
                    other = theirs.cells[key]
                    assert (cell.enterprises, cell.suppressed) == (other.enterprises, other.suppressed), (row_key := mine.key, key)
                    if other.value is None:
                        assert cell.value is None, (row_key, key)
                    else:
                        assert cell.value == pytest.approx(other.value, rel=1e-9), (row_key, key)
    cube.forget_cube()
