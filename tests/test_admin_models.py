"""The model registry on /admin/models: versions with holdout AUC / ECE and who promoted them, each version's
card as tables, promotion and rollback behind a confirmation box, refused when the model files are damaged."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from ml import registry
from models.audit import AuditEntry
from models.identity import Role
from models.scoring import ModelVersion
from tests.conftest import csrf_token
from tests.test_ml_registry import small_model


@pytest.fixture(scope="module")
def models():
    return small_model(1)[0], small_model(2)[0]


@pytest.fixture
def store(app, db_session, models):
    """Two saved versions in the app's instance folder (unique names: files outlive the rolled-back rows)."""
    instance = Path(app.config["XYD_INSTANCE_PATH"])
    stamp = uuid.uuid4().hex[:8]
    older = registry.save(db_session, instance, models[0], version=f"m-{stamp}-a")
    newer = registry.save(db_session, instance, models[1], version=f"m-{stamp}-b")
    newer.card = {**newer.card, "metrics": {**newer.card["metrics"], "auc": 0.7345, "ece": 0.0123}}
    db_session.commit()
    return instance, older, newer


@pytest.fixture
def admin(make_user, login):
    user = make_user(Role.ADMIN, username=f"ops-{uuid.uuid4().hex[:6]}")
    login(user)
    return user


def active(db_session) -> list[str]:
    return list(db_session.scalars(sa.select(ModelVersion.version).where(ModelVersion.is_active)))


def promote(client, version: str, confirm: bool = True):
    data = {"csrf_token": csrf_token(client, f"/admin/models/{version}"), **({"confirm": "y"} if confirm else {})}
    return client.post(f"/admin/models/{version}/promote", data=data)


def test_the_registry_lists_every_version_with_its_quality_and_promoter(client, admin, store, db_session):
    instance, older, newer = store
    registry.promote(db_session, instance, older.version, by="release-bot")
    db_session.commit()
    page = client.get("/admin/models").get_data(as_text=True)
    assert older.version in page
    assert newer.version in page
    assert "0.7345" in page
    assert "0.0123" in page
    assert "release-bot" in page
    assert "启用中" in page


def test_a_version_page_shows_its_card_as_tables_without_scripts(client, admin, store):
    _, _, newer = store
    response = client.get(f"/admin/models/{newer.version}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<caption>样本外表现</caption>" in page
    assert "<caption>特征（按增益排序）</caption>" in page
    assert "<code class=\"muted\">arrears</code>" in page  # the features of the card
    assert "<th scope=\"row\">AUC</th><td class=\"num\">0.7345</td>" in page
    # no chart script: the card is tables (the site-wide ui.js of base.html is the only script)
    assert page.count("<script") == page.count('<script src="/static/ui.js" defer></script>') == 1
    assert "| AUC |" not in page


def test_promotion_needs_the_confirmation_box_and_an_out_of_time_evaluation(client, admin, store, db_session):
    """A version whose card names no out-of-time window cannot be measured against the champion: refused.
    (Promotions that pass their bars: tests/test_champion_challenger.py.)"""
    _, older, newer = store
    response = promote(client, newer.version, confirm=False)
    assert response.status_code == 422
    assert "请先勾选确认，再执行此操作。" in response.get_data(as_text=True)
    assert active(db_session) == []
    response = promote(client, newer.version)
    assert response.status_code == 409
    assert "names no out-of-time window" in response.get_data(as_text=True)
    assert active(db_session) == []
    assert db_session.scalar(sa.select(AuditEntry.id).where(AuditEntry.action == "model_promoted")) is None


def test_a_damaged_model_file_is_refused_and_the_active_model_stays(client, admin, store, db_session):
    instance, older, newer = store
    registry.promote(db_session, instance, older.version, by="ops")
    db_session.commit()
    model_file = registry.folder_of(instance, newer) / registry.MODEL_FILE
    model_file.write_text(model_file.read_text() + "\n# tampered\n")
    response = promote(client, newer.version)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "模型文件缺失或已损坏" in page
    assert "SHA-256" in page
    assert active(db_session) == [older.version]
    assert db_session.scalar(sa.select(AuditEntry.id).where(AuditEntry.action == "model_promoted")) is None


def test_rollback_brings_back_the_previous_version_and_is_refused_without_one(client, admin, store, db_session):
    instance, older, newer = store
    token = csrf_token(client, "/admin/models")
    registry.promote(db_session, instance, older.version, by="ops")
    db_session.commit()
    response = client.post("/admin/models/rollback", data={"csrf_token": token, "confirm": "y"})
    assert response.status_code == 409
    assert "no earlier promoted version" in response.get_data(as_text=True)
    registry.promote(db_session, instance, newer.version, by="ops")
    db_session.commit()
    assert client.post("/admin/models/rollback", data={"csrf_token": token}).status_code == 422
    assert active(db_session) == [newer.version]
    response = client.post("/admin/models/rollback", data={"csrf_token": token, "confirm": "y"})
    assert response.headers["Location"] == "/admin/models"
    assert active(db_session) == [older.version]
    entry = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "model_rolled_back"))
    assert entry.detail == {"version": older.version, "previous": newer.version, "channel": "admin", "challenge": None}


def test_an_unknown_version_is_404(client, admin):
    assert client.get("/admin/models/no-such-version").status_code == 404
    assert client.get("/admin/models/" + "x" * 60).status_code == 404
    assert promote(client, "no-such-version").status_code == 404
