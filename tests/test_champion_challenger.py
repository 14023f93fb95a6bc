"""Champion–challenger promotion (issue 15): a version becomes active only when it beats the active version
and its WOE scorecard on the same out-of-time loans; otherwise the better of the two stays or becomes
active. Setup, `xyd ml train --promote`, `xyd ml promote` and the admin page all go through it, and every
promotion they make writes the same audit row."""

from __future__ import annotations

import uuid
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from ml import registry, synthetic
from ml.features import features_for
from ml.train import fit, labelled_loans
from models.audit import AuditEntry
from models.identity import Role
from models.scoring import ModelVersion
from tests.conftest import csrf_token

AUDIT_KEYS = {"version", "previous", "channel", "challenge"}
CHALLENGE_KEYS = {"passed", "challenger", "auc", "failed"}


@pytest.fixture
def population(db_session):
    registry.active_model.forget()
    return synthetic.populate(db_session, enterprises=400, seed=11)


def active(db_session) -> str | None:
    return db_session.scalar(sa.select(ModelVersion.version).where(ModelVersion.is_active))


def coin_flip_model(db_session, instance, like: ModelVersion, name: str) -> ModelVersion:
    """A version that learned nothing (labels drawn at 50%): AUC about 0.5 and a PD near 0.5 for every
    enterprise, with the out-of-time window and scorecard of `like` on its card."""
    loans = labelled_loans(db_session)
    features = features_for(db_session, loans)
    labels = np.random.default_rng(5).random(len(loans)) < 0.5
    model = fit(features, labels.astype(int))
    model.card.update({k: like.card[k] for k in ("data_window", "scorecard_version", "metrics")})
    return registry.save(db_session, instance, model, version=name)


def promotions(db_session) -> list[dict]:
    return [e.detail for e in db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "model_promoted")
                                                 .order_by(AuditEntry.id))]


def test_setup_leaves_active_a_model_that_beats_the_scorecard_or_the_scorecard(db_session, population, tmp_path):
    from xinyidai.domain.scoring import ensure_model

    current = ensure_model(db_session, tmp_path, score=False)
    trained = db_session.scalars(sa.select(ModelVersion).where(ModelVersion.version.not_like("%-woe"))).one()
    challenge = trained.card["challenge"]
    assert current.version == active(db_session)
    if current.version == trained.version:
        assert challenge["passed"]
        assert challenge["auc"]["challenger"] >= challenge["auc"]["scorecard"]
    else:
        assert current.version == trained.card["scorecard_version"]
        assert registry.is_scorecard(current)
        assert not challenge["passed"]
    [entry] = promotions(db_session)
    assert set(entry) == AUDIT_KEYS
    assert (entry["channel"], entry["version"], entry["previous"]) == ("setup", current.version, None)
    assert set(entry["challenge"]) == CHALLENGE_KEYS


def test_the_scorecard_is_a_champion_the_platform_scores_and_explains_with(db_session, population, tmp_path):
    from xinyidai.domain.scoring import train_and_register

    trained = train_and_register(db_session, tmp_path, promote=False)
    scorecard = registry.get_version(db_session, trained.card["scorecard_version"])
    assert (registry.folder_of(tmp_path, scorecard) / registry.SCORECARD_FILE).is_file()
    model = registry.load(tmp_path, scorecard)
    loans = labelled_loans(db_session)
    features = features_for(db_session, loans.head(50))
    p, contrib = model.explain(features)
    np.testing.assert_allclose(p, model.predict_proba(features))
    assert contrib.shape == (50, len(model.features))
    assert scorecard.card["metrics"]["auc"] == pytest.approx(trained.card["baseline"]["metrics"]["auc"])


