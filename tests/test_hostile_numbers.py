"""Hostile numbers and dates on every channel (issue 13 item 1, item 8): every numeric field of every API body
and query, of every web form and of the CSV outcome upload is refused with a 4xx that names the field — before
any arithmetic, so none of them holds a worker (``1e999000`` took 28 s and ``1e999999`` was a 500). The
fields are read from the OpenAPI document and from the rendered forms, not listed by hand."""

from __future__ import annotations

import io
import json
import re

import pytest

from models.identity import Role
from tests.conftest import csrf_token
from tests.test_bank_tenancy import API_BODIES
from xinyidai.domain import inputs
from xinyidai.domain.tokens import issue_token

# As JSON text: each is a number literal (or a string) no numeric field may accept.
HOSTILE_JSON_NUMBERS = ["1e999999", "-1e999999", "1e-999999", "9" * 5000, "-" + "9" * 5000, "1" + "0" * 30,
                        "NaN", "Infinity", "-Infinity", "1.5e308", '"１２"', '"12"', "true", "0.5", '"1e3"']
# As typed into a form or a CSV cell.
HOSTILE_TEXT_NUMBERS = ["1e999000", "1e999999", "-1e-999999", "9" * 5000, "1" + "0" * 40, "NaN", "Infinity",
                        "-inf", "0x10", "1_000", "٣", "²", "1,2,3.4.5", "1e3"]
HOSTILE_DATES = ["9999-12-31", "0001-01-01", "10000-01-01", "2026-02-30", "2026-13-01", "today", "1e999999",
                 "2" * 5000]


# ---------------------------------------------------------------- the shared parser itself

@pytest.mark.parametrize("raw", HOSTILE_TEXT_NUMBERS)
def test_the_shared_parser_refuses_what_is_not_plain_bounded_notation(raw):
    with pytest.raises(inputs.InputError):
        inputs.parse_decimal(raw)
    with pytest.raises(inputs.InputError):
        inputs.parse_whole(raw)


@pytest.mark.parametrize(("raw", "value"), [("１２３．５", "123.5"), (" 42 ", "42"), ("-0.01", "-0.01"),
                                            ("＋７", "7")])
def test_full_width_digits_are_normalised_everywhere(raw, value):
    assert str(inputs.parse_decimal(raw)) == value


@pytest.mark.parametrize("raw", HOSTILE_DATES)
def test_the_shared_date_parser_refuses_impossible_dates(raw):
    with pytest.raises(inputs.InputError):
        inputs.parse_day(raw)


# ---------------------------------------------------------------- the API: every numeric and date field of every body

@pytest.fixture
def api(app, db_session, make_bank, make_product, make_application):
    bank = make_bank()
    product = make_product(bank=bank)
    application = make_application(product=product)
    token = issue_token(db_session, bank, "hostile").token
    db_session.commit()
    return {"token": token, "product_id": product.id, "application_id": application.id}


def _resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def body_fields(spec):
    """(path, method, field, kind) for every integer, number and date property of every JSON body."""
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "patch", "put"):
                continue
            content = (operation.get("requestBody") or {}).get("content", {}).get("application/json")
            if not content:
                continue
            schema = _resolve(spec, content["schema"])
            for name, prop in schema.get("properties", {}).items():
                prop = _resolve(spec, prop)
                kind = "date" if prop.get("format") == "date" else prop.get("type")
                if kind in ("integer", "number", "date"):
                    yield path, method, name, kind


def test_every_numeric_and_date_field_of_every_api_body_refuses_hostile_values(client, api):
    spec = client.get("/api/v1/openapi.json").get_json()
    endpoints = {("products", "post"): "api.create_product", ("{product_id}", "patch"): "api.update_product",
                 ("disburse", "post"): "api.disburse", ("repayment", "post"): "api.repayment"}
    checked, wrong = 0, []
    for path, method, name, kind in body_fields(spec):
        endpoint = endpoints.get((path.rsplit("/", 1)[-1], method))
        base = dict(API_BODIES.get(endpoint, {"officer_id": 1}))
        url = path.replace("{product_id}", str(api["product_id"])).replace("{application_id}", str(api["application_id"]))
        values = {"integer": HOSTILE_JSON_NUMBERS, "date": [json.dumps(d) for d in HOSTILE_DATES],
                  # a finite decimal is a number: its range is the field's own rule
                  "number": [v for v in HOSTILE_JSON_NUMBERS if v not in ("0.5", "1.5e308")]}[kind]
        for value in values:
            base[name] = "__HOSTILE__"
            body = json.dumps(base).replace('"__HOSTILE__"', value)
            response = client.open(url, method=method.upper(), data=body, content_type="application/json",
                                   headers={"Authorization": f"Bearer {api['token']}",
                                            "Idempotency-Key": f"hostile-{checked}"})
            checked += 1
            problem = response.get_json(silent=True) or {}
            if response.status_code != 422 or name not in (problem.get("errors") or {}):
                wrong.append(f"{method.upper()} {path} {name}={value[:30]}: {response.status_code} "
                             f"{response.get_data(as_text=True)[:160]}")
    assert checked >= 15 * 10
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", ["page", "per_page", "min_amount_fen", "max_amount_fen", "max_age_days",
                                  "product_id"])
