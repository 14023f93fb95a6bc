"""A bank (web and API) sees the later sources (DESIGN §13: intellectual property, qualifications, environmental
rating, agricultural operators) of an enterprise under a live authorization covering each of them — exactly the
rule of the first six: a source the authorization leaves out shows nothing, no authorization shows no detail, and
every view of detail is audited with the sources it covered."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import utcnow
from models.consent import Authorization
from models.identity import ApiToken, Role
from models.lending import FinancingNeed
from models.sources import AgriculturalOperator, EnvironmentalRating, IntellectualProperty, Qualification
from tests.test_api_bank import api  # noqa: F401 - the API caller fixture
from tests.test_guarantor_portal import setting  # noqa: F401 - a bank, a guarantor and an application

TODAY = date.today()


@pytest.fixture
def officer(make_user, make_bank, login):
    user = make_user(Role.BANK, bank_id=make_bank().id, is_tenant_admin=True)
    login(user)
    return user


def _application(db_session, make_enterprise, make_application, make_product, bank):
    enterprise = make_enterprise()
    uscc = enterprise.uscc
    db_session.add_all([
        IntellectualProperty(kind="发明专利", number="CN202310987654.3", uscc=uscc, applied_on=date(2023, 3, 1),
                             granted_on=date(2025, 1, 10)),
        IntellectualProperty(kind="商标", number="TM-77001234", uscc=uscc, applied_on=date(2024, 5, 1)),
        Qualification(uscc=uscc, kind="高新技术企业", issued_on=TODAY - timedelta(days=400),
                      expires_on=TODAY + timedelta(days=600), certificate_no="GR202431001234"),
        Qualification(uscc=uscc, kind="科技型中小企业", issued_on=TODAY - timedelta(days=800),
                      expires_on=TODAY - timedelta(days=435)),
        EnvironmentalRating(uscc=uscc, year=TODAY.year - 1, grade="黄"),
        AgriculturalOperator(uscc=uscc, kind="家庭农场", recognized_on=date(2022, 6, 1), level="市级"),
    ])
    need = FinancingNeed(uscc=uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                         guarantee_types=["信用"])
    db_session.add(need)
    db_session.flush()
    return make_application(product=make_product(bank=bank), need=need)


def _grant(db_session, make_user, uscc, sources):
    owner = make_user(Role.ENTERPRISE, enterprise_uscc=uscc)
    grant = Authorization(uscc=uscc, sources=sources, all_banks=True, granted_by_id=owner.id,
                          granted_at=utcnow() - timedelta(hours=1), expires_at=utcnow() + timedelta(days=90))
    db_session.add(grant)
    db_session.commit()
    return grant


def _views(db_session, uscc):
    return db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "view_credit_detail",
                                                          AuditEntry.subject_uscc == uscc)
                              .order_by(AuditEntry.id)).all()


def test_the_bank_page_shows_the_later_sources_an_authorization_covers_in_both_languages(
        client, officer, db_session, make_enterprise, make_application, make_product, make_user):
    from models.lending import Bank

    bank = db_session.get(Bank, officer.bank_id)
    application = _application(db_session, make_enterprise, make_application, make_product, bank)
    db_session.commit()
    path = f"/bank/applications/{application.id}"
    page = client.get(path).get_data(as_text=True)
    assert "CN202310987654.3" not in page
    assert "企业资质" not in page

    grant = _grant(db_session, make_user, application.uscc, ["tax", "qualifications", "intellectual_property"])
    page = client.get(path).get_data(as_text=True)
    assert 'id="detail-qualifications"' in page
    assert 'id="detail-ip"' in page
    assert "高新技术企业" in page
    assert 'data-status="valid"' in page
    assert 'data-status="expired"' in page
    assert "CN202310987654.3" in page
    assert "TM-77001234" in page
    assert "审查中" in page
    # sources the authorization leaves out show nothing, not even their headings
    assert 'id="detail-env"' not in page
    assert 'id="detail-agri"' not in page
    assert "家庭农场" not in page

    english = client.get(f"{path}?lang=en").get_data(as_text=True)
    assert "High-tech enterprise" in english
    assert "Intellectual property" in english
    assert "Valid" in english
    assert "Expired" in english
    assert "Pending" in english
    assert "Enterprise qualifications" in english or "Qualifications" in english

    views = _views(db_session, application.uscc)
    assert len(views) == 2
    assert {v.authorization_id for v in views} == {grant.id}
    assert views[-1].detail["sources"] == ["intellectual_property", "qualifications", "tax"]

    grant.revoked_at = utcnow()  # the enterprise narrows what it shares: revoke, grant anew
    _grant(db_session, make_user, application.uscc, ["environmental_rating", "agricultural_operator"])
    page = client.get(f"{path}?lang=zh").get_data(as_text=True)
    assert 'id="detail-env"' in page
    assert "黄（环保警示）" in page
    assert 'id="detail-agri"' in page
    assert "家庭农场" in page
    assert "市级" in page
    assert 'id="detail-qualifications"' not in page
    assert "CN202310987654.3" not in page
    assert _views(db_session, application.uscc)[-1].detail["sources"] == ["agricultural_operator",
                                                                          "environmental_rating"]


def test_the_api_returns_the_covered_later_sources_and_audits_the_token(api, db_session, make_enterprise,  # noqa: F811
                                                                        make_application, make_product, make_user):
    caller = api()
    application = _application(db_session, make_enterprise, make_application, make_product, caller.bank)
    db_session.commit()
    body = caller.get(f"/api/v1/applications/{application.id}").get_json()
    assert body["enterprise"]["detail"] is None

    grant = _grant(db_session, make_user, application.uscc, ["qualifications", "environmental_rating"])
    detail = caller.get(f"/api/v1/applications/{application.id}").get_json()["enterprise"]["detail"]
    assert [(q["kind"], q["status"]) for q in detail["qualifications"]] == [("高新技术企业", "valid"),
                                                                          ("科技型中小企业", "expired")]
    assert detail["qualifications"][0]["certificate_no"] == "GR202431001234"
    assert detail["environmental_ratings"] == [{"year": TODAY.year - 1, "grade": "黄"}]
    assert detail["intellectual_property"] == []
    assert detail["agricultural_operators"] == []
    token_id = db_session.scalar(sa.select(ApiToken.id).where(ApiToken.bank_id == caller.bank.id))
    (view,) = _views(db_session, application.uscc)
    assert view.actor_token_id == token_id
    assert view.authorization_id == grant.id
    assert view.detail["sources"] == ["environmental_rating", "qualifications"]


def test_a_guarantor_named_by_the_authorization_sees_the_covered_later_sources(setting, db_session):  # noqa: F811
    from tests.test_guarantor_portal import ask_for_guarantee, guarantor_path, post, text

    s, enterprise = setting, setting["enterprise_row"]
    db_session.add_all([
        Qualification(uscc=enterprise.uscc, kind="专精特新", issued_on=TODAY - timedelta(days=30),
                      expires_on=TODAY + timedelta(days=1000)),
        EnvironmentalRating(uscc=enterprise.uscc, year=TODAY.year - 1, grade="红"),
    ])
    db_session.commit()
    assert ask_for_guarantee(s).status_code == 302
    form = "/enterprise/authorizations"
    granted = post(s["enterprise"], form, {"sources": ["tax", "qualifications"], "scope": "chosen",
                                           "guarantor_ids": [str(s["guarantor_row"].id)],
                                           "expires_on": (TODAY + timedelta(days=60)).isoformat()}, form)
    assert granted.status_code == 302
    page = text(s["guarantor"].get(guarantor_path(s)))
    assert 'id="detail-qualifications"' in page
    assert "专精特新" in page
    assert 'data-status="valid"' in page
    assert 'id="detail-env"' not in page
    assert "红（环保不良）" not in page
    assert _views(db_session, enterprise.uscc)[-1].detail["sources"] == ["qualifications", "tax"]
