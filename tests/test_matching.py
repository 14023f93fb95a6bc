"""The matching engine (DESIGN §5): every failing rule is sayable; eligible pairs are ranked."""

from __future__ import annotations

from datetime import date

from models.enterprise import EnterpriseStatus
from models.lending import Application, FinancingNeed, GuaranteeType, ProductStatus
from models.scoring import grade_at_least
from xinyidai.domain.matching import assess, match_need, refresh_matches
from xinyidai.domain.standing import Standing

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


# ---------------------------------------------------------------- re-matching keeps what banks touched

def _viewed(db_session, application):
    from models.audit import AuditEntry

    db_session.add(AuditEntry(action="view_credit_detail", subject_uscc=application.uscc,
                              detail={"application_id": application.id, "bank_id": application.bank_id}))
    db_session.flush()


def _published(db_session, enterprise, **fields):
    need = need_for(enterprise, **fields)
    db_session.add(need)
    db_session.flush()
    refresh_matches(db_session, need, TODAY)
    return need


def _by_product(db_session, need):
    db_session.expire_all()
    return {a.product_id: a for a in db_session.query(Application).filter_by(need_id=need.id)}


def test_rematch_withdraws_touched_matches_with_their_history_and_deletes_only_untouched_ones(
        db_session, make_enterprise, make_product):
    from models.lending import ApplicationEvent, ApplicationState, Channel

    viewed_product, noted_product, untouched_product = make_product(), make_product(), make_product()
    need = _published(db_session, make_enterprise())
    matched = _by_product(db_session, need)
    _viewed(db_session, matched[viewed_product.id])
    db_session.add(ApplicationEvent(application_id=matched[noted_product.id].id, to_state=ApplicationState.MATCHED,
                                    channel=Channel.SYSTEM, detail={"reason": "sla_release"}))
    for product in (viewed_product, noted_product, untouched_product):
        product.status = ProductStatus.PAUSED
    db_session.flush()
    refresh_matches(db_session, need, TODAY)  # used to delete all three (and fail on the one with events)
    after = _by_product(db_session, need)
    assert untouched_product.id not in after
    for product in (viewed_product, noted_product):
        assert after[product.id].state is ApplicationState.WITHDRAWN
        assert after[product.id].events[-1].detail == {"reason": "no_longer_offered"}
        assert after[product.id].events[-1].channel is Channel.SYSTEM


def test_under_a_contact_limit_a_viewed_match_keeps_its_place_over_a_better_newcomer(
        db_session, make_enterprise, make_product):
    from models.lending import ApplicationState

    enterprise = make_enterprise()
    dear = make_product(min_rate_bp=900, max_rate_bp=1000)
    viewed_need = _published(db_session, enterprise, max_contacts=1)
    untouched_need = _published(db_session, enterprise, max_contacts=1)
    _viewed(db_session, _by_product(db_session, viewed_need)[dear.id])
    cheap = make_product(min_rate_bp=300, max_rate_bp=400)  # ranks higher than `dear`
    refresh_matches(db_session, viewed_need, TODAY)
    refresh_matches(db_session, untouched_need, TODAY)
    kept = _by_product(db_session, viewed_need)
    assert set(kept) == {dear.id}
    assert kept[dear.id].state is ApplicationState.MATCHED
    assert set(_by_product(db_session, untouched_need)) == {cheap.id}  # nobody looked: the better match wins


# ---------------------------------------------------------------- a new product honours the contact control

def test_a_new_product_reaches_only_needs_whose_contact_control_allows_its_bank(
        db_session, make_enterprise, make_product, make_bank):
    from models.lending import ApplicationState, Channel
    from xinyidai.domain.lifecycle import Actor, transition
    from xinyidai.domain.products import create_product

    enterprise = make_enterprise()
    first = make_product()
    full = _published(db_session, enterprise, max_contacts=1)
    room = _published(db_session, enterprise, max_contacts=2)
    closed = _published(db_session, enterprise, open_to_all_banks=False)
    declined = _published(db_session, enterprise)
    # The first bank declines `declined`; its next product must not bring the need back to it.
    application = _by_product(db_session, declined)[first.id]
    actor = Actor(Channel.API)
    transition(db_session, application, ApplicationState.CLAIMED, actor)
    transition(db_session, application, ApplicationState.DECLINED, actor, detail={"reason_code": "credit_record"})
    body = {"code": "NEW1", "name_zh": "新产品", "name_en": "New", "min_amount_fen": 10_000_000,
            "max_amount_fen": 300_000_000, "min_term_months": 3, "max_term_months": 36, "min_rate_bp": 300,
            "max_rate_bp": 480, "guarantee_type": "信用"}
    other_bank = create_product(db_session, make_bank().id, body, actor, today=TODAY)
    same_bank = create_product(db_session, first.bank_id, {**body, "code": "NEW2"}, actor, today=TODAY)
    assert other_bank.id not in _by_product(db_session, full)
    assert other_bank.id in _by_product(db_session, room)
    assert other_bank.id not in _by_product(db_session, closed)
    assert other_bank.id in _by_product(db_session, declined)
    assert same_bank.id in _by_product(db_session, full)  # the bank already has the need: one more product
    assert same_bank.id not in _by_product(db_session, declined)
