"""Tenancy, proved route by route: every rule in the URL map under /bank and /api/v1 is called by every
kind of caller, and nobody but the owning bank reaches the owning bank's products, applications, outcomes
or tokens (403 for other roles, 404 for another bank, 401 for the API without the owner's token).

A new route with a URL argument this test does not know fails it, so it cannot be added untested."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from models.identity import Role
from models.lending import Application, Product
from tests.conftest import TEST_PASSWORD, FreshContextClient, csrf_token
from xinyidai.domain.tokens import issue_token
from xinyidai.extensions import db

PUBLIC_API = {"xyd-api-api-docs.openapi_json", "api_docs.interactive_docs", "api_docs.swagger_init",
              "api_docs.swagger_asset"}
API_BODIES = {
    "api.decline": {"reason_code": "other", "reason_text": "矩阵测试"},
    "api.disburse": {"amount_fen": 100_000, "rate_bp": 400, "term_months": 12, "disbursed_on": "2026-11-02",
                     "guarantee_type": "信用"},
    "api.repayment": {"status": "repaying"},
    "api.update_product": {"status": "paused"},
    "api.upload_sample": {"rows": []},
    "api.put_policy": {"model": "platform", "min_band": "BBB", "sales_share_bp": 2000},
    "api.create_product": {"code": "X1", "name_zh": "x", "name_en": "x", "min_amount_fen": 1, "max_amount_fen": 2,
                           "min_term_months": 1, "max_term_months": 2, "min_rate_bp": 1, "max_rate_bp": 2,
                           "guarantee_type": "信用"},
}


REFUSED_WITHOUT_OBJECT = {"api.upload_sample", "api.rollback"}


@pytest.fixture
def world(app, db_session, make_bank, make_user, make_product, make_application, make_bank_model):
    """Bank A owns a product, an application, a token, an upload result file, a modelling sample and a model
    version; bank B and every other role try to reach them."""
    owner_bank, other_bank = make_bank(), make_bank()
    sample, version = make_bank_model(owner_bank)
    product = make_product(bank=owner_bank)
    application = make_application(product=product)
    owner_officer = make_user(Role.BANK, bank_id=owner_bank.id, is_tenant_admin=True)
    owner_token = issue_token(db_session, owner_bank, "owner")
    results = app.config["XYD_INSTANCE_PATH"]
    from pathlib import Path

    folder = Path(results) / "outcome_results" / str(owner_bank.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "owner-results.csv").write_text("line,result\n2,applied\n")
    users = {
        "other_bank_admin": make_user(Role.BANK, bank_id=other_bank.id, is_tenant_admin=True),
        "enterprise": make_user(Role.ENTERPRISE),
        "office": make_user(Role.OFFICE),
        "admin": make_user(Role.ADMIN),
    }
    other_token = issue_token(db_session, other_bank, "intruder").token
    db_session.commit()
    return {"app": app, "product": product, "application": application, "owner_officer": owner_officer,
            "owner_token_id": owner_token.record.id, "users": users, "other_token": other_token,
            "other_officer_id": users["other_bank_admin"].id, "result_name": "owner-results.csv",
            "sample_id": sample.id, "version": version.version}


def logged_in(app, user) -> FreshContextClient:
    client = FreshContextClient(app, app.response_class, use_cookies=True)
    if user is not None:
        response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                               "csrf_token": csrf_token(client)})
        assert response.status_code == 302
    return client


def page_csrf(client) -> str:
    """The CSRF token of the caller's session, from any page it can open (the header's logout form)."""
    page = client.get("/home", follow_redirects=True).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    return match.group(1) if match else csrf_token(client)


def routes(app, prefix: str):
    for rule in app.url_map.iter_rules():
        if rule.rule == prefix or rule.rule.startswith(prefix + "/"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def url_for_rule(rule, world) -> str:
    values = {"product_id": world["product"].id, "application_id": world["application"].id,
              "token_id": world["owner_token_id"], "name": world["result_name"], "filename": "swagger-ui.css",
              "sample_id": world["sample_id"], "version": world["version"], "user_id": world["owner_officer"].id}
    unknown = set(rule.arguments) - set(values)
    assert not unknown, f"{rule.rule}: teach this test about {unknown}"
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda match: str(values[match.group(1)]), rule.rule)


def test_every_bank_page_refuses_other_roles_and_other_banks(world):
    app = world["app"]
    checked = 0
    callers = {"anonymous": None, **world["users"]}
    clients = {name: logged_in(app, user) for name, user in callers.items()}
    for rule, method in routes(app, "/bank"):
        path = url_for_rule(rule, world)
        for name, client in clients.items():
            # A valid CSRF token, so that what refuses the request is the role or tenant check itself.
            data = {"csrf_token": page_csrf(client)} if method == "POST" else None
            response = client.open(path, method=method, data=data)
            if name == "anonymous":
                assert response.status_code == 302, (method, path, name)
                assert "/login" in response.headers["Location"]
            elif name == "other_bank_admin":
                if rule.arguments:
                    assert response.status_code == 404, (method, path, response.status_code)
                else:
                    assert response.status_code in (200, 302, 400, 422), (method, path, response.status_code)
            else:
                assert response.status_code == 403, (method, path, name, response.status_code)
            checked += 1
    assert checked >= 4 * 20
    db.session.expire_all()
    assert db.session.get(Application, world["application"].id).state.value == "matched"
    assert db.session.get(Product, world["product"].id).status.value == "active"


def test_every_api_operation_refuses_other_banks_and_callers_without_a_token(world):
    app = world["app"]
    operations = 0
    session_clients = {name: logged_in(app, user) for name, user in {"anonymous": None, **world["users"]}.items()}
    for rule, method in routes(app, "/api/v1"):
        path = url_for_rule(rule, world)
        if rule.endpoint in PUBLIC_API:
            with session_clients["anonymous"].open(path, method=method) as response:
                assert response.status_code == 200, path
            continue
        if rule.endpoint == "api.reassign":
            body = {"officer_id": world["other_officer_id"]}
        else:
            body = API_BODIES.get(rule.endpoint)
        for name, client in session_clients.items():  # a browser session is no API credential
            response = client.open(path, method=method, json=body, headers={"Idempotency-Key": "k"})
            assert response.status_code == 401, (method, path, name, response.status_code)
        intruder = {"Authorization": f"Bearer {world['other_token']}", "Idempotency-Key": "intruder-1"}
        response = session_clients["anonymous"].open(path, method=method, json=body, headers=intruder)
        if rule.arguments:
            assert response.status_code == 404, (method, path, response.get_data(as_text=True))
            assert response.content_type == "application/problem+json"
        elif rule.endpoint in REFUSED_WITHOUT_OBJECT:  # the intruder's own (empty) sample, or nothing to roll back
            assert response.status_code in (409, 422), (method, path, response.get_data(as_text=True))
        else:
            assert response.status_code in (200, 201), (method, path, response.get_data(as_text=True))
            listed = response.get_json()
            rows = listed["items"] if isinstance(listed, dict) and "items" in listed else listed
            if isinstance(rows, list) and rule.endpoint != "api.officers":
                assert world["product"].id not in [row.get("product_id", row.get("id")) for row in rows], path
        operations += 1
    assert operations >= 13
    db.session.expire_all()
    assert db.session.get(Application, world["application"].id).state.value == "matched"
    assert db.session.scalar(sa.select(Product.status).where(Product.id == world["product"].id)).value == "active"


def test_another_banks_lists_never_show_the_owners_rows(world):
    client = logged_in(world["app"], world["users"]["other_bank_admin"])
    application_id = world["application"].id
    for path in ("/bank/pipeline", "/bank/applications", "/bank/products", "/bank/dashboard"):
        page = client.get(path).get_data(as_text=True)
        assert f"#{application_id}<" not in page, path
        assert world["product"].code not in page, path
    api = {"Authorization": f"Bearer {world['other_token']}"}
    assert client.get("/api/v1/pipeline", headers=api).get_json()["items"] == []
    assert client.get("/api/v1/applications", headers=api).get_json()["items"] == []
    assert client.get("/api/v1/products", headers=api).get_json() == []
