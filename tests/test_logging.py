import json
import logging

from xinyidai.logging_setup import JsonFormatter


def test_json_log_lines_carry_the_request(app):
    record = logging.LogRecord("xinyidai", logging.WARNING, __file__, 1, "delivery %s failed", ("tax.csv",), None)
    with app.test_request_context("/bank/pipeline?page=2", method="GET"):
        line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "delivery tax.csv failed"
    assert line["level"] == "warning"
    assert line["path"] == "/bank/pipeline"
    assert line["time"].endswith("+00:00")


def test_json_logging_is_switched_on_by_the_environment(tmp_path, monkeypatch):
    from xinyidai import create_app

    monkeypatch.setenv("XYD_LOG_FORMAT", "json")
    app = create_app({"SECRET_KEY": "x", "XYD_INSTANCE_PATH": str(tmp_path),
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    assert isinstance(app.logger.handlers[0].formatter, JsonFormatter)
