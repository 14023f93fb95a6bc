"""Liveness and readiness for the proxy and the orchestrator: `/healthz` says the process answers,
`/readyz` that it can reach the database (and so should receive traffic)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify

from xinyidai.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ready", database="ok")


def init_app(app) -> None:
    app.register_blueprint(bp)
