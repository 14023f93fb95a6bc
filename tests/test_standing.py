"""One "latest score" (a total order: newest scored_at, then the higher id) and one "latest published
whitelist" behind every page: the enterprise's page, the bank's view of an authorized enterprise, matching."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from models.base import utcnow
from models.consent import Authorization
from models.identity import Role
from models.lending import FinancingNeed
from models.scoring import ModelVersion, Score, WhitelistEntry, WhitelistStatus, WhitelistVersion
from tests.conftest import TEST_PASSWORD, csrf_token
from tests.test_bank_web import _bank, officer, open_match, text  # noqa: F401 (officer is a fixture)
from xinyidai.domain.matching import match_need


@pytest.fixture
def two_scores_in_one_instant(db_session):
    """Two scores of one enterprise stored with the same timestamp: the later row (higher id) is the latest."""

    def make(uscc: str) -> tuple[Score, Score]:
        db_session.merge(ModelVersion(version="tie-test", path="-", card={}))
        db_session.flush()
        moment = utcnow() - timedelta(minutes=5)
        older = Score(uscc=uscc, model_version="tie-test", as_of=date(2026, 10, 31), pd_12m=0.2, points=541,
                      grade="BB", gates_passed=True, scored_at=moment)
        db_session.add(older)
        db_session.flush()
        newer = Score(uscc=uscc, model_version="tie-test", as_of=date(2026, 10, 31), pd_12m=0.02, points=712,
                      grade="AA", gates_passed=True, scored_at=moment)
        db_session.add(newer)
        db_session.flush()
        assert newer.id > older.id
        return older, newer

    return make


def test_the_bank_sees_the_same_latest_score_as_the_enterprise(client, officer, db_session, make_product,  # noqa: F811
                                                               make_enterprise, make_application, make_user,
                                                               two_scores_in_one_instant, app):
    application = open_match(db_session, make_enterprise, make_application, make_product(bank=_bank(db_session, officer)))
    two_scores_in_one_instant(application.uscc)
    owner = make_user(Role.ENTERPRISE, enterprise_uscc=application.uscc)
    grant = Authorization(uscc=application.uscc, sources=["tax"], all_banks=False, granted_by_id=owner.id,
                          granted_at=utcnow() - timedelta(hours=1), expires_at=utcnow() + timedelta(days=30))
    grant.banks = [_bank(db_session, officer)]
    db_session.add(grant)
    db_session.commit()
    page = text(client.get(f"/bank/applications/{application.id}"))
    assert "712" in page
    assert "541" not in page
    enterprise_client = app.test_client()
    enterprise_client.post("/login", data={"username": owner.username, "password": TEST_PASSWORD,
                                           "csrf_token": csrf_token(enterprise_client)})
    own = text(enterprise_client.get("/enterprise/profile"))
    assert "712" in own
    assert "541" not in own


def test_matching_reads_the_latest_score_of_an_instant(db_session, make_enterprise, make_product,
                                                       two_scores_in_one_instant):
    enterprise = make_enterprise()
    two_scores_in_one_instant(enterprise.uscc)
    product = make_product(min_grade="A")
    need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                         guarantee_types=["信用", "保证"])
    db_session.add(need)
    db_session.flush()
    fit = next(f for f in match_need(db_session, need) if f.product.id == product.id)
    assert fit.eligible, fit.reasons


def test_a_whitelist_only_product_reads_the_latest_published_version(db_session, make_enterprise, make_product,
                                                                     two_scores_in_one_instant):
    """Two versions published in one instant (a race the workflow normally prevents): the higher id is the list."""
    enterprise = make_enterprise(district_code="310104")
    older, newer = two_scores_in_one_instant(enterprise.uscc)
    moment = utcnow()
    listing = WhitelistVersion(district_code="310104", model_version="tie-test", min_grade="A",
                               status=WhitelistStatus.PUBLISHED, created_at=moment, published_at=moment)
    empty = WhitelistVersion(district_code="310104", model_version="tie-test", min_grade="A",
                             status=WhitelistStatus.PUBLISHED, created_at=moment, published_at=moment)
    db_session.add(listing)
    db_session.flush()
    db_session.add(WhitelistEntry(whitelist_version_id=listing.id, uscc=enterprise.uscc, score_id=newer.id,
                                  grade="AA", change="added"))
    db_session.add(empty)
    db_session.flush()
    product = make_product(whitelist_only=True)
    need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                         guarantee_types=["信用", "保证"])
    db_session.add(need)
    db_session.flush()
    fit = next(f for f in match_need(db_session, need) if f.product.id == product.id)
    assert not fit.eligible  # the later version (higher id, same instant) lists nobody
    assert "not_whitelisted" in [r.code for r in fit.reasons]
