"""Credit repair tracked end to end (issue 17): the enterprise sees what repair takes and records its application
with evidence; the district office records the authority's outcome — or the provider's public-credit delivery
says the record is repaired, which closes the case by itself — and at once the grade, the gates, the matches and
the lending bank's open alert move with it, and the enterprise is notified. All through HTTP (and the CLI for the
delivery), over a trained model that has learned what a dishonesty record means."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ml import registry, synthetic
from ml.features import data_end_as_of
from models.audit import AuditEntry
from models.base import utcnow
from models.credit import RepairCase, RepairState
from models.identity import Role
from models.lending import Application, ApplicationState, FinancingNeed, NeedStatus
from models.monitoring import Alert, AlertKind
from models.scoring import GRADE_SCALE, Score
from models.sources import PublicCreditEvent, PublicCreditKind, Severity
from tests.conftest import TEST_PASSWORD, FreshContextClient, csrf_token
from xinyidai.domain import scoring
from xinyidai.domain.monitoring import run_monitoring
from xinyidai.domain.standing import latest_score

EVIDENCE = b"%PDF-1.4\n% court confirmation of payment\n"


def client_for(app, user) -> FreshContextClient:
    client = app.test_client()
    response = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    return client


@pytest.fixture
def listed(app, db_session, make_user, make_bank, make_product):
    """A trained model that learned dishonesty records go with defaults; one good enterprise that has just been
    listed as a dishonest judgment debtor, with an open need, a loan from a bank and that bank's open alert."""
    population = synthetic.populate(db_session, enterprises=400, seed=5)
    for n, row in enumerate(population.itertuples()):
        if row.defaulted or n % 40 == 0:
            db_session.add(PublicCreditEvent(record_id=f"TRAIN-{n}", uscc=row.uscc, kind=PublicCreditKind.DISHONEST_DEBTOR,
                                             severity=Severity.SERIOUS, decided_on=row.disbursed_on - timedelta(days=60)))
    db_session.flush()
    scoring.train_and_register(db_session, app.instance_path, promote=True, by="test")
    scored = scoring.score_everyone(db_session, app.instance_path)
    end = data_end_as_of(db_session)
    frame = scored.frame[scored.frame.gates_passed]
    uscc = frame.sort_values("points", ascending=False).index[0]
    clean_grade = frame.loc[uscc, "grade"]

    bank = make_bank()
    picky = make_product(bank=bank, min_grade=clean_grade)
    loan_product = make_product(bank=bank)
    need = FinancingNeed(uscc=uscc, amount_fen=50_000_000, term_months=12, purpose="流动资金周转",
                         guarantee_types=["信用"])
    loan_need = FinancingNeed(uscc=uscc, amount_fen=80_000_000, term_months=12, purpose="设备购置",
                              guarantee_types=["信用"], status=NeedStatus.CLAIMED)
    db_session.add_all([need, loan_need])
    db_session.flush()
    loan = Application(need_id=loan_need.id, product_id=loan_product.id, bank_id=bank.id, uscc=uscc,
                       state=ApplicationState.REPAYING, disbursed_on=end - timedelta(days=200),
                       disbursed_amount_fen=80_000_000, rate_bp=380, term_months=12)
    db_session.add(loan)
    db_session.add(PublicCreditEvent(record_id="PC-LISTED", uscc=uscc, kind=PublicCreditKind.DISHONEST_DEBTOR,
                                     severity=Severity.SERIOUS, decided_on=end - timedelta(days=90)))
    db_session.flush()
    scoring.rescore(db_session, app.instance_path, uscc, as_of=end)
    from xinyidai.domain.matching import rematch_enterprises

    rematch_enterprises(db_session, [uscc])
    run_monitoring(db_session)
    db_session.commit()
    users = {"enterprise": make_user(Role.ENTERPRISE, enterprise_uscc=uscc, is_tenant_admin=True),
             "office": make_user(Role.OFFICE, district_code="310115"),
             "other_office": make_user(Role.OFFICE, district_code="310104"),
             "bank": make_user(Role.BANK, bank_id=bank.id)}
    yield {"uscc": uscc, "end": end, "clean_grade": clean_grade, "need": need, "picky": picky, "users": users,
           "bank": bank}
    # The promoted model's row is rolled back with the test: workers' cached model must not outlive it.
    registry.active_model.forget()


def offered(db_session, need, product) -> bool:
    return db_session.scalar(sa.select(sa.func.count()).select_from(Application).where(
        Application.need_id == need.id, Application.product_id == product.id)) > 0


def open_alert(db_session, uscc) -> Alert:
    return db_session.scalar(sa.select(Alert).where(Alert.uscc == uscc, Alert.kind == AlertKind.DISHONEST_RECORD))