@pytest.mark.slow
def test_every_promotion_path_is_gated_and_writes_the_same_audit_row(cli, client, make_user, login, app, db_session,
                                                                     population):
    from xinyidai.domain.scoring import train_and_register

    instance = Path(app.config["XYD_INSTANCE_PATH"])
    trained = train_and_register(db_session, instance, promote=False)
    stamp = uuid.uuid4().hex[:6]
    weak = coin_flip_model(db_session, instance, trained, f"coin-{stamp}-a")
    weaker = coin_flip_model(db_session, instance, trained, f"coin-{stamp}-b")
    registry.promote(db_session, instance, weak.version, by="legacy")  # a poor champion already in place
    db_session.commit()
    scorecard = trained.card["scorecard_version"]

    # The admin page: the scorecard beats the poor champion on its out-of-time loans and is promoted.
    admin = make_user(Role.ADMIN, username=f"ops-{stamp}")
    login(admin)
    token = csrf_token(client, f"/admin/models/{scorecard}")
    response = client.post(f"/admin/models/{scorecard}/promote", data={"csrf_token": token, "confirm": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert active(db_session) == scorecard

    # The card a credit committee reads: on the page, in card.md and as a workbook with the sign-off log.
    page = client.get(f"/admin/models/{trained.version}").get_data(as_text=True)
    for caption in ("区分能力：训练、测试、样本外", "KS 与提升表", "拟议白名单门槛（样本外）", "稳定性 PSI", "已知局限"):
        assert caption in page
    card_md = (registry.folder_of(instance, trained) / registry.CARD_MD).read_text()
    for heading in ("## KS and lift by score band", "## Proposed cut-offs", "## Score to PD", "## Sign-off"):
        assert heading in card_md
    lift = trained.card["committee"]["lift"]
    assert len(lift) == 10
    assert lift[-1]["cumulative_capture"] == pytest.approx(1.0)
    download = client.get(f"/admin/models/{scorecard}/card.xlsx")
    assert download.status_code == 200
    book = load_workbook(BytesIO(download.data))
    assert {"KS and lift", "Cut-offs", "PSI", "Sign-off"} <= set(book.sheetnames)
    signed = [[c.value for c in row] for row in book["Sign-off"].iter_rows(min_row=2)]
    assert [(r[1], r[2], r[3], r[4]) for r in signed] == [("model_promoted", admin.username, "admin", "yes")]

    # A version that learned nothing is refused on the admin page, which names the bar it failed …
    response = client.post(f"/admin/models/{weaker.version}/promote", data={"csrf_token": token, "confirm": "y"})
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "未启用：此版本没有通过下列门槛" in page
    assert f"AUC 不低于当前启用的版本 {scorecard}" in page
    # … and by `xyd ml promote`, which says the same in English.
    refused = cli.invoke(args=["ml", "promote", weaker.version, "--by", "reviewer"])
    assert refused.exit_code != 0
    assert "not promoted" in refused.output
    assert "FAILED: AUC at least the active version's" in refused.output
    assert active(db_session) == scorecard
    listing = client.get("/admin/models").get_data(as_text=True)
    assert "未达标：" in listing

    # `xyd ml train --promote`: promoted only if it beats the scorecard champion; the better stays active.
    result = cli.invoke(args=["ml", "train", "--promote", "--by", "trainer"])
    assert result.exit_code == 0, result.output
    newest = db_session.scalars(sa.select(ModelVersion).where(ModelVersion.version.not_like("%-woe"),
                                                              ModelVersion.version.not_like("coin-%"),
                                                              ModelVersion.version != trained.version)).one()
    challenge = newest.card["challenge"]
    assert ("met" if challenge["passed"] else "FAILED") in result.output
    if challenge["passed"]:
        assert active(db_session) == newest.version
    else:
        assert active(db_session) in (scorecard, newest.card["scorecard_version"])

    entries = promotions(db_session)
    assert [e["channel"] for e in entries][:1] == ["admin"]
    assert all(set(e) == AUDIT_KEYS and set(e["challenge"]) == CHALLENGE_KEYS for e in entries)
    assert entries[0]["challenge"]["passed"] is True
    assert entries[0]["previous"] == weak.version
