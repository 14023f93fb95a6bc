"""An SME reads its score in a real browser (issue 15): where it sits on the scale (grade bands with their
point ranges, the district's whitelist threshold), what raises it and what holds it down, and a concrete
what-if computed by the model — with no model version code or feature name on the page."""

from __future__ import annotations

import re

import pytest

from models.identity import Role
from tests.browser.conftest import log_in, seed_database
from tests.conftest import TEST_PASSWORD
from tests.live_server import free_port, serve, throwaway_database
from xinyidai.extensions import db

USERNAME = "score-reader"


def seed_scored_population(folder) -> tuple[str, str]:
    """A synthetic district, a trained and promoted model, everyone scored; the login of an enterprise whose
    data hold something to clear (so the model has a what-if for it). Returns (its USCC, the model version)."""
    import sqlalchemy as sa

    from ml import registry, synthetic
    from models.scoring import Score
    from xinyidai.domain import score_explanation
    from xinyidai.domain.scoring import score_everyone, train_and_register
    from xinyidai.domain.users import new_user

    registry.active_model.forget()
    synthetic.populate(db.session, enterprises=400, seed=11, district="310115")
    db.session.commit()
    train_and_register(db.session, folder, promote=True, by="browser test", channel="setup")
    score_everyone(db.session, folder)
    version = registry.active_version(db.session).version
    for score in db.session.scalars(sa.select(Score).order_by(Score.points.desc())):
        explained = score_explanation.explain(db.session, folder, score, "310115")
        if explained and explained.what_ifs and explained.raising and explained.lowering:
            db.session.add(new_user(username=USERNAME, display_name="读分企业", role=Role.ENTERPRISE,
                                    enterprise_uscc=score.uscc, password=TEST_PASSWORD))
            db.session.commit()
            return score.uscc, version
    raise AssertionError("no enterprise with reasons of both signs and a what-if")


@pytest.fixture(scope="module")
def scored_instance(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score-live")
    with throwaway_database(folder) as url:
        environment = {"XYD_INSTANCE_PATH": str(folder), "DATABASE_URL": url, "SECRET_KEY": "score-live",
                       "XYD_RATELIMIT": "0"}
        uscc, version = seed_database(url, folder, lambda: seed_scored_population(folder))
        # A generous start-up wait: the workers import LightGBM and the app on a busy two-core machine.
        with serve(environment, free_port(), ready_timeout=120) as server:
            yield server.url, uscc, version


def test_the_profile_shows_the_scale_the_threshold_reasons_of_both_signs_and_a_what_if(browser, scored_instance):
    base_url, _, version = scored_instance
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, USERNAME)
    page.goto("/enterprise/profile")

    scale = page.locator("#score-scale")
    text = scale.inner_text()
    points = int(re.search(r"您的评分 (\d+) 分", text).group(1))
    assert "本区白名单门槛为 BBB 级（590 分）及以上" in text
    bands = [row.inner_text().split("\t")[:2] for row in page.locator("#grade-bands tbody tr").all()]
    assert [b[0] for b in bands] == ["AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C"]
    assert bands[0][1] == "680 分及以上"
    assert bands[3][1] == "590–619"
    assert bands[-1][1] == "469 分及以下"
    current = page.locator("#grade-bands tr.is-current").inner_text()
    assert "您在这里" in current
    low, _, high = (current.split("\t")[1].replace(" 分及以上", "–9999").replace(" 分及以下", "").partition("–"))
    assert int(low or 0) <= points <= int(high or 9999)

    raising = page.locator("#reasons-up li").all_inner_texts()
    lowering = page.locator("#reasons-down li").all_inner_texts()
    assert raising
    assert lowering
    assert all("情况良好" in r and "+" in r for r in raising)
    assert all("拉低了评分" in r for r in lowering)

    what_ifs = page.locator("#what-ifs li").all_inner_texts()
    assert what_ifs
    assert all(re.search(r"(补缴|结清|完成).+：\+\d+ 分", w) for w in what_ifs), what_ifs

    whole = page.locator("main").inner_text()
    assert version not in whole  # no model version code
    assert not re.search(r"\b(si|tax|hf|pc|utility)_[a-z_]+\b", whole)  # no feature names
    context.close()
