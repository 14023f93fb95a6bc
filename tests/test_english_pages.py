"""The bank workspace in English (?lang=en) shows no Chinese of its own.

Every name the test data carries (enterprise, bank, product, people) is Latin-only, so any Chinese character
left on the page is the platform's own wording — a label, message or vocabulary term that did not go
through the catalogue. Values from fixed vocabularies stored in Chinese (a need's purpose, guarantee types,
registration status) are the platform's words too and must be translated. The only Chinese allowed is the
language switch's own name for Chinese (中文), and the value a select option submits (a stored code).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from models.base import utcnow
from models.consent import Authorization
from models.enterprise import EnterpriseStatus
from models.identity import Role
from models.lending import ApplicationState, FinancingNeed, GuaranteeType
from models.sources import (
    PublicCreditEvent,
    PublicCreditKind,
    Severity,
    SocialInsuranceMonth,
    TaxMonth,
    TaxRating,
)
from tests.conftest import csrf_token
from xinyidai.domain.lifecycle import Actor, Channel, Disbursement, transition

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]+")
LANGUAGE_SWITCH = re.compile(r'<ul class="lang-switch".*?</ul>', re.S)
# What a select submits is a stored code (guarantee types are stored as Chinese words); only its label shows.
OPTION_VALUE = re.compile(r'(<option\b[^>]*?)\svalue="[^"]*"')


def chinese_on(page: str) -> list[str]:
    """Each run of Chinese characters (and full-width punctuation) with a little context around it."""
    page = OPTION_VALUE.sub(r"\1", LANGUAGE_SWITCH.sub("", page))
    return [page[max(0, m.start() - 40):m.end() + 20].replace("\n", " ") for m in CJK.finditer(page)]


def assert_no_chinese(page: str) -> None:
    leaks = chinese_on(page)
    assert not leaks, f"{len(leaks)} Chinese text(s) on an English page:\n" + "\n".join(leaks)


def english(client, path: str) -> str:
    response = client.get(path + ("&" if "?" in path else "?") + "lang=en")
    assert response.status_code == 200, path
    page = response.get_data(as_text=True)
    assert '<html lang="en">' in page
    return page


@pytest.fixture
def bank_world(db_session, make_bank, make_user, make_enterprise, make_product, make_application, login):
    bank = make_bank(name_zh="Harbour Bank", name_en="Harbour Bank")
    officer = make_user(Role.BANK, bank_id=bank.id, is_tenant_admin=True, display_name="Alex Officer")
    make_user(Role.BANK, bank_id=bank.id, display_name="Sam Colleague")
    product = make_product(bank=bank, code="TECH1", name_zh="Tech Loan", name_en="Tech Loan", min_grade="B",
                           min_years_operating=2, eligible_districts=["310115", "310104"],
                           eligible_industries=["I", "C"], programme="Tech Plan")
    make_product(bank=bank, code="MORT1", name_zh="Mortgage Loan", name_en="Mortgage Loan",
                 guarantee_type=GuaranteeType.MORTGAGE)
    enterprise = make_enterprise(name="Latin Widgets Ltd", status=EnterpriseStatus.OPERATING)
    owner = make_user(Role.ENTERPRISE, enterprise_uscc=enterprise.uscc, display_name="Kim Owner")
    for months_ago in range(1, 4):
        month = (date.today().replace(day=1) - timedelta(days=31 * months_ago)).replace(day=1)
        db_session.add(TaxMonth(uscc=enterprise.uscc, month=month, invoiced_sales_fen=90_000_000 + months_ago,
                                tax_paid_fen=1_000_000, in_arrears=False))
        db_session.add(SocialInsuranceMonth(uscc=enterprise.uscc, month=month, insured_headcount=20 + months_ago,
                                            contributions_fen=500_000, months_in_arrears=0))
    db_session.add(TaxRating(uscc=enterprise.uscc, year=date.today().year - 1, rating="A"))
    db_session.add(PublicCreditEvent(record_id=f"R-{enterprise.uscc}", uscc=enterprise.uscc,
                                     kind=PublicCreditKind.ADMINISTRATIVE_PENALTY, severity=Severity.MINOR,
                                     decided_on=date.today() - timedelta(days=400)))
    db_session.add(Authorization(uscc=enterprise.uscc, sources=["tax", "tax_rating", "social_insurance", "public_credit"],
                                 all_banks=True, granted_by_id=owner.id, granted_at=utcnow() - timedelta(hours=1),
                                 expires_at=utcnow() + timedelta(days=90)))
    applications = {}
    for state in ("matched", "claimed", "approved", "disbursed", "declined"):
        need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="流动资金周转",
                             purpose_detail="Buy steel", guarantee_types=["信用", "保证"])
        db_session.add(need)
        db_session.flush()
        applications[state] = make_application(product=product, need=need)
    actor = Actor(Channel.WEB, user_id=officer.id)
    for state, moves in {"claimed": ["claimed"], "approved": ["claimed", "approved"],
                         "disbursed": ["claimed", "approved", "disbursed"], "declined": ["claimed", "declined"]}.items():
        for move in moves:
            detail = {"disbursed": {"disbursement": Disbursement(45_000_000, 385, 12, date.today(),
                                                                 GuaranteeType.CREDIT)},
                      "declined": {"reason_code": "insufficient_guarantee", "reason_text": "Needs a guarantor"}}
            transition(db_session, applications[state], ApplicationState(move), actor, detail=detail.get(move))
    db_session.commit()
    login(officer)
    return {"officer": officer, "applications": applications, "product": product}


BANK_PAGES = ("/bank/", "/bank/pipeline", "/bank/pipeline?district=310115&sort=oldest", "/bank/applications",
              "/bank/products", "/bank/products/new", "/bank/dashboard", "/bank/tokens", "/bank/outcomes/upload")


@pytest.mark.parametrize("path", BANK_PAGES)
def test_bank_pages_in_english_have_no_chinese_of_their_own(client, bank_world, path):
    assert_no_chinese(english(client, path))


@pytest.mark.parametrize("state", ["matched", "claimed", "approved", "disbursed", "declined"])
def test_application_detail_in_english_has_no_chinese_of_its_own(client, bank_world, state):
    application = bank_world["applications"][state]
    page = english(client, f"/bank/applications/{application.id}")
    assert "Latin Widgets Ltd" in page  # the authorized detail is on the page, not just the summary
    assert_no_chinese(page)


def test_product_edit_form_in_english_has_no_chinese_of_its_own(client, bank_world):
    assert_no_chinese(english(client, f"/bank/products/{bank_world['product'].id}/edit"))


def test_a_refused_form_explains_itself_in_english(client, bank_world):
    form = {"code": "TECH1", "name_zh": "Again", "name_en": "Again", "min_amount": "100", "max_amount": "50",
            "min_term_months": "3", "max_term_months": "36", "min_rate": "5.00", "max_rate": "4.00", "fee": "0",
            "guarantee_type": "信用", "min_grade": "", "min_years_operating": "0", "status": "active"}
    english(client, "/bank/products/new")
    response = client.post("/bank/products/new", data={**form, "csrf_token": csrf_token(client, "/bank/products/new")})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "The lowest rate cannot be above the highest" in page  # the service's own rule, worded in English
    assert_no_chinese(page)


def test_a_refused_report_is_explained_in_english(client, bank_world):
    path = f"/bank/applications/{bank_world['applications']['disbursed'].id}"
    english(client, path)
    form = {"idempotency_key": "early-report", "status": "repaying", "as_of": "2001-01-31", "outstanding": "1000",
            "csrf_token": csrf_token(client, path)}
    response = client.post(f"{path}/repayment", data=form)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Not saved: The report date is before the disbursement date" in page
    assert_no_chinese(page)


def test_the_history_names_the_channel_in_the_pages_language(client, bank_world):
    path = f"/bank/applications/{bank_world['applications']['claimed'].id}"
    history = english(client, path).split('class="bank-history"')[1].split("</ol>")[0]
    assert "· Web" in history
    chinese = client.get(path + "?lang=zh").get_data(as_text=True).split('class="bank-history"')[1].split("</ol>")[0]
    assert "· 网页" in chinese
    assert "web" not in chinese
