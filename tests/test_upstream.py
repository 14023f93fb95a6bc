"""Reporting up to the city node against a real receiver on loopback (tests/upstream_receiver.py), which
validates every message against the schemas: exactly once, in order per aggregate, nothing from a
rolled-back change; 500s and timeouts retried later; a poison event parked while the others flow."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from jsonschema import Draft202012Validator

from models.base import SHANGHAI, utcnow
from models.identity import Role
from models.lending import Application, FinancingNeed
from models.upstream import OutboxEvent, OutboxStatus, Reconciliation
from tests.conftest import csrf_token
from tests.upstream_receiver import running_receiver
from xinyidai.domain.lifecycle import DECLINE_REASONS
from xinyidai.domain.tokens import issue_token
from xinyidai.upstream import contract

# Disbursed today (a loan cannot be dated before its claim): the figures tested are this month's.
TODAY = utcnow().astimezone(SHANGHAI).date()
MONTH = f"{TODAY:%Y-%m}"
LOAN = {"amount_fen": 40_000_000, "rate_bp": 385, "term_months": 12, "disbursed_on": TODAY.isoformat(),
        "guarantee_type": "信用"}


def outbox(db_session, **where) -> list[OutboxEvent]:
    query = sa.select(OutboxEvent).order_by(OutboxEvent.id)
    for key, value in where.items():
        query = query.where(getattr(OutboxEvent, key) == value)
    return list(db_session.scalars(query))


@pytest.fixture
def receiver(app, monkeypatch):
    with running_receiver() as running:
        monkeypatch.setitem(app.config, "XYD_UPSTREAM_URL", running.url)
        monkeypatch.setitem(app.config, "XYD_UPSTREAM_BACKOFF_SECONDS", 0)
        monkeypatch.setitem(app.config, "XYD_UPSTREAM_TIMEOUT_SECONDS", 1)
        yield running


@pytest.fixture
def push(cli):
    def run(*args):
        return cli.invoke(args=["upstream", "push", *args])
    return run


@pytest.fixture
def bank_api(client, db_session):
    """bank_api(bank).post(path, json, key) as the bank's core system with a bearer token."""

    class Caller:
        def __init__(self, bank):
            self.token = issue_token(db_session, bank, "core banking").token
            db_session.commit()

        def post(self, path, json=None, key="k"):
            return client.post(path, json=json, headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": key})

    return Caller


def lend(api, application_id: int) -> None:
    """Claim, approve, disburse and report repaying through the bank API."""
    base = f"/api/v1/applications/{application_id}"
    for rule, body in (("claim", None), ("approve", None), ("disburse", LOAN), ("repayment", {"status": "repaying"})):
        response = api.post(f"{base}/{rule}", body, key=f"{rule}-{application_id}")
        assert response.status_code == 200, response.get_data(as_text=True)


# ---------------------------------------------------------------- the contract

def test_every_schema_is_draft_2020_12_and_names_every_event_type_and_reason_code():
    for name in contract.schema_names():
        Draft202012Validator.check_schema(contract.schema(name))
    envelope = contract.schema("envelope")
    assert set(envelope["properties"]["event_type"]["enum"]) == set(contract.SCHEMA_OF)
    decision = contract.schema("decision")["properties"]["payload"]["properties"]["reason_code"]["enum"]
    assert set(decision) == set(DECLINE_REASONS)
    assert contract.problems({"event_type": "loan.disbursed"})  # an empty message is not valid
    assert contract.problems({"event_type": "no.such"})


def test_a_published_need_goes_up_with_its_terms_and_no_personal_data(client, db_session, make_user, login,
                                                                     receiver, push):
    owner = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    login(owner)
    form = {"amount": "200", "term_months": "12", "purpose": "设备购置", "purpose_detail": "联系张三 13800000000",
            "guarantee_types": ["信用"], "urgency": "high", "contact_preference": "电话", "open_to_all_banks": "1",
            "max_contacts": "", "csrf_token": csrf_token(client, "/enterprise/needs/new")}
    assert client.post("/enterprise/needs/new", data=form).status_code == 302
    result = push()
    assert result.exit_code == 0, result.output
    [message] = [m for m in receiver.stored if m["event_type"] == "need.published"]
    payload = message["payload"]
    assert payload["uscc"] == owner.enterprise_uscc
    assert payload["amount_fen"] == 2_000_000_00
    assert payload["term_months"] == 12
    assert message["district_code"] == "310115"
    assert message["schema_version"] == "1.0"
    assert "13800000000" not in str(message)
    assert "张三" not in str(message)
    assert "电话" not in str(message)
    assert receiver.invalid == []


def test_committed_changes_arrive_exactly_once_in_order_per_aggregate(db_session, make_application, make_bank,
                                                                      make_product, bank_api, receiver, push):
    bank = make_bank()
    applications = [make_application(product=make_product(bank=bank)) for _ in range(3)]
    db_session.commit()
    api = bank_api(bank)
    for application in applications:
        lend(api, application.id)
    # a retried report with the same key changes nothing and adds no event
    assert api.post(f"/api/v1/applications/{applications[0].id}/claim", key=f"claim-{applications[0].id}").status_code == 200
    committed = outbox(db_session)
    assert len(committed) == 3 * 5  # matched, claimed, approved, disbursed, repaying
    assert push().exit_code == 0
    assert push().exit_code == 0  # nothing left: nothing resent
    assert sorted(receiver.ids) == sorted(e.event_id for e in committed)
    assert max(receiver.posts.values()) == 1
    assert receiver.out_of_order() == []
    types = [m["event_type"] for m in receiver.stored if m["aggregate"]["id"] == str(applications[1].id)]
    assert types == ["match.created", "application.claimed", "application.approved", "loan.disbursed",
                     "loan.repayment_status"]
    disbursed = next(m for m in receiver.stored if m["event_type"] == "loan.disbursed")["payload"]
    assert (disbursed["amount_fen"], disbursed["rate_bp"], disbursed["term_months"], disbursed["guarantee_type"],
            disbursed["first_loan"]) == (40_000_000, 385, 12, "信用", True)
    assert {e.status for e in outbox(db_session)} == {OutboxStatus.SENT}


def test_a_rolled_back_change_sends_nothing(db_session, make_application, make_bank, make_product, bank_api,
                                            receiver, push):
    bank = make_bank()
    application = make_application(product=make_product(bank=bank))
    db_session.commit()
    api = bank_api(bank)
    lend(api, application.id)
    before = len(outbox(db_session))
    # the state moves (overdue), then the month-end row is refused: the whole report is rolled back
    refused = api.post(f"/api/v1/applications/{application.id}/repayment",
                       {"status": "overdue", "days_past_due": 5, "as_of": (TODAY - timedelta(days=1)).isoformat(), "outstanding_fen": 1}, key="x")
    assert refused.status_code == 422
    assert len(outbox(db_session)) == before
    assert push().exit_code == 0
    assert "overdue" not in str([m["payload"].get("status") for m in receiver.stored])
    assert len(receiver.stored) == before


def test_a_decline_carries_its_reason_code_and_not_the_banks_words(db_session, make_application, make_bank,
                                                                   make_product, bank_api, receiver, push):
    bank = make_bank()
    application = make_application(product=make_product(bank=bank))
    db_session.commit()
    api = bank_api(bank)
    assert api.post(f"/api/v1/applications/{application.id}/claim", key="c").status_code == 200
    assert api.post(f"/api/v1/applications/{application.id}/decline",
                    {"reason_code": "credit_record", "reason_text": "法人王五有失信记录"}, key="d").status_code == 200
    assert push().exit_code == 0
    declined = next(m for m in receiver.stored if m["event_type"] == "application.declined")
    assert declined["payload"]["reason_code"] == "credit_record"
    assert "王五" not in str(declined)


def test_receiver_500_and_timeouts_are_retried_later_without_duplicates(db_session, app, make_application, receiver,
                                                                        push, monkeypatch):
    applications = [make_application() for _ in range(4)]
    db_session.commit()
    receiver.behaviour.fail_next = 1
    receiver.behaviour.stall_next = 1
    receiver.behaviour.stall_seconds = 2  # past the client's 1 s timeout
    monkeypatch.setitem(app.config, "XYD_UPSTREAM_BACKOFF_SECONDS", 600)
    first = push()
    assert first.exit_code == 1  # the unit fails so the operator sees it; the events stay pending
    assert "failed 2" in first.output
    failing = outbox(db_session, status=OutboxStatus.PENDING)
    waiting = [e for e in failing if e.attempts == 1]
    assert len(waiting) == 2
    assert all(e.next_attempt_at > utcnow() + timedelta(seconds=500) for e in waiting)
    assert "HTTP 500" in " ".join(e.last_error for e in waiting)
    assert "Timeout" in " ".join(e.last_error for e in waiting)
    assert len(receiver.stored) == 2  # the other aggregates went through
    second = push()
    assert "waiting 2" in second.output
    assert len(receiver.stored) == 2
    for event in waiting:  # their retry time comes
        event.next_attempt_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert push().exit_code == 0
    assert sorted(receiver.ids) == sorted(e.event_id for e in outbox(db_session))
    assert len(receiver.ids) == len(set(receiver.ids)) == len(applications)
    assert {e.status for e in outbox(db_session)} == {OutboxStatus.SENT}


def test_a_poison_event_is_parked_with_the_reason_and_blocks_only_its_own_aggregate(
        db_session, make_application, make_bank, make_product, bank_api, receiver, push, client, make_user, login):
    bank = make_bank()
    poisoned, healthy = make_application(product=make_product(bank=bank)), make_application(product=make_product(bank=bank))
    db_session.commit()
    [poison] = outbox(db_session, aggregate_id=str(poisoned.id))
    receiver.behaviour.reject = {poison.event_id}
    api = bank_api(bank)
    for application in (poisoned, healthy):
        assert api.post(f"/api/v1/applications/{application.id}/claim", key=f"c{application.id}").status_code == 200
    result = push()
    assert result.exit_code == 0
    assert "parked 1" in result.output
    assert "waiting 1" in result.output
    assert [m["aggregate"]["id"] for m in receiver.stored] == [str(healthy.id)] * 2
    db_session.expire_all()
    parked = db_session.get(OutboxEvent, poison.id)
    assert parked.status is OutboxStatus.PARKED
    assert "unknown record" in parked.last_error
    # the later claim of the poisoned application waits behind it
    assert [e.status for e in outbox(db_session, aggregate_id=str(poisoned.id))] == [OutboxStatus.PARKED,
                                                                                    OutboxStatus.PENDING]
    # the admin sees it, with the receiver's reason
    login(make_user(Role.ADMIN))
    page = client.get("/admin/upstream").get_data(as_text=True)
    assert poison.event_id in page
    assert "unknown record" in page
    # once the city node fixed its side, requeueing sends it and then the one behind it
    receiver.behaviour.reject = set()
    assert client.post(f"/admin/upstream/{poison.event_id}/requeue",
                       data={"csrf_token": csrf_token(client, "/admin/upstream")}).status_code == 302
    assert push().exit_code == 0
    assert receiver.out_of_order() == []
    assert len(receiver.stored) == 4


def test_an_event_that_breaks_the_contract_is_parked_before_it_is_sent(db_session, make_application, receiver, push):
    make_application()
    db_session.commit()
    [event] = outbox(db_session)
    event.message = {**event.message, "payload": {**event.message["payload"], "uscc": "not a code"}}
    db_session.commit()
    assert push().exit_code == 0
    assert receiver.posts == {}
    assert db_session.get(OutboxEvent, event.id).status is OutboxStatus.PARKED
    assert "invalid against the contract" in db_session.get(OutboxEvent, event.id).last_error


def test_a_bearer_token_is_sent_and_a_refusal_of_it_is_retried_not_parked(app, db_session, make_application,
                                                                          receiver, push, monkeypatch):
    make_application()
    db_session.commit()
    receiver.behaviour.token = "city-node-token"
    assert push().exit_code == 1  # no token: 401, retried later (not the event's fault)
    assert outbox(db_session)[0].status is OutboxStatus.PENDING
    monkeypatch.setitem(app.config, "XYD_UPSTREAM_TOKEN", "city-node-token")
    assert push().exit_code == 0
    assert len(receiver.stored) == 1


def test_plain_http_to_a_remote_host_is_refused(app, cli, monkeypatch):
    monkeypatch.setitem(app.config, "XYD_UPSTREAM_URL", "http://city-node.example/xyd")
    result = cli.invoke(args=["upstream", "push"])
    assert result.exit_code == 2
    assert "https" in result.output


# ---------------------------------------------------------------- whitelist, figures, reconciliation

def test_monthly_figures_go_up_and_reconcile_lists_every_difference(db_session, make_application, make_bank,
                                                                    make_product, bank_api, receiver, push, cli,
                                                                    client, make_user, login):
    bank = make_bank()
    applications = [make_application(product=make_product(bank=bank)) for _ in range(6)]
    db_session.commit()
    api = bank_api(bank)
    for application in applications[:5]:
        lend(api, application.id)
    queued = cli.invoke(args=["upstream", "figures", "--month", MONTH, "--district", "310115"])
    assert queued.exit_code == 0, queued.output
    assert push().exit_code == 0
    [figures] = [m for m in receiver.stored if m["event_type"] == "figures.monthly"]
    assert figures["payload"]["figures"]["disbursed"] == 5
    assert figures["payload"]["figures"]["disbursed_amount"] == 5 * 40_000_000
    agreed = cli.invoke(args=["upstream", "reconcile", "--month", MONTH, "--district", "310115"])
    assert agreed.exit_code == 0
    assert "agrees" in agreed.output
    lend(api, applications[5].id)  # a loan of November reported after the figures went up
    differs = cli.invoke(args=["upstream", "reconcile", "--month", MONTH, "--district", "310115"])
    assert differs.exit_code == 1
    assert "disbursed: receiver 5, platform 6" in differs.output
    assert f"disbursed_amount: receiver {5 * 40_000_000}, platform {6 * 40_000_000}" in differs.output
    last = db_session.scalar(sa.select(Reconciliation).order_by(Reconciliation.id.desc()))
    assert {d["figure"] for d in last.differences} >= {"disbursed", "disbursed_amount"}
    login(make_user(Role.ADMIN))
    page = client.get("/admin/upstream").get_data(as_text=True)
    assert MONTH in page
    assert "disbursed_amount" in page


def test_reconcile_says_when_the_receiver_holds_nothing(db_session, receiver, cli):
    result = cli.invoke(args=["upstream", "reconcile", "--month", "2026-10", "--district", "310104"])
    assert result.exit_code == 1
    assert "holds no figures" in result.output


def test_an_edited_and_a_withdrawn_need_follow_the_published_one(client, db_session, make_user, login, receiver, push):
    owner = make_user(Role.ENTERPRISE, is_tenant_admin=True)
    login(owner)
    form = {"amount": "200", "term_months": "12", "purpose": "设备购置", "purpose_detail": "",
            "guarantee_types": ["信用"], "urgency": "high", "contact_preference": "电话", "open_to_all_banks": "1",
            "max_contacts": ""}
    assert client.post("/enterprise/needs/new", data={**form, "csrf_token": csrf_token(client, "/enterprise/needs/new")}).status_code == 302
    need = db_session.scalar(sa.select(FinancingNeed).where(FinancingNeed.uscc == owner.enterprise_uscc))
    edit = f"/enterprise/needs/{need.id}/edit"
    assert client.post(edit, data={**form, "amount": "300", "csrf_token": csrf_token(client, edit)}).status_code == 302
    page = f"/enterprise/needs/{need.id}"
    assert client.post(f"{page}/withdraw", data={"csrf_token": csrf_token(client, page)}).status_code == 302
    assert push().exit_code == 0
    needs = [m for m in receiver.stored if m["aggregate"]["type"] == "need"]
    assert [(m["event_type"], m["payload"]["amount_fen"], m["aggregate"]["sequence"]) for m in needs] == [
        ("need.published", 200_000_000, 1), ("need.updated", 300_000_000, 2), ("need.withdrawn", 300_000_000, 3)]


def test_no_match_row_without_its_event(db_session, make_application):
    application = make_application()
    db_session.flush()
    [event] = outbox(db_session)
    assert (event.event_type, event.aggregate_id, event.sequence) == ("match.created", str(application.id), 1)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Application)) >= 1
    assert date.fromisoformat(event.message["occurred_at"][:10]) <= utcnow().date()


