"""The matching engine (DESIGN §5): every failing rule is sayable; eligible pairs are ranked."""

from __future__ import annotations

from datetime import date

from models.enterprise import EnterpriseStatus
from models.lending import Application, FinancingNeed, GuaranteeType, ProductStatus
from models.scoring import grade_at_least
from xinyidai.lending.matching import Standing, assess, match_need, refresh_matches

TODAY = date(2026, 11, 22)


def need_for(enterprise, **fields):
    return FinancingNeed(uscc=enterprise.uscc, amount_fen=fields.pop("amount_fen", 50_000_000),
                         term_months=fields.pop("term_months", 12), purpose="working_capital",
                         guarantee_types=fields.pop("guarantee_types", ["信用", "保证"]), **fields)


def codes(fit):
    return [reason.code for reason in fit.reasons]


def test_a_fitting_product_is_eligible(make_enterprise, make_product):
    fit = assess(need_for(make_enterprise()), make_enterprise(), make_product(), Standing("A", True), TODAY)
    assert fit.eligible
    assert 0 < fit.rank <= 1


def test_amount_above_maximum_is_said_plainly(make_enterprise, make_product):
    enterprise = make_enterprise()
    fit = assess(need_for(enterprise, amount_fen=900_000_000), enterprise, make_product(max_amount_fen=300_000_000),
                 Standing(), TODAY)
    assert codes(fit) == ["amount_above_max"]
    assert fit.reasons[0].en == "amount above product maximum (3,000,000 yuan)"
    assert "上限" in fit.reasons[0].zh


def test_every_rule_reports_its_own_reason(make_enterprise, make_product):
    enterprise = make_enterprise(district_code="310151", industry_section="C", industry_division="13",
                                 established_on=date(2025, 6, 1), status=EnterpriseStatus.REVOKED)
    product = make_product(status=ProductStatus.PAUSED, min_amount_fen=100_000_000, max_term_months=6,
                           guarantee_type=GuaranteeType.MORTGAGE, eligible_districts=["310117"],
                           eligible_industries=["I", "M"], min_years_operating=3, min_grade="A", whitelist_only=True)
    fit = assess(need_for(enterprise, amount_fen=50_000_000, term_months=12, guarantee_types=["信用"]),
                 enterprise, product, Standing(grade="BB", whitelisted=False), TODAY)
    assert set(codes(fit)) == {"product_paused", "amount_below_min", "term_out_of_range", "guarantee_not_accepted",
                               "district_not_eligible", "industry_not_eligible", "not_operating", "too_young",
                               "grade_below_min", "not_whitelisted"}
    assert all(reason.zh and reason.en for reason in fit.reasons)


def test_grade_order():
    assert grade_at_least("AA", "A")
    assert grade_at_least("A", "A")
    assert not grade_at_least("BBB", "A")
    assert not grade_at_least(None, "C")
    assert grade_at_least(None, None)


def test_better_grade_ranks_higher_for_the_same_product(make_enterprise, make_product):
    enterprise, product = make_enterprise(), make_product()
    need = need_for(enterprise)
    assert assess(need, enterprise, product, Standing("AA"), TODAY).rank > assess(
        need, enterprise, product, Standing("B"), TODAY).rank


def test_refresh_creates_matched_applications_for_eligible_products_only(db_session, make_enterprise, make_product):
    enterprise = make_enterprise()
    fitting, too_small = make_product(), make_product(max_amount_fen=20_000_000)
    need = need_for(enterprise)
    db_session.add(need)
    db_session.flush()
    fits = refresh_matches(db_session, need, TODAY)
    paired = {a.product_id for a in db_session.query(Application).filter_by(need_id=need.id)}
    assert fitting.id in paired
    assert too_small.id not in paired
    assert [f.product.id for f in fits if f.product.id in (fitting.id, too_small.id)] == [fitting.id, too_small.id]
    # The product is paused: the still-unclaimed match leaves the pipeline on the next refresh.
    fitting.status = ProductStatus.PAUSED
    refresh_matches(db_session, need, TODAY)
    assert fitting.id not in {a.product_id for a in db_session.query(Application).filter_by(need_id=need.id)}


def test_match_need_lists_eligible_products_first(db_session, make_enterprise, make_product):
    enterprise = make_enterprise()
    make_product(max_amount_fen=20_000_000)
    make_product()
    need = need_for(enterprise)
    db_session.add(need)
    db_session.flush()
    fits = match_need(db_session, need, TODAY)
    eligible = [f.eligible for f in fits]
    assert eligible == sorted(eligible, reverse=True)
