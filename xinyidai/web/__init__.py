"""The web shell: landing pages per role, the header's navigation, and the wording of enum values."""

from __future__ import annotations


def init_app(app) -> None:
    from xinyidai import moments
    from xinyidai.web import formats, labels, navigation, verify
    from xinyidai.web.routes import bp

    app.register_blueprint(bp)
    app.register_blueprint(verify.bp)
    navigation.init_app(app)
    labels.init_app(app)
    moments.init_app(app)
    formats.init_app(app)
