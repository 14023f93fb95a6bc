"""Exports never fail on content and never carry active content (issue 13 items 3 and 9): a tenant's text that
starts like a formula is written as text, characters an XLSX file cannot hold are replaced, chart labels are
escaped, and free text with control, bidi-override or zero-width characters is refused where it comes in."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from models.identity import Role
from xinyidai.domain.cells import safe_cell
from xinyidai.domain.figures import exports
from xinyidai.domain.tokens import issue_token

HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "bell\x07esc\x1bff\x0c",
           "lone \ud800 surrogate"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_cell_becomes_inert_text(value):
    cell = safe_cell(value)
    assert not cell.startswith(("=", "+", "-", "@", "\t"))
    assert all(c == "\ufffd" or c >= " " or c in "\t\n" for c in cell)


@pytest.mark.parametrize("value", ["-12.5", "-3%", "1,234", 42, None, "普通名称"])
def test_plain_values_are_left_alone(value):
    assert safe_cell(value) == value


def test_an_xlsx_export_with_hostile_content_opens_with_text_cells():
    report = exports.Report("标题", [("区", "=cmd|' /C calc'!A0")], [exports.Section(
        "产品", "按产品", ["产品", "笔数"], [[value, 1] for value in HOSTILE])], ["@note"])
    workbook = load_workbook(io.BytesIO(exports.to_xlsx(report)))
    values = [cell.value for row in workbook.active.iter_rows() for cell in row if isinstance(cell.value, str)]
    assert values
    assert not [v for v in values if v.startswith(("=", "+", "-", "@"))]
    assert all(cell.data_type != "f" for row in workbook.active.iter_rows() for cell in row)


def test_a_csv_export_quotes_formula_cells():
    report = exports.Report("t", [], [exports.Section("s", "s", ["name"], [[v] for v in HOSTILE])])
    text = exports.to_csv(report).decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    assert "\n=HYPERLINK" not in text


def test_the_bank_dashboard_csv_neutralises_a_product_named_like_a_formula(client, make_user, make_product, login):
    product = make_product(name_zh="=HYPERLINK(\"http://evil\")", code="EVIL1")
    login(make_user(Role.BANK, bank_id=product.bank_id))
    body = client.get("/bank/dashboard.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in body
    assert ",=HYPERLINK" not in body


@pytest.mark.parametrize("name", ["   ", "bell\x07", "\u202egnp.exe", "a\u200bb", "\ufeffBOM"])
def test_a_product_name_with_invisible_or_control_characters_is_refused(client, db_session, make_bank, name):
    bank = make_bank()
    token = issue_token(db_session, bank, "names").token
    db_session.commit()
    body = {"code": "N1", "name_zh": name, "name_en": "x", "min_amount_fen": 1, "max_amount_fen": 2,
            "min_term_months": 1, "max_term_months": 2, "min_rate_bp": 1, "max_rate_bp": 2, "guarantee_type": "信用"}
    response = client.post("/api/v1/products", json=body,
                           headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "n-" + name.encode("utf-8").hex()})
    assert response.status_code == 422
    assert "name_zh" in response.get_json()["errors"]


def test_office_chart_labels_are_escaped(app):
    from xinyidai.domain.figures.metrics import Dimension
    from xinyidai.office import charts

    class Row:
        key, label_zh, label_en, cells = "p", "<a href='http://evil'>x</a>", None, {}

    class Table:
        dimension, rows = Dimension.PRODUCT, [Row()]

    with app.test_request_context("/"):
        labels = charts._labels(Table())
    assert labels == ["&lt;a href=&#x27;http://evil&#x27;&gt;x&lt;/a&gt;"]


def test_pages_are_not_stored_by_browsers_or_proxies_but_assets_may_be(client, make_user, login):
    login(make_user(Role.ADMIN))
    assert client.get("/admin/banks").headers["Cache-Control"] == "no-store"  # shows one-time passwords
    asset = client.get("/static/favicon.svg")
    asset.close()
    assert "no-store" not in asset.headers.get("Cache-Control", "")


def test_the_placeholder_secret_key_is_refused(tmp_path, monkeypatch):
    from xinyidai import create_app

    monkeypatch.setenv("SECRET_KEY", "CHANGE-ME-to-64-random-hex-characters")
    with pytest.raises(RuntimeError, match="placeholder"):
        create_app({"XYD_INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_the_docs_assets_do_not_serve_the_petstore_page(client):
    assert client.get("/api/v1/docs/assets/index.html").status_code == 404
    assert client.get("/api/v1/docs/assets/swagger-initializer.js").status_code == 404
    style = client.get("/api/v1/docs/assets/swagger-ui.css")
    style.close()
    assert style.status_code == 200
