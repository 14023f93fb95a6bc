"""Error pages in the user's language; no stack trace ever reaches a user."""

from __future__ import annotations

from flask import render_template
from werkzeug.exceptions import HTTPException


def init_app(app) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return render_template("error.html", error=error), error.code

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("unhandled error")
        return render_template("error.html", error=None), 500
