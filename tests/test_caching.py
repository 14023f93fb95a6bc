"""The shared cache (xinyidai.caching): computed once per key, shared by workers through Redis, keyed by the
records' version so a change shows at once, and never the cause of a failed page."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from models.identity import Role
from models.lending import ApplicationState as S
from models.lending import Channel
from xinyidai import create_app
from xinyidai.bank.queries import shared_dashboard
from xinyidai.caching import remembered
from xinyidai.domain.lifecycle import Actor, transition

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def cached_app(tmp_path, **config):
    """An app with the cache on, as in production (the suite's own app runs with it off)."""
    return create_app({"TESTING": True, "SECRET_KEY": "cache-test", "XYD_CACHE": True, "XYD_RATELIMIT": False,
                       "XYD_INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": "sqlite://", **config})


def counting():
    calls = []

    def compute():
        calls.append(1)
        return {"computed": len(calls)}

    return compute, calls


def test_a_value_is_computed_once_per_key(tmp_path):
    compute, calls = counting()
    with cached_app(tmp_path).app_context():
        assert remembered("figures", (1,), compute) == {"computed": 1}
        assert remembered("figures", (1,), compute) == {"computed": 1}
        assert remembered("figures", (2,), compute) == {"computed": 2}
        assert remembered("other", (1,), compute) == {"computed": 3}
    assert len(calls) == 3


def test_an_unreachable_redis_costs_the_computation_not_the_page(tmp_path, caplog):
    compute, calls = counting()
    with cached_app(tmp_path, XYD_REDIS_URL="redis://127.0.0.1:1/0").app_context():
        assert remembered("figures", (1,), compute) == {"computed": 1}
        assert remembered("figures", (1,), compute) == {"computed": 2}
    assert "cache unavailable for figures" in caplog.text


def _redis_or_skip():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL} (.ci/run starts one)")


def test_workers_sharing_redis_compute_a_figure_once(tmp_path):
    _redis_or_skip()
    key = (uuid.uuid4().hex,)  # this run's own entry in a Redis other runs may share
    compute, calls = counting()
    worker_a, worker_b = (cached_app(tmp_path / name, XYD_REDIS_URL=REDIS_URL) for name in "ab")
    with worker_a.app_context():
        assert remembered("figures", key, compute) == {"computed": 1}
    with worker_b.app_context():
        assert remembered("figures", key, compute) == {"computed": 1}
    assert len(calls) == 1


def test_two_platforms_sharing_a_redis_never_read_each_others_figures(tmp_path):
    _redis_or_skip()
    key = (uuid.uuid4().hex,)
    compute, calls = counting()
    staging, production = (cached_app(tmp_path / name, XYD_REDIS_URL=REDIS_URL,
                                      SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / name}.sqlite3")
                           for name in ("staging", "production"))
    with staging.app_context():
        assert remembered("figures", key, compute) == {"computed": 1}
    with production.app_context():
        assert remembered("figures", key, compute) == {"computed": 2}
    assert len(calls) == 2


def test_the_banks_shared_dashboard_moves_with_the_pipeline(tmp_path, db_session, make_bank, make_product,
                                                            make_application, make_user, monkeypatch):
    from xinyidai.bank import queries

    computed = []
    original = queries.dashboard
    monkeypatch.setattr(queries, "dashboard", lambda *a, **k: computed.append(1) or original(*a, **k))
    bank = make_bank()
    officer = make_user(Role.BANK, bank_id=bank.id)
    product = make_product(bank=bank)
    applications = [make_application(product=product) for _ in range(3)]
    session = db_session()  # the test's own session (another app's context would open a second one)
    worker = cached_app(tmp_path)

    def page():
        with worker.app_context():
            return shared_dashboard(session, bank.id, sla_working_days=3)

    before = page()
    assert before.funnel["matched"] == 3
    assert before.funnel["claimed"] == 0
    assert page() == before
    assert len(computed) == 1  # the second page view read the cache
    transition(session, applications[0], S.CLAIMED, Actor(Channel.WEB, user_id=officer.id))
    session.flush()
    assert page().funnel["claimed"] == 1  # the claim's event moved the version: recomputed at once
    assert len(computed) == 2
