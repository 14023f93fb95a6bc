"""Figures that many requests read and few writes change — a bank's published record, a bank's dashboard,
the office's tables — computed once per data version and shared through Flask-Caching.

With XYD_REDIS_URL set (production) every worker on every host shares one entry, so a figure is computed
once, not once per worker (values are pickled: the Redis must be the platform's own, reachable by nobody
else, as deploy/env.example says); without it (the embedded default) each process keeps its own small cache.
Entries are keyed by a version of the records they read (the highest ids of the tables: an index lookup
each), so a cached figure is the figure of the data as it is now — never a stale one; the timeout only
bounds memory and figures that also depend on the clock.

Tests run with the cache off (XYD_CACHE defaults to off under TESTING): their rolled-back transactions reuse ids, so two different
states of the data could carry the same version.
"""

from __future__ import annotations

import hashlib
import logging

import sqlalchemy as sa
from flask_caching import Cache
from sqlalchemy.orm import Session

cache = Cache()
log = logging.getLogger(__name__)


def init_app(app) -> None:
    if not app.config.setdefault("XYD_CACHE", not app.testing):
        kind = {"CACHE_TYPE": "NullCache", "CACHE_NO_NULL_WARNING": True}
    elif app.config.get("XYD_REDIS_URL"):
        kind = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": app.config["XYD_REDIS_URL"]}
    else:
        kind = {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 2000}
    # Entries belong to one database: two platforms (say staging and production) sharing a Redis never
    # read each other's figures.
    database = hashlib.sha256(str(app.config["SQLALCHEMY_DATABASE_URI"]).encode()).hexdigest()[:12]
    cache.init_app(app, config={"CACHE_KEY_PREFIX": f"xyd:{database}:", "CACHE_DEFAULT_TIMEOUT": 600, **kind})


def highest_id(column, *where):
    """max(column) as a scalar subquery: an index lookup, one part of a version of the records."""
    return sa.select(sa.func.max(column)).where(*where).scalar_subquery()


def lending_version(session: Session) -> tuple:
    """Highest application and application-event ids: every match, claim, decision, disbursement and
    report adds one of them, so any change to the pipeline's figures changes this tuple."""
    from models.lending import Application, ApplicationEvent

    return tuple(session.execute(sa.select(highest_id(Application.id), highest_id(ApplicationEvent.id))).one())


def remembered(name: str, key: tuple, compute, *, timeout: int | None = None):
    """compute(), or the value stored under (name, key) by an earlier call anywhere that shares the cache.
    A cache that cannot be reached (Redis down) costs the computation, never the request."""
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
    cache_key = f"{name}:{digest}"
    try:
        value = cache.get(cache_key)
    except Exception:  # noqa: BLE001 - the cache is an optimisation: its failure must not fail the page
        log.warning("cache unavailable for %s", name, exc_info=True)
        return compute()
    if value is not None:
        return value
    value = compute()
    try:
        cache.set(cache_key, value, timeout=timeout)
    except Exception:  # noqa: BLE001
        log.warning("cache unavailable for %s", name, exc_info=True)
    return value
