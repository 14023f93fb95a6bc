"""Every page of every role, in both languages, over a populated platform (issue 14).

The GET routes are read from ``app.url_map`` (a new page is walked without being listed here); each is
opened by every kind of user it is for, with its URL's ids filled from the data below, in Chinese and in
English. No page may answer 500 (or anything but 200 / a redirect), and an English page shows no Chinese
of the platform's own: every name in the data is Latin-only, so a Chinese character left on an English
page is a label, message or vocabulary term that bypassed the catalogue. (That is how "/office/alerts is
a 500 in English" went unnoticed: the English text said "30% or", which Jinja's gettext formats.)
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.base import utcnow
from models.consent import Authorization
from models.credit import CreditReport, RepairCase, RepairState
from models.identity import Role
from models.joint import CreditPolicy
from models.lending import Channel, GuaranteeType, LoanPerformance, LoanStatus
from models.monitoring import Alert, AlertKind
from models.scoring import ModelVersion, Score, ScoreReason, WhitelistEntry, WhitelistStatus, WhitelistVersion
from models.sources import Delivery, DeliveryRejection, PublicCreditEvent, PublicCreditKind, Severity, Source
from tests.conftest import TEST_PASSWORD, FreshContextClient, csrf_token
from tests.test_english_pages import chinese_on
from tests.test_office_metrics import lend  # noqa: F401 - the fixture
from xinyidai.domain import guarantees
from xinyidai.domain.credit_repair import evidence_dir, evidence_path
from xinyidai.domain.lifecycle import Actor
from xinyidai.domain.scope import add_months, shanghai_month
from xinyidai.domain.tokens import issue_token

DISTRICT, CITY = "310115", "310000"
OFFICE_VIEWS = ("overview", "banks", "products", "industries", "sizes", "districts", "guarantors")
# What each URL argument may be, per role; a route is opened once per combination.
FIXED = {"view": OFFICE_VIEWS, "file_format": ("csv", "xlsx"), "filename": ("favicon.svg",)}
# Endpoints that are not pages (a JS bundle) or that only one role opens are still walked; these are
# not HTML, so only their status is checked.
ROLE_OF_PREFIX = {"/enterprise": "enterprise", "/bank": "bank", "/office": "office", "/admin": "admin",
                  "/guarantor": "guarantor"}
ANY_USER_PATHS = ("/home", "/account/password")
# A checkbox submits a stored code (guarantee types are stored as Chinese words); only its label shows.
INPUT_VALUE = re.compile(r'(<input\b[^>]*?)\svalue="[^"]*"')
PUBLIC_PATHS = ("/", "/login", "/register", "/healthz", "/readyz", "/static/<path:filename>", "/verify")


@pytest.fixture
def platform(app, db_session, make_enterprise, make_bank, make_user, make_product, lend,  # noqa: F811
             make_bank_model, make_guarantor):
    """A district with eight Latin-named borrowers in every lifecycle state over three months, month-end
    reports, scores and a published whitelist, alerts of every kind, a delivery with rejections, tokens
    and an outcome result file: each portal's pages have something to show."""
    bank = make_bank(name_zh="Harbour Bank", name_en="Harbour Bank")
    product = make_product(bank=bank, code="TECH1", name_zh="Tech Loan", name_en="Tech Loan", programme="Tech Plan",
                           eligible_districts=[DISTRICT], eligible_industries=["I", "C"], min_grade="B")
    users = {"bank": make_user(Role.BANK, bank_id=bank.id, is_tenant_admin=True, display_name="Alex Officer")}
    make_user(Role.BANK, bank_id=bank.id, display_name="Sam Colleague")
    this_month = shanghai_month()
    outcomes = ["repaying", "overdue", "defaulted", "repaying", "repaying", "declined", "claimed", "approved",
                "matched", "approved_then_withdrawn"]
    sizes = ["小", "微", "中", "小", "微", "小", "小", "大", "微", "小"]
    enterprises, applications = [], {}
    for n, (outcome, size) in enumerate(zip(outcomes, sizes, strict=True)):
        enterprise = make_enterprise(name=f"Latin Widgets {n} Ltd", district_code=DISTRICT, size_class=size,
                                     industry_section="I" if n % 2 else "C")
        enterprises.append(enterprise)
        month = add_months(this_month, -(n % 3))
        when = datetime(month.year, month.month, 2, 3, tzinfo=UTC)
        applications[outcome] = lend(enterprise, product, when, outcome, first_loan=n % 2 == 0)
    owner = make_user(Role.ENTERPRISE, enterprise_uscc=enterprises[0].uscc, is_tenant_admin=True,
                      display_name="Kim Owner")
    staff = make_user(Role.ENTERPRISE, enterprise_uscc=enterprises[0].uscc, display_name="Lee Staff")
    users["enterprise"] = owner
    own = {outcome: lend(enterprises[0], product, datetime(this_month.year, this_month.month, 1, 3, tzinfo=UTC),
                         outcome) for outcome in ("matched", "claimed", "declined", "approved")}
    for application in [*applications.values(), *own.values()]:
        application.need.purpose_detail = "Buy steel"
    last_month_end = this_month - timedelta(days=1)
    for outcome in ("repaying", "overdue", "defaulted"):
        loan = applications[outcome]
        if loan.disbursed_on and loan.disbursed_on <= last_month_end:
            db_session.add(LoanPerformance(application_id=loan.id, as_of=last_month_end, outstanding_fen=50_000_000,
                                           days_past_due=40 if outcome == "overdue" else 0,
                                           status=LoanStatus.OVERDUE if outcome == "overdue" else LoanStatus.REPAYING))
    grant = Authorization(uscc=enterprises[0].uscc, sources=["tax", "social_insurance", "public_credit"],
                          all_banks=True, granted_by_id=owner.id, granted_at=utcnow() - timedelta(hours=1),
                          expires_at=utcnow() + timedelta(days=90))
    db_session.add(grant)
    db_session.add(ModelVersion(version="pages-model", path="-", card={}, is_active=True))
    db_session.flush()
    scores = []
    for n, enterprise in enumerate(enterprises):
        score = Score(uscc=enterprise.uscc, model_version="pages-model", as_of=last_month_end, pd_12m=0.01 + n / 100,
                      points=720 - 10 * n, grade=("AAA", "AA", "A", "BBB", "BB")[n % 5], gates_passed=n != 4,
                      failed_gates=[] if n != 4 else [{"gate": "tax_rating_d"}])
        score.reasons = [ScoreReason(rank=1, family="tax", feature="sales_trend", contribution=-0.3),
                         ScoreReason(rank=2, family="employment", feature="headcount_trend", contribution=0.2)]
        db_session.add(score)
        scores.append(score)
    db_session.flush()
    published = WhitelistVersion(district_code=DISTRICT, model_version="pages-model", min_grade="A",
                                 status=WhitelistStatus.PUBLISHED, confirmed_by_id=None,
                                 confirmed_at=utcnow() - timedelta(days=2), published_at=utcnow() - timedelta(days=1))
    draft = WhitelistVersion(district_code=DISTRICT, model_version="pages-model", min_grade="BBB")
    db_session.add_all([published, draft])
    db_session.flush()
    for version, upto in ((published, 3), (draft, 4)):
        db_session.add_all(WhitelistEntry(whitelist_version_id=version.id, uscc=e.uscc, score_id=s.id, grade=s.grade,
                                          change="added") for e, s in list(zip(enterprises, scores, strict=True))[:upto])
    loan = applications["repaying"]
    evidence = {
        AlertKind.GRADE_DROP: {"from_grade": "AA", "to_grade": "BB", "notches": 3, "from_score_id": scores[0].id,
                               "to_score_id": scores[0].id, "from_scored_at": "2026-01-31T16:00:00+00:00",
                               "to_scored_at": "2026-02-28T16:00:00+00:00", "model_version": "pages-model",
                               "disbursed_on": "2026-01-05"},
        AlertKind.DISHONEST_RECORD: {"record_id": "R-1", "record_kind": "失信被执行人", "severity": "严重",
                                     "decided_on": "2026-02-01", "disbursed_on": "2026-01-05"},
        AlertKind.SERIOUS_PENALTY: {"record_id": "R-2", "record_kind": "行政处罚", "severity": "严重",
                                    "decided_on": "2026-02-01", "disbursed_on": "2026-01-05"},
        AlertKind.HEADCOUNT_COLLAPSE: {"from_month": "2026-01", "to_month": "2026-04", "from_headcount": 40,
                                       "to_headcount": 20, "drop": 0.5},
        AlertKind.UTILITY_ARREARS: {"since_month": "2026-03", "months": {"2026-03": {"electricity": {
            "billed_fen": 10_000, "paid_fen": 0, "days_late": 40}}}},
        AlertKind.TAX_ARREARS: {"since_month": "2026-03", "months": ["2026-03"]},
    }
    alerts = [Alert(event_key=f"pages-{kind.value}", kind=kind, uscc=loan.uscc, application_id=loan.id, bank_id=bank.id,
                    district_code=DISTRICT, evidence={**detail, "application_id": loan.id})
              for kind, detail in evidence.items()]
    db_session.add_all(alerts)
    delivery = Delivery(source=Source.TAX, filename="tax_pages.csv", file_format="csv", sha256="0" * 64, rows=3,
                        inserted=1, rejected=2, received_by="ops")
    db_session.add(delivery)
    db_session.flush()
    db_session.add_all([DeliveryRejection(delivery_id=delivery.id, line=2, field="uscc", reason="check digit wrong"),
                        DeliveryRejection(delivery_id=delivery.id, line=3, field="month", reason="not a month")])
    token = issue_token(db_session, bank, "pages")
    results = Path(app.config["XYD_INSTANCE_PATH"]) / "outcome_results" / str(bank.id)
    results.mkdir(parents=True, exist_ok=True)
    (results / "pages-results.csv").write_text("line,result\n2,applied\n")
    # Credit repair (issue 17): an unrepaired record with an open case, a repaired one with its closed case, and a
    # report the enterprise issued.
    today = utcnow().date()
    records = [PublicCreditEvent(record_id=f"PAGES-PC-{n}", uscc=enterprises[0].uscc, kind=kind, severity=severity,
                                 decided_on=today - timedelta(days=300), repaired_on=repaired)
               for n, (kind, severity, repaired) in enumerate((
                   (PublicCreditKind.ADMINISTRATIVE_PENALTY, Severity.GENERAL, None),
                   (PublicCreditKind.DISHONEST_DEBTOR, Severity.SERIOUS, today - timedelta(days=10)),
                   (PublicCreditKind.ABNORMAL_OPERATION, Severity.GENERAL, None)))]
    db_session.add_all(records)
    db_session.flush()
    cases = [RepairCase(record_id=records[0].record_id, uscc=enterprises[0].uscc, district_code=DISTRICT,
                        applied_on=today - timedelta(days=20), applied_by_id=owner.id, commitment_signed=True,
                        evidence_name="receipt.pdf", evidence_type="pdf", evidence_bytes=2048,
                        evidence_sha256="b" * 64, due_on=today - timedelta(days=5)),
             RepairCase(record_id=records[1].record_id, uscc=enterprises[0].uscc, district_code=DISTRICT,
                        state=RepairState.REPAIRED, applied_on=today - timedelta(days=30), applied_by_id=owner.id,
                        commitment_signed=True, evidence_name="court.png", evidence_type="png", evidence_bytes=4096,
                        evidence_sha256="e" * 64, due_on=today - timedelta(days=20), decided_on=today - timedelta(days=10),
                        closed_via="office", closed_at=utcnow(), decision_note="Court confirmed the payment")]
    db_session.add_all(cases)
    db_session.add(CreditReport(number="XYD20260101PAGES2", uscc=enterprises[0].uscc, enterprise_name=enterprises[0].name,
                                language="en", window_start=today - timedelta(days=365), window_end=today,
                                sections=["registry", "public_credit"], valid_until=utcnow() + timedelta(days=30),
                                digest="c" * 64, code_hash="d" * 64, issued_by_id=owner.id))
    db_session.flush()
    for case in cases:
        evidence_file = evidence_path(evidence_dir(app.instance_path), case)
        evidence_file.parent.mkdir(parents=True, exist_ok=True)
        evidence_file.write_bytes(b"%PDF-1.4\n")
    users["office"] = make_user(Role.OFFICE, district_code=DISTRICT, display_name="Dana District")
    users["city_office"] = make_user(Role.OFFICE, district_code=CITY, display_name="Chris City")
    users["admin"] = make_user(Role.ADMIN, display_name="Ops Admin")
    # 银担合作: a product that requires a guarantor, one application waiting for the guarantee, one guaranteed
    guarantor = make_guarantor(name_zh="Harbour Guarantee", name_en="Harbour Guarantee")
    users["guarantor"] = make_user(Role.GUARANTOR, guarantor_id=guarantor.id, is_tenant_admin=True,
                                   display_name="Gale Guarantor")
    guaranteed_product = make_product(bank=bank, code="GUAR1", name_zh="Guaranteed Loan", name_en="Guaranteed Loan",
                                      guarantor_required=True, guarantee_type=GuaranteeType.GUARANTEE_COMPANY)
    guaranteed = []
    for n, accept in ((2, False), (3, True)):
        application = lend(enterprises[n], guaranteed_product, datetime(this_month.year, this_month.month, 1, 3,
                                                                         tzinfo=UTC), "claimed")
        guarantees.request_guarantee(db_session, application, guarantor.test_product.id, Actor(Channel.WEB))
        if accept:
            guarantees.accept(db_session, application, guarantor.id, Actor(Channel.WEB), fee_rate_bp=80,
                              coverage_bp=7000)
        guaranteed.append(application)
    db_session.commit()
    enterprise_values = {"need_id": [a.need_id for a in own.values()], "application_id": [a.id for a in own.values()],
                         "authorization_id": [grant.id], "user_id": [staff.id]}
    sample, model = make_bank_model(bank)  # the modelling sandbox: a sample with a rejected row, a model version
    sample.rejections = [{"line": 3, "field": "outcome", "reason": "结果应为 0（正常）或 1（违约）",
                          "reason_en": "the outcome must be 0 (repaid) or 1 (defaulted)"}]
    model.report = {"splits": {"oot": {"rows": 40, "enterprises": 40, "defaults": 6, "auc": 0.71, "ks": 0.4,
                                       "gini": 0.42}},
                    "lift": [{"band": 1, "count": 8, "bads": 3, "bad_rate": 0.375, "cumulative_capture": 0.5,
                              "ks": 0.3}, {"band": 2, "suppressed": True}],
                    "calibration": [{"bin": 1, "count": 8, "predicted": 0.2, "observed": 0.25}],
                    "psi": {"score": 0.05, "families": {"tax": 0.02}, "population": 100},
                    "importance": [{"family": "tax", "share": 0.6}], "beats": {"platform": True, "woe": False}}
    db_session.add(CreditPolicy(product_id=product.id, model="platform", min_band="BBB", sales_share_bp=1500))
    db_session.commit()
    bank_values = {"application_id": [a.id for a in [*applications.values(), *guaranteed]],
                   "product_id": [product.id, guaranteed_product.id],
                   "token_id": [token.record.id], "name": ["pages-results.csv"], "sample_id": [sample.id],
                   "version": [model.version]}
    office_values = {"version_id": [published.id, draft.id], "alert_id": [a.id for a in alerts],
                     "case_id": [c.id for c in cases]}
    admin_values = {"bank_id": [bank.id], "version": ["pages-model"], "delivery_id": [delivery.id],
                    "user_id": [staff.id], "guarantor_id": [guarantor.id]}
    guarantor_values = {"application_id": [a.id for a in guaranteed], "product_id": [guarantor.test_product.id]}
    # a draft has no published list to download: its download answers like a missing page, by design
    not_pages = {f"/office/whitelist/versions/{draft.id}/list.csv"}
    return {"users": users, "not_pages": not_pages, "values": {"enterprise": enterprise_values, "bank": bank_values, "office": office_values,
                                       "city_office": office_values, "admin": admin_values,
                                       "guarantor": guarantor_values}}


