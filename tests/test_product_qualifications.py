"""Products that require or prefer a qualification (DESIGN §13): valid on the need's date, said plainly in
both languages when it is missing (the enterprise's near misses), set through the bank's form and the API."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from models.lending import Application, FinancingNeed, Product
from models.sources import Qualification
from tests.conftest import csrf_token
from tests.test_api_bank import PRODUCT, api  # noqa: F401 - the API caller fixture
from tests.test_bank_web import PRODUCT_FORM, officer, post  # noqa: F401 - the bank officer fixture
from tests.test_enterprise_needs import owner, publish, text, the_need  # noqa: F401 - the enterprise owner fixture
from xinyidai.domain.matching import match_need

NEED_DAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def certify(db_session, uscc, kind="高新技术企业", issued=date(2023, 11, 15), expires=date(2026, 11, 14)):
    db_session.add(Qualification(uscc=uscc, kind=kind, issued_on=issued, expires_on=expires))
    db_session.flush()


def published_need(db_session, enterprise, when=NEED_DAY):
    need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                         guarantee_types=["信用"], published_at=when)
    db_session.add(need)
    db_session.flush()
    return need


def fit_of(db_session, need, product):
    return next(f for f in match_need(db_session, need, date(2026, 3, 2)) if f.product.id == product.id)


def test_a_required_qualification_must_be_valid_on_the_needs_date(db_session, make_enterprise, make_product):
    product = make_product(required_qualifications=["高新技术企业"])
    holder, lapsed, none = make_enterprise(), make_enterprise(), make_enterprise()
    certify(db_session, holder.uscc)
    certify(db_session, lapsed.uscc, issued=date(2022, 11, 1), expires=date(2025, 10, 31))  # expired before the need
    certify(db_session, none.uscc, kind="科技型中小企业")  # another qualification does not stand in for it
    assert fit_of(db_session, published_need(db_session, holder), product).eligible
    for firm in (lapsed, none):
        fit = fit_of(db_session, published_need(db_session, firm), product)
        assert [r.code for r in fit.reasons] == ["qualification_required"]
        assert fit.reasons[0].zh == "需持有有效的高新技术企业证书"
        assert fit.reasons[0].en == "requires a valid high-tech enterprise certificate"
    # the need's date decides, not today's: a need published while the certificate was valid still matches
    assert fit_of(db_session, published_need(db_session, lapsed, datetime(2025, 6, 1, tzinfo=UTC)), product).eligible


def test_a_preferred_qualification_ranks_higher_but_excludes_no_one(db_session, make_enterprise, make_product):
    plain = make_product()
    preferring = make_product(preferred_qualifications=["专精特新"])
    holder, other = make_enterprise(), make_enterprise()
    certify(db_session, holder.uscc, kind="专精特新")
    held, not_held = published_need(db_session, holder), published_need(db_session, other)
    assert fit_of(db_session, not_held, preferring).eligible
    assert fit_of(db_session, held, preferring).rank > fit_of(db_session, held, plain).rank
    assert fit_of(db_session, not_held, preferring).rank == fit_of(db_session, not_held, plain).rank


def test_the_enterprise_sees_why_a_product_requiring_a_certificate_does_not_match(client, db_session, owner,  # noqa: F811
                                                                                  make_bank, make_product):
    make_product(bank=make_bank(name_zh="科创银行", name_en="Tech Bank"), required_qualifications=["高新技术企业"])
    response = publish(client)
    page = text(client.get(response.headers["Location"]))
    near = page.split("差一点匹配的产品")[1]
    assert "科创银行" in near
    assert "需持有有效的高新技术企业证书" in near
    english = text(client.get(response.headers["Location"] + "?lang=en"))
    assert "requires a valid high-tech enterprise certificate" in english
    # once the certificate is delivered, a new need matches it
    certify(db_session, owner.enterprise_uscc, issued=date(2024, 1, 1), expires=date(2099, 12, 31))
    db_session.commit()
    again = publish(client, amount="201")
    need = db_session.scalars(sa.select(FinancingNeed).where(FinancingNeed.uscc == owner.enterprise_uscc)
                              .order_by(FinancingNeed.id.desc())).first()
    assert again.status_code == 302
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Application)
                             .where(Application.need_id == need.id)) == 1


def test_a_bank_sets_required_and_preferred_qualifications_in_the_product_form(client, officer, db_session):  # noqa: F811
    form = client.get("/bank/products/new?lang=en").get_data(as_text=True)
    assert "Required qualifications" in form
    assert "High-tech enterprise" in form
    data = {**PRODUCT_FORM, "required_qualifications": ["高新技术企业"],
            "preferred_qualifications": ["专精特新", "科技小巨人"]}
    assert post(client, "/bank/products/new", data).status_code == 302
    product = db_session.scalar(sa.select(Product).where(Product.bank_id == officer.bank_id))
    assert product.required_qualifications == ["高新技术企业"]
    assert product.preferred_qualifications == ["专精特新", "科技小巨人"]
    assert "须持有：高新技术企业" in text(client.get("/bank/products?lang=zh"))
    edit = text(client.get(f"/bank/products/{product.id}/edit"))
    assert 'selected value="高新技术企业"' in edit
    bad = client.post("/bank/products/new", data={**data, "code": "KC10", "required_qualifications": ["火箭企业"],
                                                 "csrf_token": csrf_token(client, "/bank/products/new")})
    assert bad.status_code == 422


def test_the_api_takes_and_returns_a_products_qualifications(api):  # noqa: F811
    caller = api()
    created = caller.post("/api/v1/products", {**PRODUCT, "required_qualifications": ["科技型中小企业"]}, key="q-1")
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["required_qualifications"] == ["科技型中小企业"]
    assert created.get_json()["preferred_qualifications"] == []
    refused = caller.post("/api/v1/products", {**PRODUCT, "code": "KC3", "required_qualifications": ["unknown"]},
                          key="q-2")
    assert refused.status_code == 422
    assert "required_qualifications" in str(refused.get_json())


@pytest.mark.parametrize("kind", ["高新技术企业", "科技型中小企业", "专精特新", "科技小巨人"])
def test_every_qualification_has_its_reason_in_both_languages(db_session, make_enterprise, make_product, kind):
    fit = fit_of(db_session, published_need(db_session, make_enterprise()), make_product(required_qualifications=[kind]))
    assert kind in fit.reasons[0].zh
    assert fit.reasons[0].en.startswith("requires a valid ")
    assert fit.reasons[0].en.endswith(" certificate")
