"""Uploads limited in size and type with a clear message that changes nothing, and no stack trace ever
reaching a user, on the web pages (the friendly error page) or the API (problem+json)."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from models.audit import AuditEntry
from models.identity import Role
from tests.conftest import csrf_token
from xinyidai.domain.tokens import issue_token
from xinyidai.extensions import db

HEADER = "application_id,outcome\n"


@pytest.fixture
def officer(make_user, make_bank, login):
    user = make_user(Role.BANK, bank_id=make_bank().id, is_tenant_admin=True)
    login(user)
    return user


def upload(client, payload: bytes, filename: str):
    token = csrf_token(client, "/bank/outcomes/upload")
    return client.post("/bank/outcomes/upload", content_type="multipart/form-data",
                       data={"csrf_token": token, "file": (io.BytesIO(payload), filename)})


def post_in_memory(client, fields: dict):
    """A multipart body built in memory: the test client would spool a large one to a temporary file that
    a refused (413) request never closes, and warnings are errors here."""
    boundary, body = encode_multipart(fields)
    return client.post("/bank/outcomes/upload", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def uploads_recorded() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "outcome_upload"))


def test_an_oversized_upload_is_refused_with_the_limit_named(app, client, officer, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    token = csrf_token(client, "/bank/outcomes/upload")
    big = HEADER.encode() + b"1,claimed\n" * 120_000  # 1.2 MB
    response = post_in_memory(client, {"csrf_token": token, "file": FileStorage(io.BytesIO(big), "outcomes.csv")})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "上传的文件过大：每次最多 1 MB，请拆分后分批上传。" in page
    assert uploads_recorded() == 0


def test_an_oversized_upload_is_worded_in_english_on_request(app, client, officer, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    client.get("/?lang=en")
    token = csrf_token(client, "/bank/outcomes/upload")
    response = post_in_memory(client, {"csrf_token": token,
                                       "file": FileStorage(io.BytesIO(b"x" * 2_000_000), "outcomes.csv")})
    assert response.status_code == 413
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("filename", ["outcomes.xlsx", "outcomes.exe", "outcomes"])
def test_a_file_that_is_not_csv_by_name_is_refused_beside_the_field(client, officer, filename):
    response = upload(client, HEADER.encode() + b"1,claimed\n", filename)
    assert response.status_code == 422
    assert "只接受 CSV 文件（扩展名 .csv）；Excel 文件请先另存为 CSV。" in response.get_data(as_text=True)
    assert uploads_recorded() == 0


def test_a_binary_file_renamed_csv_is_refused_with_a_plain_reason(client, officer):
    workbook = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(256)) * 4  # an .xlsx is a zip
    response = upload(client, workbook, "outcomes.csv")
    assert response.status_code == 422
    assert "这不是文本格式的 CSV 文件" in response.get_data(as_text=True)
    assert uploads_recorded() == 0


def test_a_server_error_on_a_page_shows_the_friendly_page_only(client, make_user, login, monkeypatch):
    from xinyidai.bank import routes

    def broken(*_args, **_kwargs):
        raise RuntimeError("password=hunter2 in /srv/secret.py line 42")

    monkeypatch.setattr(routes, "shared_dashboard", broken)
    login(make_user(Role.BANK))
    response = client.get("/bank/dashboard")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "出错了，请稍后再试。" in page
    for leak in ("hunter2", "secret.py", "Traceback", "RuntimeError"):
        assert leak not in page


def test_a_server_error_in_the_api_is_problem_json_without_a_trace(client, make_bank, db_session, monkeypatch):
    from xinyidai.api import routes

    def broken(*_args, **_kwargs):
        raise RuntimeError("password=hunter2 in /srv/secret.py line 42")

    monkeypatch.setattr(routes.operations, "bank_officers", broken)
    token = issue_token(db_session, make_bank(), "broken").token
    db_session.commit()
    response = client.get("/api/v1/officers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 500
    assert response.content_type == "application/problem+json"
    body = response.get_data(as_text=True)
    assert response.get_json()["status"] == 500
    for leak in ("hunter2", "secret.py", "Traceback", "RuntimeError"):
        assert leak not in body
