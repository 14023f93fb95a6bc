"""The IDOR matrix (issue 7, DESIGN §1): every route of the app and every API operation, called by every
kind of caller — anonymous, enterprise, bank, guarantor, district office, city office, admin — on its own tenant's
objects and on another tenant's, with the outcome each must get:

* allowed: the page or the action's own answer (200, a redirect that is not the login page, or the
  action's validation / conflict answer 400, 409, 422);
* ``login``: 302 to the login page (anonymous callers of any non-public page);
* 403: a role the route is not for;
* 404: another tenant's object, exactly like a missing one (never 403, which would confirm it exists).

The rules are read from ``app.url_map``: a route missing from ACCESS fails the test, so nothing is added
without saying who may use it. Each request runs inside a savepoint that is rolled back, and the
caller's session cookie is put back afterwards, so no call changes what the next one sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from models.base import utcnow
from models.consent import Authorization, AuthorizationRequest
from models.credit import CreditReport, RepairCase
from models.enterprise import CreditCommitment
from models.guarantee import Guarantee
from models.identity import Role
from models.joint import CreditPolicy
from models.lending import FinancingNeed
from models.monitoring import Alert, AlertKind
from models.scoring import ModelVersion, WhitelistStatus, WhitelistVersion
from models.sources import Delivery, PublicCreditEvent, PublicCreditKind, Severity, Source
from models.upstream import OutboxEvent, OutboxStatus
from tests.conftest import TEST_PASSWORD, FreshContextClient, csrf_token
from tests.test_bank_tenancy import API_BODIES
from xinyidai.domain.credit_repair import evidence_dir, evidence_path
from xinyidai.domain.tokens import issue_token

OWN_DISTRICT, OTHER_DISTRICT, CITY = "310115", "310104", "310000"
CALLERS = ("anonymous", "enterprise", "bank", "guarantor", "office", "city_office", "admin")
PUBLIC, ANY_USER, API, API_DOCS = "public", "any user", "api", "api docs"


@dataclass(frozen=True)
class Access:
    """Who may use an endpoint: PUBLIC, ANY_USER, API, API_DOCS or one caller kind (``office`` covers the
    district and the city office). ``other_query`` names a tenant chosen by query string or form field
    rather than in the path (an office asking for another district)."""

    who: str
    other_query: dict | None = None


OTHER_DISTRICT_QUERY = {"district": OTHER_DISTRICT}
ACCESS: dict[str, Access] = {
    # the shell, logging in, health
    "web.index": Access(PUBLIC), "auth.login": Access(PUBLIC), "registration.register": Access(PUBLIC),
    "verify.verify": Access(PUBLIC),  # checking a credit report needs no login (issue 17)
    "health.healthz": Access(PUBLIC), "health.readyz": Access(PUBLIC), "static": Access(PUBLIC),
    "web.home": Access(ANY_USER), "auth.logout": Access(ANY_USER), "auth.change_password": Access(ANY_USER),
    "web.enterprise_home": Access("enterprise"), "web.bank_home": Access("bank"),
    "web.office_home": Access("office"), "web.admin_home": Access("admin"),
    "web.guarantor_home": Access("guarantor"),
    # the platform operator
    "admin.audit_log": Access("admin"), "admin.audit_export": Access("admin"),
    "admin.banks": Access("admin"), "admin.bank": Access("admin"), "admin.deactivate_bank": Access("admin"), "admin.reactivate_bank": Access("admin"),
    "admin.offices": Access("admin"),
    "admin.guarantors": Access("admin"), "admin.guarantor": Access("admin"),
    "admin.deactivate_user": Access("admin"), "admin.reset_password": Access("admin"),
    "admin.models": Access("admin"), "admin.model_version": Access("admin"), "admin.promote_model": Access("admin"),
    "admin.model_card_xlsx": Access("admin"),
    "admin.rollback_model": Access("admin"),
    "admin.deliveries_page": Access("admin"), "admin.delivery": Access("admin"),
    "admin.delivery_rejections": Access("admin"),
    "admin.upstream_page": Access("admin"), "admin.upstream_requeue": Access("admin"),
    # the office: its district's aggregates, whitelist and alerts
    "office.dashboard": Access("office", OTHER_DISTRICT_QUERY),
    "office.dashboard_export": Access("office", OTHER_DISTRICT_QUERY),
    "office.report_page": Access("office"),
    "office.monthly_report": Access("office", OTHER_DISTRICT_QUERY),
    "office.whitelist": Access("office", OTHER_DISTRICT_QUERY),
    "office.set_threshold": Access("office", OTHER_DISTRICT_QUERY),
    "office.draft_whitelist": Access("office", OTHER_DISTRICT_QUERY),
    "office.whitelist_version": Access("office"), "office.confirm_whitelist": Access("office"),
    "office.publish_whitelist": Access("office"), "office.override_whitelist": Access("office"),
    "office.download_whitelist": Access("office"),
    "office.alerts": Access("office"), "office.acknowledge_alert": Access("office"),
    "office.plotly_js": Access("office"),
    "office.repairs": Access("office"), "office.repair_case": Access("office"), "office.repair_outcome": Access("office"),
    "office.repair_evidence": Access("office"),
    # the API's public description
    "xyd-api-api-docs.openapi_json": Access(API_DOCS), "api_docs.interactive_docs": Access(API_DOCS),
    "api_docs.swagger_init": Access(API_DOCS), "api_docs.swagger_asset": Access(API_DOCS),
}
# Whole blueprints with one audience (each endpoint still listed by the URL map, so none is missed).
BLUEPRINT_AUDIENCE = {"enterprise": "enterprise", "bank": "bank", "guarantor": "guarantor", "api": API}


def access_of(endpoint: str) -> Access | None:
    if endpoint in ACCESS:
        return ACCESS[endpoint]
    blueprint = endpoint.partition(".")[0]
    return Access(BLUEPRINT_AUDIENCE[blueprint]) if blueprint in BLUEPRINT_AUDIENCE else None


# ---------------------------------------------------------------- the two tenants of every kind

@pytest.fixture
def world(app, db_session, make_enterprise, make_bank, make_user, make_product, make_application, make_bank_model,
          make_guarantor):
    """Two of everything: enterprises in two districts, two banks, two guarantors, and each one's needs,
    applications, guarantees, authorizations, commitments, staff, tokens, result files, whitelist versions and
    alerts."""
    now = utcnow()
    mine, theirs = make_enterprise(district_code=OWN_DISTRICT), make_enterprise(district_code=OTHER_DISTRICT)
    bank_a, bank_b = make_bank(), make_bank()
    guarantor_a, guarantor_b = make_guarantor(), make_guarantor()
    joint_a, joint_b = make_bank_model(bank_a), make_bank_model(bank_b)  # (sample, model version) of each bank
    product_a, product_b = make_product(bank=bank_a), make_product(bank=bank_b)
    db_session.add_all([CreditPolicy(product_id=p.id, model="platform", min_band="BBB", sales_share_bp=2000)
                        for p in (product_a, product_b)])
    users = {
        "enterprise": make_user(Role.ENTERPRISE, enterprise_uscc=mine.uscc, is_tenant_admin=True),
        "bank": make_user(Role.BANK, bank_id=bank_a.id, is_tenant_admin=True),
        "guarantor": make_user(Role.GUARANTOR, guarantor_id=guarantor_a.id, is_tenant_admin=True),
        "office": make_user(Role.OFFICE, district_code=OWN_DISTRICT),
        "city_office": make_user(Role.OFFICE, district_code=CITY),
        "admin": make_user(Role.ADMIN),
    }
    my_staff = make_user(Role.ENTERPRISE, enterprise_uscc=mine.uscc)
    my_colleague, their_officer = make_user(Role.BANK, bank_id=bank_a.id), make_user(Role.BANK, bank_id=bank_b.id)
    their_staff = make_user(Role.ENTERPRISE, enterprise_uscc=theirs.uscc, is_tenant_admin=True)
    needs = []
    for enterprise, publisher in ((mine, users["enterprise"]), (theirs, their_staff)):
        need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="working_capital",
                             guarantee_types=["信用"], published_by_id=publisher.id)
        db_session.add(need)
        needs.append(need)
    db_session.flush()
    my_application = make_application(product=product_a, need=needs[0])
    their_application = make_application(product=product_b, need=needs[1])
    # each guarantor was asked to guarantee one of them (the matrix only needs the routing, not the states)
    db_session.add_all([Guarantee(application_id=application.id, guarantor_id=guarantor.id,
                                  guarantee_product_id=guarantor.test_product.id, amount_fen=50_000_000)
                        for application, guarantor in ((my_application, guarantor_a), (their_application, guarantor_b))])
    grants, commitments = [], []
    for enterprise, granter, bank in ((mine, users["enterprise"], bank_a), (theirs, their_staff, bank_b)):
        grant = Authorization(uscc=enterprise.uscc, sources=["tax"], all_banks=False, granted_by_id=granter.id,
                              expires_at=now + timedelta(days=30))
        grant.banks.append(bank)
        commitment = CreditCommitment(uscc=enterprise.uscc, text="按时足额纳税，如实报送经营数据。", made_by_id=granter.id)
        db_session.add_all([grant, commitment])
        grants.append(grant)
        commitments.append(commitment)
    db_session.add(ModelVersion(version="matrix-model", path="-", card={}))
    delivery = Delivery(source=Source.TAX, filename="tax_matrix.csv", file_format="csv", sha256="0" * 64, rows=1,
                        rejected=1)
    db_session.add(delivery)
    db_session.flush()
    versions, alerts = [], []
    for district, enterprise in ((OWN_DISTRICT, mine), (OTHER_DISTRICT, theirs)):
        version = WhitelistVersion(district_code=district, model_version="matrix-model", min_grade="BBB",
                                   status=WhitelistStatus.PUBLISHED, published_at=now)  # its list downloads
        alert = Alert(event_key=f"matrix-{district}-{enterprise.uscc}", kind=AlertKind.TAX_ARREARS, uscc=enterprise.uscc,
                      district_code=district, evidence={"months": 3})
        db_session.add_all([version, alert])
        versions.append(version)
        alerts.append(alert)
    reports, records, cases = [], [], []
    for enterprise, granter in ((mine, users["enterprise"]), (theirs, their_staff)):
        report = CreditReport(number=f"XYD20260101M{len(reports)}ATRX", uscc=enterprise.uscc, enterprise_name=enterprise.name,
                              language="zh", window_start=now.date() - timedelta(days=365), window_end=now.date(),
                              sections=["registry"], valid_until=now + timedelta(days=30), digest="0" * 64,
                              code_hash="0" * 64, issued_by_id=granter.id)
        event = PublicCreditEvent(record_id=f"MATRIX-{enterprise.uscc}", uscc=enterprise.uscc,
                                  kind=PublicCreditKind.ADMINISTRATIVE_PENALTY, severity=Severity.GENERAL,
                                  decided_on=now.date() - timedelta(days=200))
        db_session.add_all([report, event])
        db_session.flush()
        case = RepairCase(record_id=event.record_id, uscc=enterprise.uscc, district_code=enterprise.district_code,
                          applied_on=now.date() - timedelta(days=3), applied_by_id=granter.id, commitment_signed=True,
                          evidence_name="receipt.pdf", evidence_type="pdf", evidence_bytes=9, evidence_sha256="a" * 64,
                          due_on=now.date() + timedelta(days=5))
        db_session.add(case)
        db_session.flush()
        evidence = evidence_path(evidence_dir(app.instance_path), case)
        evidence.parent.mkdir(parents=True, exist_ok=True)
        evidence.write_bytes(b"%PDF-1.4\n")
        reports.append(report)
        records.append(event)
        cases.append(case)
    requests = []
    for application, enterprise, bank in ((my_application, mine, bank_a), (their_application, theirs, bank_b)):
        requests.append(AuthorizationRequest(application_id=application.id, bank_id=bank.id, uscc=enterprise.uscc,
                                             sources=["tax"], requested_by_id=users["bank"].id))
    db_session.add_all(requests)
    tokens = [issue_token(db_session, bank, "matrix") for bank in (bank_a, bank_b)]
    parked = db_session.scalar(sa.select(OutboxEvent).where(OutboxEvent.aggregate_id == str(my_application.id)))
    parked.status = OutboxStatus.PARKED  # the operator may requeue it
    results = Path(app.config["XYD_INSTANCE_PATH"]) / "outcome_results"
    for bank, name in ((bank_a, "own-results.csv"), (bank_b, "other-results.csv")):
        (results / str(bank.id)).mkdir(parents=True, exist_ok=True)
        (results / str(bank.id) / name).write_text("line,result\n2,applied\n")
    db_session.commit()

    def pair(own, other):
        return (own.id, other.id)

    # Per caller kind, the value of each URL argument: (its own tenant's object, another tenant's).
    arguments = {
        "enterprise": {"need_id": pair(*needs), "application_id": pair(my_application, their_application),
                       "authorization_id": pair(*grants), "commitment_id": pair(*commitments),
                       "user_id": pair(my_staff, their_staff), "product_id": (product_a.id, product_a.id),
                       "report_id": pair(*reports), "record_id": (records[0].record_id, records[1].record_id),
                       "request_id": pair(*requests)},
        "bank": {"application_id": pair(my_application, their_application), "product_id": pair(product_a, product_b),
                 "token_id": pair(tokens[0].record, tokens[1].record),
                 "name": ("own-results.csv", "other-results.csv"),
                 "officer_id": (users["bank"].id, their_staff.id), "user_id": pair(my_colleague, their_officer),
                 "sample_id": (joint_a[0].id, joint_b[0].id), "version": (joint_a[1].version, joint_b[1].version)},
        "office": {"version_id": pair(*versions), "alert_id": pair(*alerts), "case_id": pair(*cases)},
    }
    arguments["guarantor"] = {"application_id": pair(my_application, their_application),
                              "product_id": pair(guarantor_a.test_product, guarantor_b.test_product)}
    arguments["city_office"] = arguments["office"]
    # The operator is not a tenant: every object is "own" (both sides the same, so only one call each).
    arguments["admin"] = {"bank_id": (bank_a.id, bank_a.id), "guarantor_id": (guarantor_a.id, guarantor_a.id), "version": ("matrix-model", "matrix-model"),
                          "delivery_id": (delivery.id, delivery.id), "user_id": (my_staff.id, my_staff.id),
                          "event_id": (parked.event_id, parked.event_id)}
    return {"users": users, "arguments": arguments, "tokens": [t.token for t in tokens],
            "names": (mine.name, theirs.name), "usccs": (mine.uscc, theirs.uscc)}


# ---------------------------------------------------------------- calling

# "overview" is also the default of /office/dashboard, so /office/dashboard/overview only redirects there.
FIXED_ARGUMENTS = {"view": "banks", "file_format": "csv"}
FILENAMES = {"static": "favicon.svg", "api_docs.swagger_asset": "swagger-ui.css"}


def path_for(rule, values: dict) -> str:
    def value(match):
        name = match.group(1)
        if name == "filename":
            return FILENAMES[rule.endpoint]
        return str(values.get(name, FIXED_ARGUMENTS.get(name)))

    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", value, rule.rule)


def tenant_values(world, caller: str, rule, side: int) -> dict:
    """The URL values a caller uses: its own tenant's objects (side 0) or another tenant's (side 1).
    Callers of another role use the enterprise's own objects (they are refused before any look-up)."""
    table = world["arguments"].get(caller) or world["arguments"]["enterprise"]
    values = {name: pair[side] for name, pair in table.items()}
    for name in rule.arguments - set(values) - set(FIXED_ARGUMENTS) - {"filename"}:
        fallback = next((t[name][0] for t in world["arguments"].values() if name in t), None)
        assert fallback is not None, f"{rule.rule}: teach the matrix about <{name}>"
        values[name] = fallback
    return values


