"""XinYiDai (信易贷): the application factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from xinyidai import config


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: configuration from the environment, `test_config` overriding any key."""
    test_config = dict(test_config or {})
    folder = Path(test_config.get("XYD_INSTANCE_PATH") or config.instance_path())
    folder.mkdir(parents=True, exist_ok=True)
    app = Flask(
        __name__,
        instance_path=str(folder),
        template_folder=str(config.PROJECT_ROOT / "templates"),
    )
    from xinyidai.web.converters import IdConverter

    app.url_map.converters["int"] = IdConverter  # before any route is added
    app.config.from_mapping(config.from_environment(folder, secret="SECRET_KEY" not in test_config))
    app.config.update(test_config)
    app.config["XYD_INSTANCE_PATH"] = str(folder)

    from xinyidai import caching, cli, errors, health, i18n, logging_setup, security_headers, web
    from xinyidai.auth import init_app as init_auth
    from xinyidai.database import configure_engine
    from xinyidai.extensions import csrf, db, limiter, migrate

    logging_setup.init_app(app)
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    migrate.init_app(
        app, db, directory=str(Path(__file__).parent / "migrations"), render_as_batch=True, compare_type=True
    )
    csrf.init_app(app)
    limiter.init_app(app)
    caching.init_app(app)
    if app.config["XYD_PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["XYD_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    from xinyidai.request_body import DrainRequestBody

    app.wsgi_app = DrainRequestBody(app.wsgi_app, app.config.get("MAX_CONTENT_LENGTH"))
    i18n.init_app(app)
    init_auth(app)
    web.init_app(app)
    from xinyidai import api, bank

    bank.init_app(app)
    from xinyidai import office
    office.init_app(app)
    from xinyidai import enterprise
    enterprise.init_app(app)
    from xinyidai.domain import credit_repair
    credit_repair.init_app(app)
    from xinyidai import admin
    admin.init_app(app)
    from xinyidai import guarantor
    guarantor.init_app(app)
    api.init_app(app)
    health.init_app(app)
    errors.init_app(app)
    security_headers.init_app(app)
    cli.init_app(app)
    return app
