"""The bank API (/api/v1) as a bank's system uses it: a bearer token, JSON bodies, problem+json errors,
idempotent retries, 404 for another bank's objects, 409 with a plain reason for illegal moves."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from models.identity import ApiToken
from models.lending import Application, ApplicationEvent, Product
from xinyidai.domain.tokens import issue_token

PRODUCT = {"code": "KC1", "name_zh": "科创贷", "name_en": "Tech loan", "min_amount_fen": 10_000_000,
           "max_amount_fen": 300_000_000, "min_term_months": 3, "max_term_months": 36, "min_rate_bp": 300,
           "max_rate_bp": 480, "guarantee_type": "信用"}
TODAY = date.today()
LOAN = {"amount_fen": 40_000_000, "rate_bp": 385, "term_months": 12, "disbursed_on": TODAY.isoformat(),
        "guarantee_type": "信用"}


@pytest.fixture
def api(client, db_session, make_bank):
    """api(bank=None) -> a caller with a fresh token of `bank`: api.get(path), api.post(path, json, key=...)."""

    class Caller:
        def __init__(self, bank):
            self.bank = bank
            self.token = issue_token(db_session, bank, "core banking").token
            db_session.commit()

        def headers(self, key=None):
            headers = {"Authorization": f"Bearer {self.token}"}
            if key is not None:
                headers["Idempotency-Key"] = key
            return headers

        def get(self, path, **kwargs):
            return client.get(path, headers=self.headers(), **kwargs)

        def post(self, path, json=None, key="k-1"):
            return client.post(path, json=json, headers=self.headers(key))

        def patch(self, path, json):
            return client.patch(path, json=json, headers=self.headers())

    return lambda bank=None: Caller(bank or make_bank())


def test_no_token_or_a_revoked_one_is_401_problem(client, api, db_session):
    assert client.get("/api/v1/products").status_code == 401
    caller = api()
    assert caller.get("/api/v1/products").status_code == 200
    token = db_session.scalar(sa.select(ApiToken).where(ApiToken.bank_id == caller.bank.id))
    from models.base import utcnow

    token.revoked_at = utcnow()
    db_session.commit()
    response = caller.get("/api/v1/products")
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_only_the_hash_of_a_token_is_stored(api, db_session):
    caller = api()
    stored = db_session.scalar(sa.select(ApiToken).where(ApiToken.bank_id == caller.bank.id))
    assert caller.token not in (stored.token_hash, stored.prefix)
    assert caller.token.startswith(stored.prefix)


def test_create_product_retried_with_the_same_key_creates_one(api, db_session):
    caller = api()
    first = caller.post("/api/v1/products", PRODUCT, key="create-kc1")
    again = caller.post("/api/v1/products", PRODUCT, key="create-kc1")
    assert first.status_code == 201
    assert again.status_code == 201
    assert first.get_json()["id"] == again.get_json()["id"]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Product)
                             .where(Product.bank_id == caller.bank.id)) == 1
    other_body = caller.post("/api/v1/products", {**PRODUCT, "code": "KC2"}, key="create-kc1")
    assert other_body.status_code == 409


def test_validation_errors_are_422_with_messages_per_field(api):
    response = api().post("/api/v1/products", {**PRODUCT, "min_rate_bp": 900, "guarantee_type": "vibes",
                                               "surprise": 1})
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    errors = response.get_json()["errors"]
    assert set(errors) >= {"guarantee_type", "surprise"}


def test_every_post_needs_an_idempotency_key(api, make_application):
    caller = api()
    application = make_application(product=_product_of(caller))
    response = caller.post(f"/api/v1/applications/{application.id}/claim", key=None)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["errors"]


def _product_of(caller):
    from xinyidai.extensions import db

    product = Product(bank_id=caller.bank.id, **{**PRODUCT, "code": f"P{caller.bank.id}"})
    db.session.add(product)
    db.session.flush()
    return product


def test_a_bank_system_works_an_application_end_to_end(api, make_application, db_session):
    caller = api()
    application = make_application(product=_product_of(caller))
    base = f"/api/v1/applications/{application.id}"
    pipeline = caller.get("/api/v1/pipeline").get_json()
    assert [item["application_id"] for item in pipeline["items"]] == [application.id]
    assert caller.post(f"{base}/claim", key="c1").get_json()["state"] == "claimed"
    assert caller.post(f"{base}/approve", key="a1").get_json()["state"] == "approved"
    disbursed = caller.post(f"{base}/disburse", LOAN, key="d1").get_json()
    assert disbursed["state"] == "disbursed"
    assert disbursed["disbursed_amount_fen"] == 40_000_000
    # A month-end report is dated from the disbursement to tomorrow (a day of clock skew).
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    monthly = {"status": "repaying", "as_of": TODAY.isoformat(), "outstanding_fen": 40_000_000}
    assert caller.post(f"{base}/repayment", monthly, key="r1").get_json()["state"] == "repaying"
    overdue = {"status": "overdue", "days_past_due": 35, "as_of": tomorrow, "outstanding_fen": 39_000_000}
    assert caller.post(f"{base}/repayment", overdue, key="r2").get_json()["days_past_due"] == 35
    outcomes = caller.get(f"{base}/outcomes").get_json()
    assert [row["as_of"] for row in outcomes] == [TODAY.isoformat(), tomorrow]
    detail = caller.get(base).get_json()
    assert detail["enterprise"]["detail_visible"] is False
    assert detail["enterprise"]["detail"] is None
    assert "name" not in detail["enterprise"]["summary"]


def test_a_retried_report_is_applied_once(api, make_application, db_session):
    caller = api()
    application = make_application(product=_product_of(caller))
    base = f"/api/v1/applications/{application.id}"
    caller.post(f"{base}/claim", key="c1")
    first = caller.post(f"{base}/decline", {"reason_code": "credit_record", "reason_text": "D 级纳税"}, key="dec-1")
    retry = caller.post(f"{base}/decline", {"reason_code": "credit_record", "reason_text": "D 级纳税"}, key="dec-1")
    assert first.status_code == 200
    assert retry.status_code == 200
    assert retry.get_json() == first.get_json()
    events = db_session.scalars(sa.select(ApplicationEvent).where(ApplicationEvent.application_id == application.id))
    assert [e.to_state.value for e in events] == ["claimed", "declined"]


def test_an_illegal_move_is_409_with_a_plain_reason(api, make_application):
    caller = api()
    application = make_application(product=_product_of(caller))
    response = caller.post(f"/api/v1/applications/{application.id}/disburse", LOAN, key="d1")
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert "matched" in body["detail_en"]
    assert body["detail"]


def test_another_banks_objects_are_404_through_the_api(api, make_application, db_session):
    mine, theirs = api(), api()
    application = make_application(product=_product_of(theirs))
    product_id = application.product_id
    for path in (f"/api/v1/applications/{application.id}", f"/api/v1/applications/{application.id}/outcomes",
                 f"/api/v1/products/{product_id}"):
        assert mine.get(path).status_code == 404, path
    for action in ("claim", "approve"):
        assert mine.post(f"/api/v1/applications/{application.id}/{action}", key=f"k-{action}").status_code == 404
    assert mine.patch(f"/api/v1/products/{product_id}", {"status": "paused"}).status_code == 404
    assert mine.get("/api/v1/pipeline").get_json()["items"] == []
    assert db_session.get(Application, application.id).state.value == "matched"


def test_pausing_a_product_over_the_api(api):
    caller = api()
    product_id = caller.post("/api/v1/products", PRODUCT).get_json()["id"]
    response = caller.patch(f"/api/v1/products/{product_id}", {"status": "paused", "max_rate_bp": 500})
    assert response.status_code == 200
    assert response.get_json()["status"] == "paused"
    assert caller.patch(f"/api/v1/products/{product_id}", {"min_rate_bp": 600}).status_code == 422


def test_openapi_document_and_offline_docs(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/applications/{application_id}/repayment" in spec["paths"]
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "//cdn" not in page
    assert "unpkg" not in page
    with client.get("/api/v1/docs/assets/swagger-ui-bundle.js") as script:
        assert script.status_code == 200


def test_api_detail_under_authorization_is_audited_with_the_token(api, make_application, make_user, db_session):
    from datetime import timedelta

    from models.audit import AuditEntry
    from models.base import utcnow
    from models.consent import Authorization
    from models.identity import Role

    caller = api()
    application = make_application(product=_product_of(caller))
    owner = make_user(Role.ENTERPRISE, enterprise_uscc=application.uscc)
    grant = Authorization(uscc=application.uscc, sources=["tax"], all_banks=True, granted_by_id=owner.id,
                          granted_at=utcnow() - timedelta(hours=1), expires_at=utcnow() + timedelta(days=30))
    db_session.add(grant)
    db_session.commit()
    body = caller.get(f"/api/v1/applications/{application.id}").get_json()
    assert body["enterprise"]["detail_visible"] is True
    assert body["enterprise"]["detail"]["uscc"] == application.uscc
    assert body["enterprise"]["authorization_id"] == grant.id
    token_id = db_session.scalar(sa.select(ApiToken.id).where(ApiToken.bank_id == caller.bank.id))
    audit = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "view_credit_detail",
                                                          AuditEntry.subject_uscc == application.uscc))
    assert audit.actor_token_id == token_id
    assert audit.authorization_id == grant.id


def test_approval_terms_are_given_and_read_over_the_api_as_on_the_web(api, make_application, db_session):
    caller = api()
    application = make_application(product=_product_of(caller))
    base = f"/api/v1/applications/{application.id}"
    caller.post(f"{base}/claim", key="t-claim")
    partial = caller.post(f"{base}/approve", {"amount_fen": 30_000_000}, key="t-partial")
    assert partial.status_code == 422
    assert set(partial.get_json()["errors"]) == {"term_months", "rate_bp"}
    too_dear = caller.post(f"{base}/approve", {"amount_fen": 30_000_000, "term_months": 12, "rate_bp": 3700},
                           key="t-dear")
    assert too_dear.status_code == 422
    assert "rate_bp" in too_dear.get_json()["errors"]
    assert caller.get(base).get_json()["state"] == "claimed"
    terms = {"amount_fen": 30_000_000, "term_months": 24, "rate_bp": 395}
    approved = caller.post(f"{base}/approve", terms, key="t-approve")
    assert approved.status_code == 200, approved.get_json()
    body = approved.get_json()
    assert body["state"] == "approved"
    assert (body["approved_amount_fen"], body["approved_term_months"], body["approved_rate_bp"]) == (30_000_000, 24, 395)
    again = caller.get(base).get_json()
    assert (again["approved_amount_fen"], again["approved_term_months"], again["approved_rate_bp"]) == (30_000_000, 24, 395)
    db_session.refresh(application)
    assert (application.approved_amount_fen, application.approved_term_months, application.approved_rate_bp) == \
        (30_000_000, 24, 395)
    # the same key with other terms is a conflict, never a second approval
    assert caller.post(f"{base}/approve", {**terms, "rate_bp": 400}, key="t-approve").status_code == 409
    spec = caller.get("/api/v1/openapi.json").get_json()
    approve_body = spec["paths"]["/api/v1/applications/{application_id}/approve"]["post"]["requestBody"]
    schema_ref = approve_body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(spec["components"]["schemas"][schema_ref]["properties"]) == {"amount_fen", "term_months", "rate_bp"}
    assert approve_body.get("required") is not True  # an approval without terms stays possible


def test_a_blank_optional_text_is_not_given_never_a_500(api):
    caller = api()
    product = _product_of(caller)
    response = caller.patch(f"/api/v1/products/{product.id}", {"programme": ""})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["programme"] is None