def has_tenant_argument(world, caller: str, rule) -> bool:
    table = world["arguments"].get(caller, {})
    return any(name in table and table[name][0] != table[name][1] for name in rule.arguments)


class Caller:
    """A logged-in browser whose every request is undone afterwards (database and session cookie)."""

    def __init__(self, app, connection, user):
        self.client = FreshContextClient(app, app.response_class, use_cookies=True)
        self.connection = connection
        if user is not None:
            response = self.client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                                        "csrf_token": csrf_token(self.client)})
            assert response.status_code == 302
        self.token = csrf_token(self.client, "/account/password" if user else "/login")

    def call(self, method: str, path: str, *, data: dict | None = None, query: dict | None = None, **kwargs):
        cookie = self.client.get_cookie("session")
        savepoint = self.connection.begin_nested()
        try:
            if method == "GET":
                response = self.client.get(path, query_string=query, **kwargs)
            else:
                form = {"csrf_token": self.token, **(data or {}), **(query or {})}
                response = self.client.open(path, method=method, **({} if "json" in kwargs else {"data": form}),
                                            **kwargs)
            response.get_data()  # read it all, then let go of files a streamed answer holds open
            response.close()
            return response
        finally:
            savepoint.rollback()
            if cookie is not None:
                self.client.set_cookie("session", cookie.value)