def assert_listed(db_session, world):
    score = latest_score(db_session, world["uscc"])
    assert not score.gates_passed
    assert [g["gate"] for g in score.failed_gates] == ["dishonest_debtor"]
    assert GRADE_SCALE.index(score.grade) > GRADE_SCALE.index(world["clean_grade"])  # the listing cost grades
    assert not offered(db_session, world["need"], world["picky"])
    alert = open_alert(db_session, world["uscc"])
    assert alert is not None
    assert "repaired_on" not in alert.evidence
    return score


def assert_repaired(db_session, world, before: Score, repaired_on):
    db_session.expire_all()
    score = latest_score(db_session, world["uscc"])
    assert score.id != before.id  # re-scored at once
    assert score.gates_passed
    assert score.failed_gates == []
    assert GRADE_SCALE.index(score.grade) < GRADE_SCALE.index(before.grade)
    assert offered(db_session, world["need"], world["picky"]) == (GRADE_SCALE.index(score.grade)
                                                                  <= GRADE_SCALE.index(world["clean_grade"]))
    alert = open_alert(db_session, world["uscc"])
    assert alert.acknowledged_at is None
    assert alert.evidence["repaired_on"] == repaired_on.isoformat()


def apply_through_the_portal(app, world, applied_on):
    enterprise = client_for(app, world["users"]["enterprise"])
    page = enterprise.get("/enterprise/repair").get_data(as_text=True)
    assert "PC-LISTED" in page
    assert "执行法院" in page
    assert "信用修复承诺书" in page
    token = csrf_token(enterprise, "/enterprise/repair")
    response = enterprise.post("/enterprise/repair/PC-LISTED/apply", data={
        "csrf_token": token, "applied_on": applied_on.isoformat(), "commitment_signed": "y",
        "evidence": (io.BytesIO(EVIDENCE), "court.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 302
    assert "修复申请办理中" in enterprise.get("/enterprise/repair").get_data(as_text=True)
    return enterprise


@pytest.mark.slow
def test_a_repair_flows_from_applied_to_repaired_through_the_office_page(app, db_session, listed):
    world = listed
    before = assert_listed(db_session, world)
    applied_on = world["end"] - timedelta(days=20)
    enterprise = apply_through_the_portal(app, world, applied_on)
    case = db_session.scalar(sa.select(RepairCase).where(RepairCase.record_id == "PC-LISTED"))
    assert case.state is RepairState.APPLIED
    assert case.evidence_type == "pdf"
    assert case.due_on > applied_on

    office = client_for(app, world["users"]["office"])
    listing = office.get("/office/repairs").get_data(as_text=True)
    assert "PC-LISTED" in listing
    assert office.get(f"/office/repairs/{case.id}/evidence").data == EVIDENCE
    other = client_for(app, world["users"]["other_office"])
    assert "PC-LISTED" not in other.get("/office/repairs").get_data(as_text=True)
    assert other.get(f"/office/repairs/{case.id}").status_code == 404

    decided_on = world["end"] - timedelta(days=10)
    token = csrf_token(office, f"/office/repairs/{case.id}")
    response = office.post(f"/office/repairs/{case.id}/outcome", data={
        "csrf_token": token, "outcome": "repaired", "decided_on": decided_on.isoformat(), "note": ""})
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(PublicCreditEvent, "PC-LISTED").repaired_on == decided_on
    assert db_session.get(RepairCase, case.id).closed_via == "office"
    assert_repaired(db_session, world, before, decided_on)
    # a second outcome for a closed case is refused
    again = office.post(f"/office/repairs/{case.id}/outcome", data={
        "csrf_token": token, "outcome": "rejected", "decided_on": decided_on.isoformat(), "note": "x"})
    assert again.status_code == 409

    news = enterprise.get("/enterprise/notifications").get_data(as_text=True)
    assert "已修复：平台已按修复后的记录重新评分" in news
    assert "通知（" in news
    enterprise.get("/enterprise/repair")  # seen
    assert "通知（" not in enterprise.get("/enterprise/notifications").get_data(as_text=True)
    actions = set(db_session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("credit_repair%"))))
    assert {"credit_repair_applied", "credit_repair_evidence_viewed", "credit_repair_decided",
            "credit_repair_followed"} <= actions


@pytest.mark.slow
def test_the_public_credit_delivery_closes_the_case_and_everything_follows(app, db_session, cli, listed, tmp_path):
    world = listed
    before = assert_listed(db_session, world)
    enterprise = apply_through_the_portal(app, world, world["end"] - timedelta(days=20))
    repaired_on = world["end"] - timedelta(days=5)
    event = db_session.get(PublicCreditEvent, "PC-LISTED")
    delivery = tmp_path / "public_credit.csv"
    delivery.write_text("record_id,uscc,kind,severity,decided_on,repaired_on,force_majeure\n"
                        f"PC-LISTED,{world['uscc']},失信被执行人,严重,{event.decided_on.isoformat()},"
                        f"{repaired_on.isoformat()},false\n", encoding="utf-8")
    result = cli.invoke(args=["ingest", "public_credit", str(delivery)])
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    case = db_session.scalar(sa.select(RepairCase).where(RepairCase.record_id == "PC-LISTED"))
    assert case.state is RepairState.REPAIRED
    assert case.closed_via == "delivery"
    assert case.decided_on == repaired_on
    assert_repaired(db_session, world, before, repaired_on)
    office = client_for(app, world["users"]["office"])
    assert "PC-LISTED" in office.get("/office/repairs?state=repaired").get_data(as_text=True)
    assert "PC-LISTED" not in office.get("/office/repairs").get_data(as_text=True)
    assert "公共信用数据确认" in enterprise.get("/enterprise/repair").get_data(as_text=True)


@pytest.fixture
def one_record(db_session, make_enterprise, make_user):
    enterprise = make_enterprise()
    user = make_user(Role.ENTERPRISE, enterprise_uscc=enterprise.uscc, is_tenant_admin=True)
    today = utcnow().date()
    db_session.add(PublicCreditEvent(record_id="PC-PEN", uscc=enterprise.uscc, kind=PublicCreditKind.ADMINISTRATIVE_PENALTY,
                                     severity=Severity.GENERAL, decided_on=today - timedelta(days=200)))
    db_session.commit()
    return enterprise, user, today


def post_application(client, record_id, *, evidence=EVIDENCE, name="receipt.pdf", signed=True, applied_on=None):
    data = {"csrf_token": csrf_token(client, "/enterprise/repair"), "applied_on": applied_on or utcnow().date().isoformat(),
            "evidence": (io.BytesIO(evidence), name)}
    if signed:
        data["commitment_signed"] = "y"
    return client.post(f"/enterprise/repair/{record_id}/apply", data=data, content_type="multipart/form-data")


def test_the_enterprise_sees_the_tier_and_evidence_is_type_and_size_checked(app, client, login, db_session, one_record,
                                                                           monkeypatch):
    _enterprise, user, today = one_record
    login(user)
    page = client.get("/enterprise/repair").get_data(as_text=True)
    assert "一般：公示 3 个月至 1 年" in page
    assert "作出处罚决定的行政机关" in page
    english = client.get("/enterprise/repair?lang=en").get_data(as_text=True)
    assert "general: published 3 months to 1 year" in english
    client.get("/enterprise/repair?lang=zh")
    refused = post_application(client, "PC-PEN", evidence=b"GIF89a not a pdf", name="receipt.pdf")
    assert refused.status_code == 422
    assert "证明材料须为 PDF、PNG 或 JPEG 文件" in refused.get_data(as_text=True)
    assert "请先签署" in post_application(client, "PC-PEN", signed=False).get_data(as_text=True)
    monkeypatch.setitem(app.config, "XYD_REPAIR_EVIDENCE_MAX_BYTES", 16)
    assert "证明材料不能超过" in post_application(client, "PC-PEN").get_data(as_text=True)
    monkeypatch.setitem(app.config, "XYD_REPAIR_EVIDENCE_MAX_BYTES", 5 * 1024 * 1024)
    future = post_application(client, "PC-PEN", applied_on=(today + timedelta(days=3)).isoformat())
    assert "申请日期不能晚于今天" in future.get_data(as_text=True)
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    assert post_application(client, "PC-PEN", evidence=png, name="receipt.png").status_code == 302
    assert "已有办理中的修复申请" not in client.get("/enterprise/repair").get_data(as_text=True)
    twice = post_application(client, "PC-PEN", evidence=png, name="receipt.png")
    assert twice.status_code == 422
    assert "已有办理中的修复申请" in twice.get_data(as_text=True)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(RepairCase)) == 1
    assert post_application(client, "NO-SUCH-RECORD").status_code == 404


