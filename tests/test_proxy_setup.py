"""How the app stands behind nginx (deploy/nginx/xinyidai.conf): which forwarded headers it trusts, and that a
request body it did not read is drained before the answer (the nginx-proxy drill runs the real thing)."""

from __future__ import annotations

import io

import pytest
from flask import request
from werkzeug.test import EnvironBuilder

from xinyidai import create_app
from xinyidai.request_body import DrainRequestBody


def _app(tmp_path, **config):
    app = create_app({"SECRET_KEY": "x", "XYD_INSTANCE_PATH": str(tmp_path), "XYD_RATELIMIT": False,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'proxy.sqlite3'}", **config})

    @app.get("/_seen")
    def seen():
        return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host}

    @app.post("/_unread")
    def unread():
        return "answered without reading the body", 403

    return app


def test_behind_one_proxy_the_app_trusts_only_the_hop_nginx_added(tmp_path):
    client = _app(tmp_path, XYD_PROXY_COUNT=1).test_client()
    # nginx's $proxy_add_x_forwarded_for: whatever the client claimed, then the address nginx saw
    seen = client.get("/_seen", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={
        "X-Forwarded-For": "203.0.113.7, 198.51.100.20", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "xyd.example.gov.cn:8443"}).get_json()
    assert seen == {"addr": "198.51.100.20", "scheme": "https", "host": "xyd.example.gov.cn:8443"}


def test_without_a_proxy_forwarded_headers_are_ignored(tmp_path):
    client = _app(tmp_path).test_client()
    seen = client.get("/_seen", environ_base={"REMOTE_ADDR": "198.51.100.20"},
                      headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}).get_json()
    assert seen["addr"] == "198.51.100.20"
    assert seen["scheme"] == "http"


@pytest.mark.parametrize("size", [100, 1 << 20])
def test_a_body_the_view_did_not_read_is_drained_before_the_answer(tmp_path, size):
    app = _app(tmp_path, WTF_CSRF_ENABLED=False)
    assert isinstance(app.wsgi_app, DrainRequestBody)
    body = io.BytesIO(b"x" * size)
    environ = EnvironBuilder(path="/_unread", method="POST", data=b"", content_type="application/octet-stream"
                             ).get_environ()
    environ.update({"wsgi.input": body, "CONTENT_LENGTH": str(size)})
    status = []
    result = app.wsgi_app(environ, lambda s, headers, exc_info=None: status.append(s))
    assert b"".join(result) == b"answered without reading the body"
    assert status == ["403 FORBIDDEN"]
    assert body.tell() == size


def test_a_body_over_the_upload_limit_is_not_read(tmp_path):
    body = io.BytesIO(b"x" * 2048)
    drained = DrainRequestBody(lambda environ, start_response: [b"413"], limit=1024)
    assert drained({"CONTENT_LENGTH": "2048", "wsgi.input": body}, None) == [b"413"]
    assert body.tell() == 0
