"""Rate limits of the bank API (Flask-Limiter; Redis in production, the instance folder's SQLite counters in the
embedded default — xinyidai.ratelimit_store — so every worker counts the same).

Requests with a wrong or revoked token are counted per address and throttled hard, so tokens cannot be
guessed; every request also counts against its token's own ceiling, so one runaway bank system cannot
starve the others. Both answer 429 as problem+json with Retry-After.
"""

from __future__ import annotations

import hashlib

from flask import current_app, request
from flask_limiter.util import get_remote_address

from xinyidai.extensions import limiter

_LIMITED: set[str] = set()


def _presented_token() -> str:
    """A digest of the Authorization header (never the token itself in the limiter's storage)."""
    header = request.headers.get("Authorization", "")
    return hashlib.sha256(header.encode()).hexdigest() if header else get_remote_address()


def _refused(response) -> bool:
    return response.status_code == 401


def limit(blueprint) -> None:
    """Attach both limits to the API blueprint. The limiter and the blueprint are module-level objects that
    every app in the process shares (tests, tools), so this happens once; the values come from each app's
    configuration when a request is counted."""
    if blueprint.name in _LIMITED:
        return
    _LIMITED.add(blueprint.name)
    limiter.limit(lambda: current_app.config["XYD_API_AUTH_FAILURE_LIMIT"], key_func=get_remote_address,
                  deduct_when=_refused, scope="api-auth-failures")(blueprint)
    limiter.limit(lambda: current_app.config["XYD_API_RATE_LIMIT"], key_func=_presented_token,
                  scope="api-token")(blueprint)
