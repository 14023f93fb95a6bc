"""Deliveries on /admin/deliveries: recent ones with their counts and who handed them in, the rejection report
as a download, and one file uploaded and applied by the loader `xyd ingest` uses — whole-file problems
refused beside the file field with nothing written."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from models.audit import AuditEntry
from models.identity import Role
from models.sources import Delivery, TaxMonth
from tests.conftest import count_rows, csrf_token, fresh_uscc
from tests.test_ingest import REGISTRY_HEADER

TAX_HEADER = "uscc,month,invoiced_sales,tax_paid,in_arrears"


@pytest.fixture
def admin(make_user, login):
    user = make_user(Role.ADMIN, username=f"ops-{uuid.uuid4().hex[:6]}")
    login(user)
    return user


def upload(client, source: str, name: str, content: bytes | str):
    payload = content.encode("utf-8") if isinstance(content, str) else content
    return client.post("/admin/deliveries", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/admin/deliveries"), "source": source, "file": (io.BytesIO(payload), name)})


@pytest.fixture
def registered(client, admin):
    codes = [fresh_uscc("310117") for _ in range(2)]
    rows = [f"{code},上海松江上传{i}有限公司,310117,C,39,2016-03-0{i + 1},1000000.00,存续,小" for i, code in enumerate(codes)]
    response = upload(client, "registry", "registry_2026-11.csv", "\n".join([REGISTRY_HEADER, *rows]) + "\n")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return codes


def test_an_uploaded_delivery_is_applied_and_its_rejections_shown_and_downloadable(client, admin, registered,
                                                                                   db_session):
    a, b = registered
    body = "\n".join([TAX_HEADER, f"{a},2025-01,120000.50,3600.15,0", f"{a},2025-13,1,1,0",
                      f"{b},2025-01,abc,1,0", f"{b},2025-02,100.5,5,1"]) + "\n"
    response = upload(client, "tax", "税务_2026-11.csv", body)
    delivery = db_session.scalar(sa.select(Delivery).order_by(Delivery.id.desc()).limit(1))
    assert response.headers["Location"] == f"/admin/deliveries/{delivery.id}"
    assert (delivery.filename, delivery.received_by) == ("税务_2026-11.csv", admin.username)
    assert (delivery.rows, delivery.inserted, delivery.updated, delivery.unchanged, delivery.rejected) == (4, 2, 0, 0, 2)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(TaxMonth).where(TaxMonth.uscc.in_([a, b]))) == 2

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已处理 4 行：新增 2，更新 0，未变 0，拒收 2。" in page
    assert "<code>month</code>" in page
    assert "<code>invoiced_sales</code>" in page
    assert "YYYY-MM" in page
    report = client.get(f"/admin/deliveries/{delivery.id}/rejections.csv")
    assert report.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(report.get_data(as_text=True).lstrip("\ufeff"))))
    assert [(r["line"], r["field"], r["value"]) for r in rows] == [("3", "month", "2025-13"),
                                                                   ("4", "invoiced_sales", "abc")]
    # the rejection table shows the offending value beside the field and the reason
    assert re.search(r"<code>month</code></td><td[^>]*><code>2025-13</code></td>", page)
    assert re.search(r"<code>invoiced_sales</code></td><td[^>]*><code>abc</code></td>", page)

    listing = client.get("/admin/deliveries").get_data(as_text=True)
    assert "税务_2026-11.csv" in listing
    assert admin.username in listing
    entry = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "delivery_uploaded")
                              .order_by(AuditEntry.id.desc()).limit(1))
    assert entry.actor_user_id == admin.id
    assert entry.detail["delivery_id"] == delivery.id


def test_the_same_file_again_changes_nothing(client, admin, registered, db_session):
    body = f"{TAX_HEADER}\n{registered[0]},2025-03,10,1,0\n"
    upload(client, "tax", "tax.jsonl.csv", body)
    upload(client, "tax", "tax.jsonl.csv", body)
    latest = db_session.scalar(sa.select(Delivery).order_by(Delivery.id.desc()).limit(1))
    assert (latest.rows, latest.inserted, latest.updated, latest.unchanged) == (1, 0, 0, 1)


def test_json_lines_deliveries_are_accepted(client, admin, registered, db_session):
    line = json.dumps({"uscc": registered[1], "month": "2025-04", "invoiced_sales": "10", "tax_paid": "1",
                       "in_arrears": "0"})
    response = upload(client, "tax", "tax.jsonl", line + "\n")
    assert response.status_code == 302
    latest = db_session.scalar(sa.select(Delivery).order_by(Delivery.id.desc()).limit(1))
    assert (latest.file_format, latest.inserted) == ("jsonl", 1)


@pytest.mark.parametrize(("source", "name", "content", "message"), [
    ("tax", None, None, "请选择要上传的文件。"),
    ("tax", "tax.xlsx", "uscc\n", "只接受 .csv、.jsonl 或 .ndjson 文件。"),
    ("tax", "tax.csv", b"PK\x03\x04\x00\x00binary", "这不是文本格式的 CSV 或 JSON Lines 文件"),
    ("tax", "tax.csv", "uscc,month\n", "表头不符"),
    ("tax", "tax.csv", f"{TAX_HEADER}\n91310117MA1000000X,2025-01,1,1,0", "文件在行中途结束"),
    ("salary", "tax.csv", f"{TAX_HEADER}\n", "请选择数据来源。"),
])
def test_a_file_that_cannot_be_applied_is_refused_beside_its_field_and_writes_nothing(client, admin, source, name,
                                                                                      content, message):
    deliveries = count_rows(Delivery)
    if name is None:
        response = client.post("/admin/deliveries", data={"csrf_token": csrf_token(client, "/admin/deliveries"),
                                                          "source": source})
    else:
        response = upload(client, source, name, content)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page, page[:3000]
    assert "deliveries/uploads" not in page
    assert count_rows(Delivery) == deliveries


def test_a_refused_upload_is_audited(client, admin, db_session):
    upload(client, "tax", "tax.csv", "uscc,month\n")
    entry = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "delivery_refused"))
    assert entry.actor_user_id == admin.id
    assert entry.detail["file"] == "tax.csv"


def test_an_upload_over_the_size_limit_is_refused_naming_the_limit(app, client, admin, monkeypatch):
    token = csrf_token(client, "/admin/deliveries")
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    deliveries = count_rows(Delivery)
    # Built in memory (see tests/test_input_limits.py): a spooled body would stay open after the 413.
    boundary, body = encode_multipart({"csrf_token": token, "source": "tax",
                                       "file": FileStorage(io.BytesIO(b"x" * (1024 * 1024 + 1)), "tax.csv")})
    response = client.post("/admin/deliveries", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    assert "每次最多 1 MB" in response.get_data(as_text=True)
    assert count_rows(Delivery) == deliveries


def test_an_unknown_delivery_is_404(client, admin):
    assert client.get("/admin/deliveries/987654321").status_code == 404
    assert client.get("/admin/deliveries/987654321/rejections.csv").status_code == 404
