"""The model store: versions on file with their cards, explicit promotion, rollback, refusal of damaged
files, and the per-worker active model that notices a promotion without a restart."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ml import registry
from ml.train import fit
from models.scoring import ModelVersion

pytestmark = pytest.mark.slow  # measured: pytest --durations (README "Tests")


def small_model(seed: int):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"arrears": rng.poisson(1.0, 2000).astype(float), "growth": rng.standard_normal(2000)})
    labels = (rng.random(2000) < 1 / (1 + np.exp(2.5 - 0.7 * frame.arrears + frame.growth))).astype(int)
    model = fit(frame, labels, monotone={"arrears": 1})
    model.card["metrics"] = {"auc": 0.7, "ks": 0.3, "brier": 0.1, "ece": 0.01, "calibration": []}
    return model, frame


@pytest.fixture
def store(db_session, tmp_path):
    """Two saved versions (neither active) in a fresh instance folder."""
    first, frame = small_model(1)
    second, _ = small_model(2)
    v1 = registry.save(db_session, tmp_path, first, version="m-first")
    v2 = registry.save(db_session, tmp_path, second, version="m-second")
    return tmp_path, v1, v2, frame


def active_versions(db_session) -> list[str]:
    return list(db_session.scalars(sa.select(ModelVersion.version).where(ModelVersion.is_active)))


def test_a_saved_version_has_its_model_file_and_card_on_file_and_in_the_database(store):
    instance, v1, _, frame = store
    folder = instance / "models" / "m-first"
    assert {p.name for p in folder.iterdir()} == {"model.txt", "card.json", "card.md"}
    card = json.loads((folder / "card.json").read_text())
    assert card["model_sha256"] == v1.card["model_sha256"]
    assert card["features_in_order"] == ["arrears", "growth"]
    assert "| arrears |" in (folder / "card.md").read_text()
    assert v1.path == "models/m-first"
    assert not v1.is_active
    loaded = registry.load(instance, v1)
    original = small_model(1)[0]
    np.testing.assert_allclose(loaded.predict_proba(frame), original.predict_proba(frame))


def test_promotion_switches_the_one_active_version_and_records_who_and_when(db_session, store):
    instance, v1, v2, _ = store
    registry.promote(db_session, instance, "m-first", by="alice")
    registry.promote(db_session, instance, "m-second", by="bob")
    assert active_versions(db_session) == ["m-second"]
    assert v2.promoted_by == "bob"
    assert v2.promoted_at is not None
    assert v1.promoted_by == "alice"
    registry.rollback(db_session, instance, by="carol")
    assert active_versions(db_session) == ["m-first"]
    assert v1.promoted_by == "carol"


def test_a_damaged_or_missing_model_file_is_refused_and_the_active_one_stays(db_session, store):
    instance, _, _, _ = store
    registry.promote(db_session, instance, "m-first", by="alice")
    model_file = instance / "models" / "m-second" / "model.txt"
    model_file.write_text(model_file.read_text().replace("tree", "leaf", 1))
    with pytest.raises(registry.ModelUnavailable, match="SHA-256"):
        registry.promote(db_session, instance, "m-second", by="bob")
    model_file.unlink()
    with pytest.raises(registry.ModelUnavailable, match="missing"):
        registry.promote(db_session, instance, "m-second", by="bob")
    with pytest.raises(registry.ModelUnavailable, match="no model version"):
        registry.promote(db_session, instance, "m-unknown", by="bob")
    assert active_versions(db_session) == ["m-first"]


def test_unreadable_model_file_with_matching_hash_is_refused(db_session, store):
    instance, _, v2, _ = store
    model_file = instance / "models" / "m-second" / "model.txt"
    model_file.write_text("not a LightGBM model")
    v2.card = {**v2.card, "model_sha256": None}
    with pytest.raises(registry.ModelUnavailable, match="LightGBM cannot read"):
        registry.load(instance, v2)


def test_active_model_notices_a_promotion_without_restart(db_session, store, monkeypatch):
    instance, _, _, frame = store
    registry.promote(db_session, instance, "m-first", by="alice")
    clock = [1000.0]
    monkeypatch.setattr(registry.time, "monotonic", lambda: clock[0])
    holder = registry.ActiveModel(check_every=30)
    version, first = holder.get(db_session, instance)
    assert version == "m-first"
    # another process promotes: this worker's holder learns of it at its next check, not before
    db_session.execute(sa.update(ModelVersion).values(is_active=False))
    db_session.execute(sa.update(ModelVersion).where(ModelVersion.version == "m-second").values(is_active=True))
    clock[0] += 10
    assert holder.get(db_session, instance)[0] == "m-first"
    clock[0] += 30
    version, second = holder.get(db_session, instance)
    assert version == "m-second"
    assert not np.allclose(first.predict_proba(frame), second.predict_proba(frame))


def test_active_model_keeps_the_last_good_model_when_the_new_one_is_damaged(db_session, store, caplog):
    instance, _, _, _ = store
    registry.promote(db_session, instance, "m-first", by="alice")
    holder = registry.ActiveModel(check_every=0)
    assert holder.get(db_session, instance)[0] == "m-first"
    (instance / "models" / "m-second" / "model.txt").write_text("garbage")
    db_session.execute(sa.update(ModelVersion).values(is_active=False))
    db_session.execute(sa.update(ModelVersion).where(ModelVersion.version == "m-second").values(is_active=True))
    assert holder.get(db_session, instance)[0] == "m-first"
    assert "keeping model m-first" in caplog.text


def test_active_model_without_any_good_model_says_why(db_session, store):
    instance, _, _, _ = store
    holder = registry.ActiveModel(check_every=0)
    with pytest.raises(registry.ModelUnavailable, match="no model version is active"):
        holder.get(db_session, instance)


def test_active_model_reloads_in_a_forked_worker(db_session, store, monkeypatch):
    instance, _, _, _ = store
    registry.promote(db_session, instance, "m-first", by="alice")
    holder = registry.ActiveModel(check_every=3600)
    _, parent = holder.get(db_session, instance)
    monkeypatch.setattr(registry.os, "getpid", lambda: -1)
    _, child = holder.get(db_session, instance)
    assert child is not parent
