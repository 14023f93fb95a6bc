"""The bank workspace (DESIGN §1, §5, §6, §8): products, the pipeline, decisions, outcomes, API tokens."""

from __future__ import annotations


def init_app(app) -> None:
    from xinyidai.bank.routes import bp

    app.register_blueprint(bp)
