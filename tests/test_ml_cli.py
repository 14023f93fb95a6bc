"""`xyd ml …` through the CLI runner: train, list, evaluate, promote, rollback, score (one or all, JSON),
whitelist drafts — and training on a Dask cluster (a LocalCluster of two worker processes)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from ml import registry, synthetic
from models.audit import AuditEntry
from models.scoring import ModelVersion, Score, WhitelistVersion


@pytest.fixture
def population(db_session):
    registry.active_model.forget()
    return synthetic.populate(db_session, enterprises=400, seed=11)


def train(cli, *args):
    result = cli.invoke(args=["ml", "train", *args])
    assert result.exit_code == 0, result.output
    return result


def test_train_stores_and_promotes_the_first_model_and_prints_its_card(cli, db_session, population):
    result = train(cli, "--by", "admin")
    assert "active model:" in result.output
    assert "LightGBM" in result.output
    assert "WOE scorecard" in result.output
    version = db_session.scalars(sa.select(ModelVersion).where(ModelVersion.is_active)).one()
    assert version.promoted_by == "admin"
    assert version.card["metrics"]["auc"] > 0.6
    listed = cli.invoke(args=["ml", "list"])
    assert version.version in listed.output
    assert "active" in listed.output


@pytest.mark.slow
def test_a_second_training_is_not_promoted_until_asked_and_can_be_rolled_back(cli, db_session, population, app):
    """Every promotion is audited with its channel: the first training's, the CLI's promote and rollback."""
    from pathlib import Path

    from tests.test_champion_challenger import coin_flip_model

    train(cli, "--by", "trainer")
    first = db_session.scalars(sa.select(ModelVersion).where(ModelVersion.is_active)).one().version
    result = train(cli, "--no-promote")
    assert "(not promoted)" in result.output
    assert db_session.scalars(sa.select(ModelVersion.version).where(ModelVersion.is_active)).one() == first
    trained = db_session.scalars(sa.select(ModelVersion).where(ModelVersion.version.not_like("%-woe"))
                                 .order_by(ModelVersion.version)).first()
    instance = Path(app.config["XYD_INSTANCE_PATH"])
    poor = coin_flip_model(db_session, instance, trained, "coin-flip")
    refused = cli.invoke(args=["ml", "promote", poor.version, "--by", "reviewer"])
    assert refused.exit_code != 0
    assert "not promoted: FAILED" in refused.output
    registry.promote(db_session, instance, poor.version, by="legacy")  # a poor champion in place
    db_session.commit()
    promoted = cli.invoke(args=["ml", "promote", first, "--by", "reviewer"])
    assert promoted.exit_code == 0, promoted.output
    assert f"model {first} is active (promoted by reviewer" in promoted.output
    rolled = cli.invoke(args=["ml", "rollback", "--by", "reviewer"])
    assert rolled.exit_code == 0, rolled.output
    assert db_session.scalars(sa.select(ModelVersion.version).where(ModelVersion.is_active)).one() == poor.version
    refused = cli.invoke(args=["ml", "promote", "no-such-version"])
    assert refused.exit_code != 0
    assert "no model version" in refused.output
    audited = db_session.execute(sa.select(AuditEntry.action, AuditEntry.actor_label, AuditEntry.detail)
                                 .where(AuditEntry.action.like("model_%")).order_by(AuditEntry.id)).all()
    assert [(a, label, d["channel"], d["version"], d["previous"]) for a, label, d in audited] == [
        ("model_promoted", "trainer", "train", first, None),
        ("model_promoted", "reviewer", "cli", first, poor.version),
        ("model_rolled_back", "reviewer", "cli", poor.version, first),
    ]
    assert audited[1][2]["challenge"]["passed"] is True


def test_setup_audits_the_model_it_trains_and_promotes(db_session, population, tmp_path):
    from xinyidai.domain.scoring import ensure_model

    version = ensure_model(db_session, tmp_path, score=False)
    entry = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "model_promoted")).one()
    assert entry.actor_label == "xyd setup"
    assert {k: entry.detail[k] for k in ("version", "previous", "channel")} == {
        "version": version.version, "previous": None, "channel": "setup"}


def test_evaluate_reports_metrics_on_the_latest_loans_beside_the_card(cli, db_session, population):
    train(cli)
    version = db_session.scalars(sa.select(ModelVersion.version).where(ModelVersion.is_active)).one()
    result = cli.invoke(args=["ml", "evaluate", version])
    assert result.exit_code == 0, result.output
    assert "AUC" in result.output
    assert "card" in result.output
    assert "calibration" in result.output


@pytest.mark.slow
def test_score_all_and_one_print_json_per_enterprise(cli, db_session, population):
    train(cli)
    result = cli.invoke(args=["ml", "score", "--all", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(lines) == len(population)
    first = lines[0]
    assert {"uscc", "pd", "score", "grade", "whitelisted", "gates", "reasons"} <= set(first)
    assert all(len(line["reasons"]) <= 4 for line in lines)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Score)) == len(population)
    one = cli.invoke(args=["ml", "score", first["uscc"].lower(), "--json"])
    assert one.exit_code == 0, one.output
    assert json.loads(one.output.splitlines()[-1])["uscc"] == first["uscc"]
    text = cli.invoke(args=["ml", "score", first["uscc"]])
    assert first["grade"] in text.output
    assert "whitelisted" in text.output
    summary = cli.invoke(args=["ml", "score", "--all"])
    assert f"{len(population)} enterprises scored" in summary.output
    drafts = cli.invoke(args=["ml", "whitelist"])
    assert drafts.exit_code == 0, drafts.output
    assert db_session.scalar(sa.select(sa.func.count()).select_from(WhitelistVersion)) == 1


def test_score_needs_exactly_one_of_uscc_or_all_and_an_active_model(cli, population):
    assert cli.invoke(args=["ml", "score"]).exit_code != 0
    no_model = cli.invoke(args=["ml", "score", "--all"])
    assert no_model.exit_code != 0
    assert "no model version is active" in no_model.output


@pytest.mark.slow
def test_train_on_a_dask_cluster(cli, db_session, population):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = train(cli, "--dask-scheduler", cluster.scheduler_address)
    version = db_session.scalars(sa.select(ModelVersion).where(ModelVersion.version.not_like("%-woe"))).one()
    assert version.card["distributed"] is True
    assert version.card["metrics"]["auc"] > 0.6
    assert "active model:" in result.output


@pytest.mark.slow
def test_on_a_demo_population_the_card_states_the_quality_bars_against_the_true_pd(db_session, population, tmp_path):
    from ml.truth import truth_file
    from xinyidai.domain.scoring import train_and_register

    without = train_and_register(db_session, tmp_path, promote=False)
    assert "demo_quality" not in without.card
    truth = truth_file(tmp_path)
    truth.parent.mkdir(parents=True)
    population.assign(disbursed_on=population.disbursed_on.astype(str)).rename(
        columns={"true_pd": "true_pd_12m"})[["uscc", "disbursed_on", "true_pd_12m"]].to_csv(truth, index=False)
    version = train_and_register(db_session, tmp_path, promote=False)
    quality = version.card["demo_quality"]
    assert quality["holdout_loans"] > 0
    assert quality["auc_gap"] == pytest.approx(quality["true_pd_auc"] - quality["model_auc"])
    assert quality["model_auc"] == pytest.approx(version.card["metrics"]["auc"])  # every holdout loan is in the truth
    assert quality["auc_gap_met"] is (quality["auc_gap"] <= 0.02)
    card_md = (registry.folder_of(tmp_path, version) / "card.md").read_text(encoding="utf-8")
    assert "Quality bars (demo population)" in card_md
    assert f"{quality['true_pd_auc']:.4f}" in card_md


@pytest.mark.slow
def test_a_changed_grade_rematches_the_enterprises_open_needs(cli, db_session, population, make_product):
    """A product with a minimum grade takes an open need once scoring lifts the enterprise above it
    (issue 5: matching re-runs when a score changes) — for one enterprise and for a batch."""
    from datetime import UTC, date, datetime

    from models.lending import Application, FinancingNeed
    from xinyidai.domain.matching import refresh_matches

    train(cli)
    version = db_session.scalars(sa.select(ModelVersion.version).where(ModelVersion.is_active)).one()
    strict = make_product(min_grade="CC")
    healthiest = population.sort_values("health", ascending=False).uscc.head(2).tolist()
    needs = []
    for uscc in healthiest:
        # An old score at the bottom of the scale: the product turns the need away.
        db_session.add(Score(uscc=uscc, model_version=version, as_of=date(2020, 1, 31), pd_12m=0.9, points=300,
                             grade="C", gates_passed=True, failed_gates=[], scored_at=datetime(2020, 2, 1, tzinfo=UTC)))
        need = FinancingNeed(uscc=uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                             guarantee_types=["信用"])
        db_session.add(need)
        db_session.flush()
        refresh_matches(db_session, need)
        needs.append(need)

    def strict_matches(need):
        db_session.expire_all()
        return db_session.scalars(sa.select(Application.state).where(
            Application.need_id == need.id, Application.product_id == strict.id)).all()

    assert strict_matches(needs[0]) == strict_matches(needs[1]) == []
    assert cli.invoke(args=["ml", "score", healthiest[0]]).exit_code == 0
    assert [s.value for s in strict_matches(needs[0])] == ["matched"]
    assert strict_matches(needs[1]) == []
    assert cli.invoke(args=["ml", "score", "--all"]).exit_code == 0
    assert [s.value for s in strict_matches(needs[1])] == ["matched"]