@pytest.mark.parametrize("value", HOSTILE_TEXT_NUMBERS)
def test_every_numeric_query_parameter_refuses_hostile_values(client, api, name, value):
    response = client.get("/api/v1/pipeline", query_string={name: value},
                          headers={"Authorization": f"Bearer {api['token']}"})
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert name in response.get_json()["errors"]


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"reason_code": "\\ud800"}',
                                  b'{"reason_code": "other", "reason_text": "\\udfff x"}',
                                  b'{"a":' * 50 + b"1" + b"}" * 50, b"\xff\xfe{}"])
def test_json_that_no_database_could_store_is_a_400_not_a_500(client, api, body):
    response = client.post(f"/api/v1/applications/{api['application_id']}/decline", data=body,
                           content_type="application/json",
                           headers={"Authorization": f"Bearer {api['token']}", "Idempotency-Key": "deep"})
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"


# ---------------------------------------------------------------- the CSV outcome upload

CSV_NUMERIC = ["application_id", "amount_yuan", "rate_percent", "term_months", "days_past_due", "outstanding_yuan"]


@pytest.mark.parametrize("column", CSV_NUMERIC)
def test_every_numeric_csv_column_refuses_hostile_values_row_by_row(client, make_user, login, make_application,
                                                                    column):
    application = make_application()
    login(make_user(Role.BANK, bank_id=application.bank_id, is_tenant_admin=True))
    good = {"application_id": str(application.id), "outcome": "disbursed", "amount_yuan": "1000",
            "rate_percent": "4", "term_months": "12", "disbursed_on": "2026-01-05", "guarantee_type": "信用",
            "days_past_due": "", "as_of": "", "outstanding_yuan": ""}
    if column in ("days_past_due", "outstanding_yuan"):
        good.update(outcome="overdue", days_past_due="10", as_of="2026-02-28", outstanding_yuan="100")
    lines = [",".join(good)]
    for value in HOSTILE_TEXT_NUMBERS:
        lines.append(",".join(f'"{value}"' if key == column else good[key] for key in good))
    token = csrf_token(client, "/bank/outcomes/upload")
    response = client.post("/bank/outcomes/upload", content_type="multipart/form-data",
                           data={"csrf_token": token,
                                 "file": (io.BytesIO("\n".join(lines).encode()), "outcomes.csv")})
    assert response.status_code in (200, 422)
    page = response.get_data(as_text=True).split("<caption>各列允许的值")[0]  # the row results, not the columns' rules
    rejected = re.findall(rf"<code>{column}</code> 所填", page)
    assert len(rejected) == len(HOSTILE_TEXT_NUMBERS), page[:3000]


def test_a_zero_amount_disbursement_is_refused_in_the_csv_as_on_the_web_and_api(client, make_user, login,
                                                                              make_application):
    application = make_application()
    login(make_user(Role.BANK, bank_id=application.bank_id, is_tenant_admin=True))
    text = ("application_id,outcome,amount_yuan,rate_percent,term_months,disbursed_on,guarantee_type\n"
            f"{application.id},disbursed,0,4,12,2026-01-05,信用\n")
    token = csrf_token(client, "/bank/outcomes/upload")
    response = client.post("/bank/outcomes/upload", content_type="multipart/form-data",
                           data={"csrf_token": token, "file": (io.BytesIO(text.encode()), "outcomes.csv")})
    assert "<code>amount_yuan</code> 所填：<code class=\"upload-problem__value\">0</code>" in response.get_data(as_text=True)
    assert application.state.value == "matched"
