"""Scoring: scorecard points and grades, the whitelist gates with repair advice and lenient treatment,
reasons (at most four, by family, in Chinese and English), storage, on-demand rescoring and whitelists."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ml import registry, synthetic
from ml.features import FEATURE_NAMES
from ml.gates import evaluate_gates
from ml.reasons import FAMILIES
from ml.score import MAX_REASONS, SCALING, describe_gate, grades, points, score_and_store
from models.enterprise import EnterpriseStatus
from models.scoring import GRADE_SCALE, Score, ScoreReason, WhitelistEntry, WhitelistPolicy, WhitelistVersion
from models.sources import PublicCreditEvent, TaxRating
from xinyidai.domain import scoring as service
from xinyidai.domain.whitelist import whitelisted
from xinyidai.domain.whitelist_workflow import draft_all

AS_OF = date(2026, 11, 1)


def test_points_follow_the_stated_scaling_and_grades_fall_with_the_pd():
    odds = SCALING["base_odds"]
    at_base = 1 / (1 + odds)
    doubled = 1 / (1 + 2 * odds)
    assert points(np.array([at_base]))[0] == SCALING["base_points"]
    assert points(np.array([doubled]))[0] == SCALING["base_points"] + SCALING["pdo"]
    pds = np.linspace(0.001, 0.6, 200)
    score_points = points(pds)
    assert (np.diff(score_points) <= 0).all()
    ranks = [GRADE_SCALE.index(g) for g in grades(score_points)]
    assert ranks == sorted(ranks)
    assert set(grades(score_points)) == set(GRADE_SCALE)


def event(db_session, uscc, record_id, kind, *, decided_on=date(2025, 6, 2), severity="严重", repaired_on=None,
          force_majeure=False):
    db_session.add(PublicCreditEvent(record_id=record_id, uscc=uscc, kind=kind, severity=severity,
                                     decided_on=decided_on, repaired_on=repaired_on, force_majeure=force_majeure))


def test_gates_close_for_unrepaired_dishonesty_serious_violation_closure_and_rating_d(db_session, make_enterprise):
    debtor, violator, closed, rated_d, repaired, clean = (make_enterprise() for _ in range(6))
    closed.status = EnterpriseStatus.REVOKED
    event(db_session, debtor.uscc, "G-1", "失信被执行人")
    event(db_session, violator.uscc, "G-2", "严重违法失信名单")
    event(db_session, repaired.uscc, "G-3", "失信被执行人", repaired_on=date(2026, 3, 1))
    db_session.add(TaxRating(uscc=rated_d.uscc, year=2025, rating="D"))
    db_session.flush()
    usccs = [f.uscc for f in (debtor, violator, closed, rated_d, repaired, clean)]
    tax_rating = pd.Series([np.nan, np.nan, np.nan, 4.0, np.nan, 1.0], index=usccs)
    gates = evaluate_gates(db_session, usccs, AS_OF, tax_rating=tax_rating)
    assert gates.loc[debtor.uscc, "failed_gates"] == [{"gate": "dishonest_debtor", "record_id": "G-1",
                                                       "decided_on": "2025-06-02"}]
    assert gates.loc[violator.uscc, "failed_gates"][0]["gate"] == "serious_violation"
    assert gates.loc[closed.uscc, "failed_gates"] == [{"gate": "not_operating", "status": "吊销"}]
    assert gates.loc[rated_d.uscc, "failed_gates"] == [{"gate": "tax_rating_d", "year": 2025}]
    assert gates.gates_passed.to_dict() == {debtor.uscc: False, violator.uscc: False, closed.uscc: False,
                                            rated_d.uscc: False, repaired.uscc: True, clean.uscc: True}
    advice = describe_gate(gates.loc[debtor.uscc, "failed_gates"][0])
    assert "执行法院" in advice["advice_zh"]
    assert "court" in advice["advice_en"]


def test_a_repair_after_the_as_of_date_does_not_open_the_gate_before_it(db_session, make_enterprise):
    firm = make_enterprise()
    event(db_session, firm.uscc, "G-4", "失信被执行人", repaired_on=date(2026, 12, 1))
    db_session.flush()
    assert not evaluate_gates(db_session, [firm.uscc], AS_OF).loc[firm.uscc, "gates_passed"]
    assert evaluate_gates(db_session, [firm.uscc], date(2027, 1, 1)).loc[firm.uscc, "gates_passed"]


def test_minor_old_and_force_majeure_records_are_treated_leniently(db_session, make_enterprise):
    firm = make_enterprise()
    event(db_session, firm.uscc, "L-1", "行政处罚", severity="一般", decided_on=date(2022, 4, 20), force_majeure=True)
    event(db_session, firm.uscc, "L-2", "失信被执行人", severity="轻微")
    event(db_session, firm.uscc, "L-3", "严重违法失信名单", decided_on=date(2022, 5, 6))  # past 3 years
    event(db_session, firm.uscc, "L-4", "行政处罚", severity="轻微")
    db_session.flush()
    gates = evaluate_gates(db_session, [firm.uscc], AS_OF).loc[firm.uscc]
    assert gates.gates_passed
    assert gates.failed_gates == []
    why = {r["record_id"]: r["why"] for r in gates.lenient}
    assert why == {"L-1": "force_majeure", "L-2": "minor", "L-3": "old", "L-4": "minor"}
    assert all(r["zh"] and r["en"] for r in gates.lenient)


@pytest.fixture
def scored(db_session, app):
    """A synthetic population with a trained, promoted model, every enterprise scored."""
    synthetic.populate(db_session, enterprises=400, seed=5)
    service.train_and_register(db_session, app.instance_path, promote=True, by="test")
    version = registry.active_version(db_session)  # the trained model or its WOE scorecard, whichever won
    return version, service.score_everyone(db_session, app.instance_path)


def test_every_enterprise_gets_a_stored_score_with_at_most_four_reasons_in_two_languages(db_session, scored):
    version, result = scored
    frame = result.frame
    assert len(frame) == 400
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Score)
                             .where(Score.model_version == version.version)) == 400
    assert frame.reasons.map(len).max() <= MAX_REASONS
    assert frame.reasons.map(len).min() >= 1
    for reasons in frame.reasons:
        families = [r["family"] for r in reasons]
        assert len(families) == len(set(families))  # one reason per family
        assert set(families) <= set(FAMILIES)
        sizes = [abs(r["contribution"]) for r in reasons]
        assert sizes == sorted(sizes, reverse=True)
    stored = db_session.scalars(sa.select(Score).where(Score.id == int(result.score_ids[0]))).one()
    assert [r.rank for r in stored.reasons] == list(range(1, len(frame.reasons.iloc[0]) + 1))
    assert stored.reasons[0].feature == frame.reasons.iloc[0][0]["feature"]
    assert stored.grade == frame.grade.iloc[0]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(ScoreReason)) == frame.reasons.map(len).sum()


def test_rescoring_one_enterprise_gives_the_json_the_cli_prints(db_session, app, scored):
    _, result = scored
    uscc = result.frame.index[0]
    answer = service.rescore(db_session, app.instance_path, uscc, as_of=result.as_of)
    assert set(answer) == {"uscc", "model_version", "as_of", "pd", "score", "grade", "whitelisted", "gates", "reasons"}
    assert answer["pd"] == pytest.approx(result.frame.loc[uscc, "pd_12m"], abs=1e-6)
    for reason in answer["reasons"]:
        assert re.search(r"[\u4e00-\u9fff]", reason["zh"])
        assert reason["en"].isascii()
        assert not any(name in reason["zh"] or name in reason["en"] for name in FEATURE_NAMES)
    with pytest.raises(KeyError):
        service.rescore(db_session, app.instance_path, "91310115MA1XXXXX00", as_of=result.as_of)


def test_rescoring_without_an_active_model_is_refused(db_session, app, make_enterprise):
    registry.active_model.forget()
    with pytest.raises(registry.ModelUnavailable):
        service.rescore(db_session, app.instance_path, make_enterprise().uscc, as_of=AS_OF)


def test_whitelist_follows_the_district_threshold_and_records_the_model_version(db_session, scored):
    version, result = scored
    frame = result.frame
    default = whitelisted(db_session, frame)
    assert default.equals(frame.gates_passed & frame.grade.isin(GRADE_SCALE[:4]))  # default BBB
    db_session.add(WhitelistPolicy(district_code="310115", min_grade="B"))
    db_session.flush()
    lenient = whitelisted(db_session, frame)
    assert lenient.sum() > default.sum()
    assert lenient.equals(frame.gates_passed & frame.grade.isin(GRADE_SCALE[:6]))
    drafts = draft_all(db_session)
    assert [d.district_code for d in drafts] == ["310115"]
    draft = db_session.get(WhitelistVersion, drafts[0].id)
    assert draft.model_version == version.version
    assert draft.min_grade == "B"
    entries = db_session.scalars(sa.select(WhitelistEntry).where(WhitelistEntry.whitelist_version_id == draft.id)).all()
    assert {e.uscc for e in entries} == set(lenient[lenient].index)
    assert {e.change for e in entries} == {"added"}


def test_scoring_a_few_enterprises_matches_scoring_everyone(db_session, app, scored):
    version, result = scored
    model = registry.load(app.instance_path, version)
    few = list(result.frame.index[:3])
    again = score_and_store(db_session, model, version.version, as_of=result.as_of, usccs=few).frame
    np.testing.assert_allclose(again.pd_12m, result.frame.loc[few, "pd_12m"])
    # the same reasons in the same order; contributions equal up to floating-point summation order
    # (LightGBM's contributions for 3 rows and for 400 can differ in the last bit)
    for mine, theirs in zip(again.reasons.tolist(), result.frame.loc[few, "reasons"].tolist(), strict=True):
        assert [(r["family"], r["feature"]) for r in mine] == [(r["family"], r["feature"]) for r in theirs]
        np.testing.assert_allclose([r["contribution"] for r in mine], [r["contribution"] for r in theirs], rtol=1e-12)
