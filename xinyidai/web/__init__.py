"""The landing pages: one per role, reached through `/` after login."""

from __future__ import annotations


def init_app(app) -> None:
    from xinyidai.web.routes import bp

    app.register_blueprint(bp)
