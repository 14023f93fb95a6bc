"""The bank systems' REST API under /api/v1 (DESIGN §1, §6): bearer tokens, marshmallow-validated JSON,
problem+json errors, an Idempotency-Key on every POST, and an OpenAPI 3 document with offline docs."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

from flask import Blueprint, abort, render_template, send_from_directory, url_for
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from swagger_ui_bundle import swagger_ui_path

from xinyidai.api.problems import API_PREFIX, PROBLEM_JSON, ProblemSchema, route_error_or_fallback

SWAGGER_ASSETS = Path(str(swagger_ui_path))


class PlatformApi(Api):
    """flask-smorest documenting errors as problem+json, and leaving the rest of the site's errors alone."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        # flask-smorest would answer every error of the whole site with JSON; ours are per blueprint.
        pass

    def _register_responses(self):
        for status in HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "an error, as application/problem+json", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


docs = Blueprint("api_docs", __name__, url_prefix=f"{API_PREFIX}/docs")

# The site's Content-Security-Policy forbids inline scripts, so Swagger UI starts from this file.
_SWAGGER_INIT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({url: document.body.dataset.specUrl, dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"});
});
"""


@docs.route("")
def interactive_docs():
    """Swagger UI over /api/v1/openapi.json, every asset served from the swagger-ui-bundle package (no CDN)."""
    return render_template("bank/api_docs.html", spec_url=url_for("xyd-api-api-docs.openapi_json"))


@docs.route("/init.js")
def swagger_init():
    return _SWAGGER_INIT, 200, {"Content-Type": "text/javascript; charset=utf-8"}


@docs.route("/assets/<path:filename>")
def swagger_asset(filename: str):
    """Swagger UI's scripts and styles only: the package's own index.html and initializer point at the
    petstore demo, so they are not served (the docs page is ours)."""
    if not filename.endswith((".js", ".css", ".png", ".map")) or "initializer" in filename:
        abort(404)
    return send_from_directory(SWAGGER_ASSETS, filename, max_age=86400)


def init_app(app) -> None:
    from xinyidai.api import (
        joint_routes,  # noqa: F401  (the sandbox's operations join the blueprint)
        limits,
    )
    from xinyidai.api.routes import blp
    from xinyidai.extensions import csrf

    for key, value in {
        "API_TITLE": "XinYiDai bank API (信易贷银行接口)",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": API_PREFIX,
        "OPENAPI_JSON_PATH": "openapi.json",
    }.items():
        app.config.setdefault(f"XYD_API_{key}", value)
    api = PlatformApi(app, config_prefix="XYD_API")
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer",
                       "description": "a bank API token (xyd_…), created by the bank's administrator"})
    api.spec.options["security"] = [{"bearerAuth": []}]
    csrf.exempt(blp)  # token-authenticated; browsers never send the token by themselves
    limits.limit(blp)
    api.register_blueprint(blp)
    app.register_blueprint(docs)
    app.register_error_handler(404, route_error_or_fallback)
    app.register_error_handler(405, route_error_or_fallback)