def test_the_office_records_a_refusal_with_a_reason_and_the_enterprise_may_apply_again(
        app, client, login, db_session, one_record, make_user):
    _enterprise, user, _today = one_record
    login(user)
    assert post_application(client, "PC-PEN").status_code == 302
    case = db_session.scalar(sa.select(RepairCase))
    office = client_for(app, make_user(Role.OFFICE, district_code="310115"))
    token = csrf_token(office, f"/office/repairs/{case.id}")
    no_reason = office.post(f"/office/repairs/{case.id}/outcome", data={
        "csrf_token": token, "outcome": "rejected", "decided_on": utcnow().date().isoformat()})
    assert no_reason.status_code == 422
    assert "不予修复时请注明理由" in no_reason.get_data(as_text=True)
    refused = office.post(f"/office/repairs/{case.id}/outcome", data={
        "csrf_token": token, "outcome": "rejected", "decided_on": utcnow().date().isoformat(),
        "note": "罚款尚未缴清"})
    assert refused.status_code == 302
    db_session.expire_all()
    assert db_session.get(PublicCreditEvent, "PC-PEN").repaired_on is None
    page = client.get("/enterprise/repair").get_data(as_text=True)
    assert "罚款尚未缴清" in page
    assert "登记修复申请" in page
    assert post_application(client, "PC-PEN").status_code == 302  # a new application after the refusal