def callers_of(rule) -> list[str]:
    """Who opens a route: its portal's role (both offices for /office), every user, or a visitor."""
    if rule.rule in PUBLIC_PATHS:
        return ["anonymous"]
    if rule.rule in ANY_USER_PATHS:
        return ["enterprise", "bank", "office", "admin", "guarantor"]
    prefix = next((p for p in ROLE_OF_PREFIX if rule.rule.startswith(p + "/")), None)
    if prefix is None:
        return []
    role = ROLE_OF_PREFIX[prefix]
    return ["office", "city_office"] if role == "office" else [role]


def paths_of(rule, values: dict) -> list[str]:
    names = sorted(rule.arguments)
    choices = []
    for name in names:
        options = values.get(name) or FIXED.get(name)
        assert options, f"{rule.rule}: teach test_every_page about <{name}>"
        choices.append(options)
    paths = []
    for combination in itertools.product(*choices):
        chosen = dict(zip(names, combination, strict=True))
        paths.append(re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m, chosen=chosen: str(chosen[m.group(1)]), rule.rule))
    return paths


def logged_in(app, user) -> FreshContextClient:
    client = FreshContextClient(app, app.response_class, use_cookies=True)
    if user is not None:
        response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                               "csrf_token": csrf_token(client)})
        assert response.status_code == 302
    return client