def web_rules(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def outcome(response) -> str:
    """What a response amounts to, in the matrix's words."""
    status = response.status_code
    if status == 302 and response.headers["Location"].startswith("/login"):
        return "login"
    if status in (403, 404, 401, 429) or status >= 500:
        return str(status)
    return "allowed"


def expected(access: Access, caller: str, own: bool, tenant_object: bool, endpoint: str) -> str:
    if access.who == PUBLIC:
        return "allowed"
    if caller == "anonymous":
        return "login"
    if access.who == ANY_USER:
        return "login" if endpoint == "auth.logout" else "allowed"  # logging out ends on the login page
    holder = "office" if caller == "city_office" else caller
    if access.who != holder:
        return "403"
    if own or caller == "city_office" or not tenant_object:
        return "allowed"
    return "404"


@pytest.mark.slow
def test_every_route_answers_every_caller_as_its_role_and_tenant_allow(app, world, db_session):
    connection = db_session.get_bind()
    callers = {name: Caller(app, connection, world["users"].get(name)) for name in CALLERS}
    unknown, wrong, checked = [], [], 0
    for rule, method in web_rules(app):
        access = access_of(rule.endpoint)
        if access is None:
            unknown.append(f"{method} {rule.rule} ({rule.endpoint})")
            continue
        if access.who in (API, API_DOCS):
            continue  # the API has its own matrix below
        for name, caller in callers.items():
            sides = [True, False] if (has_tenant_argument(world, name, rule) or access.other_query) else [True]
            for own in sides:
                path = path_for(rule, tenant_values(world, name, rule, 0 if own else 1))
                query = None if own or access.other_query is None or has_tenant_argument(world, name, rule) \
                    else access.other_query
                response = caller.call(method, path, query=query)
                got = outcome(response)
                want = expected(access, name, own, True, rule.endpoint)
                if method == "GET" and want == "allowed" and response.status_code not in (200, 302):
                    got = f"GET answered {response.status_code}"
                if got != want:
                    wrong.append(f"{method} {path}{'?' + str(query) if query else ''} as {name} "
                                 f"({'own' if own else 'other'}): expected {want}, got {got}")
                checked += 1
    assert not unknown, "routes without an entry in ACCESS:\n" + "\n".join(unknown)
    assert not wrong, "\n".join(wrong)
    assert checked > 6 * 80


def test_every_api_operation_answers_only_its_own_banks_token(app, world, db_session):
    connection = db_session.get_bind()
    callers = {name: Caller(app, connection, world["users"].get(name)) for name in CALLERS}
    own_token = world["tokens"][0]
    wrong, operations = [], 0
    for rule, method in web_rules(app):
        access = access_of(rule.endpoint)
        if access is None or access.who not in (API, API_DOCS):
            continue
        values = tenant_values(world, "bank", rule, 0)
        if access.who == API_DOCS:
            for name, caller in callers.items():
                response = caller.call(method, path_for(rule, values))
                if response.status_code != 200:
                    wrong.append(f"{method} {rule.rule} as {name}: {response.status_code}")
            continue
        body = {"officer_id": world["arguments"]["bank"]["officer_id"][0]} if rule.endpoint == "api.reassign" \
            else API_BODIES.get(rule.endpoint)
        headers = {"Idempotency-Key": f"matrix-{rule.endpoint}"}
        for name, caller in callers.items():  # a browser session is no API credential, whatever its role
            response = caller.call(method, path_for(rule, values), json=body, headers=headers) if method != "GET" \
                else caller.call("GET", path_for(rule, values), headers=headers)
            if response.status_code != 401:
                wrong.append(f"{method} {rule.rule} with the session of {name}: {response.status_code}")
        anonymous = callers["anonymous"]
        bearer = {**headers, "Authorization": f"Bearer {own_token}"}
        for side, want in ((0, "allowed"), (1, "404")):  # bank A's token on its own object, then on bank B's
            path = path_for(rule, tenant_values(world, "bank", rule, side))
            response = anonymous.call(method, path, json=body, headers=bearer) if method != "GET" \
                else anonymous.call("GET", path, headers=bearer)
            if not rule.arguments:
                want = "allowed"
            if outcome(response) != want:
                wrong.append(f"{method} {path} with the {'own' if side == 0 else 'other'} bank's token: "
                             f"expected {want}, got {response.status_code} {response.get_data(as_text=True)[:200]}")
            if want == "404" and response.content_type != "application/problem+json":
                wrong.append(f"{method} {path}: 404 is not problem+json")
        operations += 1
    assert not wrong, "\n".join(wrong)
    assert operations >= 15


def test_the_office_sees_aggregates_never_an_enterprise_or_a_single_loan(app, world, db_session):
    """Dashboards, exports and monthly reports of both offices name no enterprise and show no single loan."""
    from models.lending import Application, ApplicationState

    application = db_session.get(Application, world["arguments"]["bank"]["application_id"][0])
    application.state, application.disbursed_amount_fen, application.rate_bp = ApplicationState.DISBURSED, 123_456_789, 385
    application.term_months, application.disbursed_on = 12, utcnow().date()
    db_session.commit()
    connection = db_session.get_bind()
    telltales = [*world["names"], *world["usccs"], "1,234,567.89", "1234567.89", "123456789"]
    for name in ("office", "city_office"):
        caller = Caller(app, connection, world["users"][name])
        pages = ["/office/", "/office/dashboard", "/office/reports", "/office/dashboard/overview/export.csv",
                 "/office/reports/monthly.csv", *(f"/office/dashboard/{view}" for view in
                                                  ("banks", "products", "industries", "sizes"))]
        if name == "city_office":
            pages.append("/office/dashboard/districts")
        for path in pages:
            response = caller.call("GET", path)
            assert response.status_code == 200, (name, path)
            body = response.get_data(as_text=True)
            leaked = [t for t in telltales if t in body]
            assert not leaked, (name, path, leaked)
