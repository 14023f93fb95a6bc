"""The small steps of a working day (issue 14): names instead of codes on bank pages, the pipeline's counts
and an honest filter form, dashboard CSV headers in the page's language, the enterprise's application stepper,
confirmations, live limits, amounts refused instead of rounded, authorization end days as chosen."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from models.consent import Authorization
from models.identity import Role
from models.lending import ApplicationState, FinancingNeed
from tests.conftest import csrf_token
from xinyidai.domain.needs import end_of_day, shanghai_today

S = ApplicationState


@pytest.fixture
def officer(make_user, make_bank, login):
    user = make_user(Role.BANK, bank_id=make_bank().id, is_tenant_admin=True)
    login(user)
    return user


def open_match(db_session, make_enterprise, make_application, product, applied=False, **fields):
    enterprise = make_enterprise(district_code="310117", industry_section="C")
    need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                         guarantee_types=["信用"])
    db_session.add(need)
    db_session.flush()
    return make_application(product=product, need=need, applied_by_enterprise=applied, **fields)


def test_the_pipeline_names_districts_industries_and_products_and_counts(
        client, officer, db_session, make_bank, make_product, make_enterprise, make_application, make_user):
    from models.lending import Bank

    product = make_product(bank=db_session.get(Bank, officer.bank_id), code="JYKD", name_zh="经营快贷")
    applied = open_match(db_session, make_enterprise, make_application, product, applied=True)
    open_match(db_session, make_enterprise, make_application, product)
    grant = Authorization(uscc=applied.uscc, sources=["tax"], all_banks=True,
                          granted_by_id=make_user(Role.ENTERPRISE, enterprise_uscc=applied.uscc).id,
                          expires_at=end_of_day(shanghai_today() + timedelta(days=30)))
    db_session.add(grant)
    db_session.commit()
    page = client.get("/bank/pipeline").get_data(as_text=True)
    rows = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]  # the table, not the filter's options
    assert "松江区" in rows
    assert "制造业" in rows
    assert "经营快贷" in rows
    assert ">310117<" not in rows
    assert "共 2 笔待受理需求，其中企业主动申请本行产品 1 笔" in page
    assert page.count("已授权本行") == 1
    assert "企业已申请" in page
    english = client.get("/bank/pipeline?lang=en").get_data(as_text=True)
    assert "Songjiang" in english.split("<tbody>", 1)[1]
    assert "2 needs waiting to be claimed" in english


def test_an_invalid_filter_shows_that_nothing_was_applied(
        client, officer, db_session, make_product, make_enterprise, make_application):
    from models.lending import Bank

    product = make_product(bank=db_session.get(Bank, officer.bank_id))
    open_match(db_session, make_enterprise, make_application, product)
    db_session.commit()
    response = client.get("/bank/pipeline?min_grade=ZZZ&district=310117")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "未应用任何筛选" in page
    assert 'value="310117" selected' not in page  # the form shows what the list shows: no filter
    assert "共 1 笔待受理需求" in page


def test_the_dashboard_export_speaks_the_page_language(client, officer):
    chinese = list(csv.reader(io.StringIO(client.get("/bank/dashboard.csv").get_data(as_text=True).lstrip("\ufeff"))))
    english = list(csv.reader(io.StringIO(
        client.get("/bank/dashboard.csv?lang=en").get_data(as_text=True).lstrip("\ufeff"))))
    assert chinese[0][:2] == ["产品代码", "产品名称"]
    assert english[0][:2] == ["Product code", "Product name"]


def test_the_enterprise_sees_applied_claimed_and_the_deadline_as_steps(
        client, make_user, make_enterprise, make_product, make_application, db_session, login):
    enterprise = make_enterprise()
    owner = make_user(Role.ENTERPRISE, enterprise_uscc=enterprise.uscc)
    for applied, state in ((True, S.MATCHED), (False, S.MATCHED), (True, S.CLAIMED)):
        need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                             guarantee_types=["信用"])
        db_session.add(need)
        db_session.flush()
        make_application(product=make_product(), need=need, applied_by_enterprise=applied, state=state,
                         claimed_at=db_session.get(FinancingNeed, need.id).published_at if state is S.CLAIMED else None)
    db_session.commit()
    login(owner)
    page = client.get("/enterprise/applications").get_data(as_text=True)
    assert page.count("已申请") == 2
    assert page.count("平台匹配（未申请）") == 1
    assert page.count("待银行受理，截止") == 2
    assert page.count("银行已受理") == 1
    assert 'data-label="状态"' in page  # the phone layout labels every cell


def test_irreversible_enterprise_actions_ask_first_and_limits_show_live(
        client, make_user, login, make_enterprise):
    owner = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    login(owner)
    form = client.get("/enterprise/needs/new").get_data(as_text=True)
    assert 'maxlength="500"' in form
    assert "data-counter" in form
    page = client.get("/enterprise/authorizations").get_data(as_text=True)
    assert "/enterprise/authorizations#grant" in page  # a failed submit comes back at the form


def test_an_amount_finer_than_a_yuan_is_refused_not_rounded(client, make_user, login):
    login(make_user(Role.ENTERPRISE, is_tenant_admin=True))
    response = client.post("/enterprise/needs/new", data={
        "amount": "50.123456", "term_months": "12", "purpose": "working_capital", "guarantee_types": ["信用"],
        "urgency": "normal", "csrf_token": csrf_token(client, "/enterprise/needs/new")})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "金额最多保留 4 位小数" in page
    assert 'value="50.123456"' in page


def test_an_authorization_shows_the_day_chosen(client, make_user, login, db_session):
    owner = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    login(owner)
    day = shanghai_today() + timedelta(days=40)
    db_session.add(Authorization(uscc=owner.enterprise_uscc, sources=["tax"], all_banks=True, granted_by_id=owner.id,
                                 expires_at=end_of_day(day)))
    db_session.commit()
    page = client.get("/enterprise/authorizations").get_data(as_text=True)
    assert day.isoformat() in page
    assert (day + timedelta(days=1)).isoformat() not in page
