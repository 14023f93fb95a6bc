"""fit / predict_proba on any feature table, calibration, monotone constraints, metrics, labels, and the
platform training pipeline with its card."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ml import metrics, synthetic
from ml.card import markdown
from ml.train import NotEnoughLabels, fit, labelled_loans, train
from models.lending import Application, ApplicationState, LoanPerformance

pytestmark = pytest.mark.slow  # measured: pytest --durations (README "Tests")


def synthetic_frame(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"arrears": rng.poisson(1.0, n).astype(float), "growth": rng.standard_normal(n),
                          "noise": rng.standard_normal(n), "sector": rng.choice(["C", "F", "I"], n)})
    frame.loc[rng.random(n) < 0.1, "growth"] = np.nan
    logit = -2.5 + 0.6 * frame.arrears - 0.8 * frame.growth.fillna(0) + (frame.sector == "F") * 0.5
    labels = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, labels


@pytest.fixture(scope="module")
def trained():
    frame, labels = synthetic_frame(6000)
    times = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(6000), unit="h")
    model = fit(frame, labels, times=times, monotone={"arrears": 1, "growth": -1})
    return model, frame, labels


def test_predict_proba_gives_one_probability_per_row(trained):
    model, frame, _ = trained
    p = model.predict_proba(frame.iloc[:25])
    assert p.shape == (25,)
    assert ((p > 0) & (p < 1)).all()
    assert model.card["monotone_constraints"] == {"arrears": 1, "growth": -1}
    assert model.card["categorical"] == ["sector"]
    assert model.card["rows"]["fit"] == 6000


def test_the_trainer_chooses_its_settings_by_cross_validation(trained):
    model, _, _ = trained
    search = model.card["search"]
    chosen = [t for t in search["trials"] if t["chosen"]]
    assert len(chosen) == 1
    assert chosen[0]["cv_auc"] == max(t["cv_auc"] for t in search["trials"]) == search["cv_auc"]
    tried = {(t["num_leaves"], t["learning_rate"], t["lambda_l2"]) for t in search["trials"]}
    assert len({leaves for leaves, _, _ in tried}) >= 4
    assert len({l2 for _, _, l2 in tried}) >= 2
    assert model.card["params"]["num_leaves"] == chosen[0]["num_leaves"]


def test_a_small_sample_trains_and_ranks(trained):
    """200 rows (a bank's joint-modelling sample): the search still runs, the model ranks fresh rows."""
    frame, labels = synthetic_frame(200, seed=5)
    model = fit(frame, labels, monotone={"arrears": 1})
    fresh, fresh_labels = synthetic_frame(5000, seed=6)
    assert metrics.auc(fresh_labels, model.predict_proba(fresh)) > 0.68
    assert model.card["search"]["folds"] >= 2


def test_params_fix_a_searched_setting():
    frame, labels = synthetic_frame(1500, seed=7)
    model = fit(frame, labels, params={"num_leaves": 4, "learning_rate": 0.2})
    assert {t["num_leaves"] for t in model.card["search"]["trials"]} == {4}
    assert model.booster.params["learning_rate"] == 0.2


def test_probabilities_are_calibrated_on_fresh_data(trained):
    model, _, _ = trained
    frame, labels = synthetic_frame(20000, seed=1)
    p = model.predict_proba(frame)
    assert abs(p.mean() - labels.mean()) < 0.015
    assert metrics.ece(labels, p) < 0.02
    assert metrics.auc(labels, p) > 0.7


def test_monotone_constraints_hold_whatever_the_other_features(trained):
    model, frame, _ = trained
    rows = frame.sample(40, random_state=3)
    for feature, direction in (("arrears", 1), ("growth", -1)):
        grid = np.linspace(frame[feature].min(), frame[feature].max(), 25)
        curves = np.array([model.predict_proba(rows.assign(**{feature: value})) for value in grid])
        steps = np.diff(curves, axis=0) * direction
        assert (steps >= -1e-12).all(), feature


def test_contributions_add_up_to_the_calibrated_log_odds(trained):
    model, frame, _ = trained
    p, contrib = model.explain(frame.iloc[:50])
    np.testing.assert_allclose(p, model.predict_proba(frame.iloc[:50]))
    rest = np.log(p / (1 - p)) - contrib.sum(axis=1)
    np.testing.assert_allclose(rest, rest[0])  # what the features do not explain is one constant (the bias)


def test_isotonic_calibration_and_no_times():
    frame, labels = synthetic_frame(3000, seed=4)
    model = fit(frame, labels, calibration="isotonic")
    p = model.predict_proba(frame)
    assert model.calibration.kind == "isotonic"
    assert ((p > 0) & (p < 1)).all()


def test_one_outcome_only_is_refused():
    frame, _ = synthetic_frame(100)
    with pytest.raises(NotEnoughLabels):
        fit(frame, np.zeros(100))


def test_metrics_say_what_they_should():
    y = np.array([0, 0, 1, 1])
    assert metrics.auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert metrics.ks(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    rng = np.random.default_rng(0)
    same = rng.standard_normal(5000)
    assert metrics.psi(same, rng.standard_normal(5000)) < 0.02
    assert metrics.psi(same, rng.standard_normal(5000) + 1) > 0.25
    p = rng.uniform(0, 0.2, 50000)
    assert metrics.ece(rng.random(50000) < p, p) < 0.01
    table = metrics.calibration_table(rng.random(1000) < 0.1, rng.uniform(0, 0.2, 1000))
    assert len(table) == 10
    assert sum(row["rows"] for row in table) == 1000


def test_labels_come_from_disbursed_loans_whose_twelve_months_have_passed(db_session, make_application):
    def loan(disbursed_on, reports, state=ApplicationState.REPAID):
        app = make_application(state=state, disbursed_on=disbursed_on)
        for as_of, dpd, status in reports:
            db_session.add(LoanPerformance(application_id=app.id, as_of=as_of, outstanding_fen=1, days_past_due=dpd,
                                           status=status))
        return app

    frontier = [(date(2026, 10, 31), 0, "repaying")]
    late = loan(date(2025, 1, 10), [(date(2025, 6, 30), 95, "defaulted")])
    written_off = loan(date(2025, 2, 10), [(date(2025, 9, 30), 40, "written_off")])
    after_horizon = loan(date(2025, 1, 10), [(date(2026, 3, 31), 120, "defaulted")])
    short_episode = loan(date(2025, 3, 10), [(date(2025, 5, 31), 45, "overdue")])
    running = loan(date(2026, 3, 1), frontier)  # twelve months not over: no label yet
    declined = make_application(state=ApplicationState.DECLINED)
    db_session.flush()
    labels = labelled_loans(db_session).set_index("application_id")
    assert running.id not in labels.index
    assert declined.id not in labels.index
    assert labels.defaulted.to_dict() == {late.id: 1, written_off.id: 1, after_horizon.id: 0, short_episode.id: 0}
    assert db_session.get(Application, late.id).disbursed_on == labels.loc[late.id, "as_of"]


def test_training_pipeline_evaluates_out_of_time_and_against_a_woe_scorecard(db_session):
    truth = synthetic.populate(db_session, enterprises=500, seed=3, more_sources=True)
    run = train(db_session)
    card = run.model.card
    holdout, training = card["data_window"]["holdout"], card["data_window"]["training"]
    assert training["to"] < holdout["from"]  # out of time: the holdout is disbursed after every training loan
    assert holdout["loans"] + training["loans"] == len(truth)
    for key in ("auc", "ks", "brier", "ece", "calibration", "psi"):
        assert key in card["metrics"]
    assert set(card["metrics"]["psi"]["features"]) == set(run.model.features)
    assert card["baseline"]["lift"]["auc"] == pytest.approx(card["metrics"]["auc"] - card["baseline"]["metrics"]["auc"])
    assert card["metrics"]["auc"] > 0.65
    assert {"lightgbm", "numpy", "pandas", "scikit-learn"} <= set(card["libraries"])
    assert card["monotone_constraints"]["tax_arrears_months"] == 1
    assert date.fromisoformat(holdout["to"]) - date.fromisoformat(holdout["from"]) < timedelta(days=93)
    # what the later sources add, both models measured on the same out-of-time loans
    lift = card["source_lift"]
    assert lift["auc_with"] == card["metrics"]["auc"]
    assert 0.5 < lift["auc_without"] < 1
    assert lift["auc_gain"] == pytest.approx(lift["auc_with"] - lift["auc_without"])
    assert {"qual_high_tech", "ip_invention_patents", "env_rating", "agri_operator"} <= set(lift["features"])
    assert "What the later sources add" in markdown(card)