@pytest.mark.slow
def test_every_page_of_every_role_opens_in_both_languages_and_english_shows_no_chinese(app, platform):
    clients = {name: logged_in(app, platform["users"].get(name)) for name in
               ("anonymous", "enterprise", "bank", "office", "city_office", "admin", "guarantor")}
    failures, leaks, opened = [], [], 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith("/api"):
            continue  # the API's documents are checked by tests/test_api_schemathesis.py
        for caller in callers_of(rule):
            for path in paths_of(rule, platform["values"].get(caller, {})):
                if "/dashboard/districts" in path and caller != "city_office" or path in platform["not_pages"]:
                    continue  # the comparison of districts is the city office's
                for language in ("zh", "en"):
                    response = clients[caller].get(path, query_string={"lang": language})
                    body = response.get_data(as_text=response.mimetype.startswith("text/"))
                    response.close()
                    opened += 1
                    if response.status_code not in (200, 302, 308):
                        failures.append(f"{caller} GET {path}?lang={language}: {response.status_code}")
                        continue
                    if language == "en" and response.status_code == 200 and response.mimetype == "text/html":
                        found = chinese_on(INPUT_VALUE.sub(r"\1", body))
                        if found:
                            leaks.append(f"{caller} {path}: " + " | ".join(found[:4]))
    assert not failures, "\n".join(failures)
    assert not leaks, f"{len(leaks)} English pages show Chinese:\n" + "\n".join(leaks)
    assert opened > 150


def test_every_template_string_survives_jinjas_percent_formatting_in_both_languages():
    """Jinja's gettext always applies ``%`` to the translated text, with or without variables: a bare "%"
    in a template string (Chinese or English) is a format code and the page a 500. Python code formats
    only when given variables, so only strings with placeholders are checked there."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.pofile import read_po

    from tests.test_english_catalogue import CATALOGUE, ROOT

    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle, locale="en")
    in_templates = {message if isinstance(message, str) else message[0] for *_where, message, _c, _x in
                    extract_from_dir(str(ROOT / "templates"), [("**.html", "jinja2")], {},
                                     keywords={**DEFAULT_KEYWORDS, "_l": None})}
    broken = []
    for message in catalogue:
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        targets = message.string if isinstance(message.string, tuple) else (message.string,)
        names = dict.fromkeys(re.findall(r"%\((\w+)\)", source), 1)
        if source not in in_templates and not names:
            continue
        for text in (source, *targets):
            try:
                text % names  # noqa: B018 - the formatting is the check
            except (TypeError, ValueError, KeyError) as error:
                broken.append(f"{text[:60]!r}: {error}")
    assert not broken, "\n".join(broken)
