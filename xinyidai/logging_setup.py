"""Structured logs: one JSON object per line (XYD_LOG_FORMAT=json, the production setting), so the
operations team can ship and query them; plain text otherwise."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

from flask import g, has_request_context, request


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry.update(method=request.method, path=request.path, remote_addr=request.remote_addr,
                         request_id=getattr(g, "request_id", None))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def init_app(app) -> None:
    if os.environ.get("XYD_LOG_FORMAT", "text") != "json":
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    app.logger.handlers[:] = [handler]
    app.logger.setLevel(os.environ.get("XYD_LOG_LEVEL", "INFO"))
    app.logger.propagate = False