def test_a_lifecycle_step_without_an_event_type_of_its_own_still_goes_up(db_session, make_application, make_bank,
                                                                         make_product, bank_api, receiver, push,
                                                                         monkeypatch):
    from xinyidai.domain import upstream

    # as if `approved` were a state added to the lifecycle after this contract version
    monkeypatch.delitem(upstream.EVENT_OF_STATE, upstream.S.APPROVED)
    bank = make_bank()
    application = make_application(product=make_product(bank=bank))
    db_session.commit()
    api = bank_api(bank)
    for rule in ("claim", "approve"):
        assert api.post(f"/api/v1/applications/{application.id}/{rule}", key=rule).status_code == 200
    assert push().exit_code == 0
    last = receiver.stored[-1]
    assert last["event_type"] == "application.state_changed"
    assert (last["payload"]["from_state"], last["payload"]["state"]) == ("claimed", "approved")
    assert receiver.invalid == []


def _certificates(folder):
    """A CA, the receiver's certificate for 127.0.0.1 and a client certificate, all signed by the CA (openssl)."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=city node test CA")
    for name, extension in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        (folder / f"{name}.ext").write_text(extension + "\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext")
    return {name: str(folder / name) for name in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_https_with_a_client_certificate_the_receiver_requires(app, db_session, make_application, push, tmp_path,
                                                                monkeypatch):
    files = _certificates(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(files["server.crt"], files["server.key"])
    tls.load_verify_locations(files["ca.crt"])
    tls.verify_mode = ssl.CERT_REQUIRED
    make_application()
    db_session.commit()
    with running_receiver(tls) as receiver:
        monkeypatch.setitem(app.config, "XYD_UPSTREAM_URL", receiver.url)
        monkeypatch.setitem(app.config, "XYD_UPSTREAM_CA", files["ca.crt"])
        monkeypatch.setitem(app.config, "XYD_UPSTREAM_BACKOFF_SECONDS", 0)
        refused = push()  # no client certificate: the handshake fails, the event waits for a retry
        assert refused.exit_code == 1
        assert outbox(db_session)[0].status is OutboxStatus.PENDING
        monkeypatch.setitem(app.config, "XYD_UPSTREAM_CERT", files["client.crt"])
        monkeypatch.setitem(app.config, "XYD_UPSTREAM_KEY", files["client.key"])
        accepted = push()
        assert accepted.exit_code == 0, accepted.output
        assert receiver.url.startswith("https://127.0.0.1:")
        assert [m["event_type"] for m in receiver.stored] == ["match.created"]
