"""The enterprise's own credit report (专用信用报告, issue 17): generated on the portal and by `xyd report
enterprise`, a PDF whose text says what the enterprise chose; anyone verifies it at /verify without logging in and
learns only its header and digest; a tampered code, an expired or revoked report is refused with a clear message;
a bank attaches a received report to an application; every generation, check and attachment is audited."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from models.audit import AuditEntry
from models.base import utcnow
from models.credit import CreditReport, ReportAttachment
from models.enterprise import CreditCommitment, SelfReport
from models.identity import Role
from models.sources import PublicCreditEvent, PublicCreditKind, Severity, TaxMonth, TaxRating, TaxRatingGrade
from tests.conftest import csrf_token
from xinyidai.domain import credit_report

ALL_SECTIONS = list(credit_report.SECTIONS)


def pdf_text(content: bytes) -> str:
    """The PDF's text without white space (a table cell wraps its words onto several lines)."""
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return re.sub(r"\s+", "", text)


@pytest.fixture
def firm(db_session, make_enterprise, make_user):
    """An enterprise with a repaired and an unrepaired record, tax months and ratings, a commitment and a
    self-report, and its logged-in administrator."""
    enterprise = make_enterprise(name="上海明远精密机械有限公司")
    user = make_user(Role.ENTERPRISE, enterprise_uscc=enterprise.uscc, is_tenant_admin=True)
    today = utcnow().date()
    db_session.add_all([
        PublicCreditEvent(record_id="PC-RPT-1", uscc=enterprise.uscc, kind=PublicCreditKind.ADMINISTRATIVE_PENALTY,
                          severity=Severity.GENERAL, decided_on=today - timedelta(days=400),
                          repaired_on=today - timedelta(days=200)),
        PublicCreditEvent(record_id="PC-RPT-2", uscc=enterprise.uscc, kind=PublicCreditKind.ABNORMAL_OPERATION,
                          severity=Severity.GENERAL, decided_on=today - timedelta(days=100)),
        PublicCreditEvent(record_id="PC-RPT-OLD", uscc=enterprise.uscc, kind=PublicCreditKind.ADMINISTRATIVE_PENALTY,
                          severity=Severity.GENERAL, decided_on=today - timedelta(days=6 * 366)),
        TaxRating(uscc=enterprise.uscc, year=today.year - 1, rating=TaxRatingGrade.B),
        CreditCommitment(uscc=enterprise.uscc, text="按时足额纳税，如实报送经营数据。", made_by_id=user.id),
        SelfReport(uscc=enterprise.uscc, topic="orders", period="2026", value="在手订单 800 万元", reported_by_id=user.id),
    ])
    for i in range(1, 7):
        db_session.add(TaxMonth(uscc=enterprise.uscc, month=date(today.year, 1, 1) - timedelta(days=31 * i - 15),
                                invoiced_sales_fen=100_000_00, tax_paid_fen=5_000_00, in_arrears=i == 2))
    db_session.commit()
    return enterprise, user


def generate(client, sections=None, years="3", language="zh"):
    return client.post("/enterprise/reports", data={
        "csrf_token": csrf_token(client, "/enterprise/reports"), "sections": sections or ALL_SECTIONS,
        "years": years, "language": language})


def number_and_code(text: str) -> tuple[str, str]:
    number = re.search(r"XYD\d{8}[0-9A-Z]{6}", text).group(0)
    code = re.search(r"(?:验证码|Verificationcode)[:：]([0-9A-Z]{4}-[0-9A-Z]{4})", text).group(1)
    return number, code


def test_the_enterprise_generates_a_chinese_pdf_with_its_chosen_sections_and_repaired_items_flagged(
        client, login, db_session, firm):
    enterprise, user = firm
    login(user)
    assert client.get("/enterprise/reports").status_code == 200
    response = generate(client)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    text = pdf_text(response.data)
    assert "专用信用报告" in text
    assert enterprise.name in text
    assert enterprise.uscc in text
    assert "已修复" in text
    assert "PC-RPT-1" in text
    assert "PC-RPT-2" in text
    assert "PC-RPT-OLD" not in text  # outside the three-year window
    assert "企业自愿承诺" in text
    assert "自愿填报，未经核验" in text
    assert "纳税信用等级" in text
    assert "报告核验" in text
    number, code = number_and_code(text)
    report = db_session.scalar(sa.select(CreditReport).where(CreditReport.number == number))
    assert report.uscc == enterprise.uscc
    assert report.sections == ALL_SECTIONS
    assert report.digest == hashlib.sha256(response.data).hexdigest()
    assert code.replace("-", "") not in report.code_hash  # the code is kept as a hash only
    entry = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "credit_report_issued"))
    assert entry.actor_user_id == user.id
    assert entry.subject_uscc == enterprise.uscc
    assert entry.detail["number"] == number
    page = client.get("/enterprise/reports").get_data(as_text=True)
    assert number in page


def test_only_the_chosen_sections_are_in_the_report_and_english_on_request(client, login, firm):
    enterprise, user = firm
    login(user)
    response = generate(client, sections=["registry", "tax_ratings"], years="1", language="en")
    text = pdf_text(response.data)
    assert "Creditreport" in text
    assert enterprise.name in text
    assert "PC-RPT-2" not in text
    assert "Self-reported" not in text
    assert "Verificationcode" in text


def test_a_window_over_five_years_or_no_section_is_refused_on_the_page(client, login, firm):
    _enterprise, user = firm
    login(user)
    assert generate(client, years="6").status_code == 422
    response = client.post("/enterprise/reports", data={"csrf_token": csrf_token(client, "/enterprise/reports"),
                                                       "years": "3", "language": "zh"})
    assert response.status_code == 422
    assert "请至少选择一个报告内容" in response.get_data(as_text=True)
    assert client.post("/enterprise/reports", data={"sections": ALL_SECTIONS, "years": "3"}).status_code == 400


def test_a_logged_out_visitor_verifies_by_number_and_code_and_sees_only_the_header(app, client, login, db_session, firm):
    enterprise, user = firm
    login(user)
    pdf = generate(client).data
    number, code = number_and_code(pdf_text(pdf))
    visitor = app.test_client()
    assert visitor.get("/verify").status_code == 200
    answer = visitor.post("/verify", data={"number": number, "code": code.lower()})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "真实有效" in page
    assert enterprise.name in page
    assert number in page
    assert hashlib.sha256(pdf).hexdigest() in page
    for secret in ("PC-RPT-1", "PC-RPT-2", "按时足额纳税", "在手订单", "行政处罚"):
        assert secret not in page  # the report's contents are never shown
    # the QR code's link (a plain GET) answers the same
    assert "真实有效" in visitor.get(f"/verify?number={number}&code={code}").get_data(as_text=True)
    # with the file itself: the digest is compared
    same = visitor.post("/verify", data={"number": number, "code": code, "report": (io.BytesIO(pdf), "r.pdf")},
                        content_type="multipart/form-data")
    assert "上传的文件与平台出具的文件一致" in same.get_data(as_text=True)
    changed = visitor.post("/verify", data={"number": number, "code": code,
                                            "report": (io.BytesIO(pdf + b"%tampered"), "r.pdf")},
                           content_type="multipart/form-data")
    assert "上传的文件与平台出具的文件不一致" in changed.get_data(as_text=True)
    checks = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "credit_report_verified")).all()
    assert len(checks) == 4
    assert all(c.detail["verdict"] == "genuine" for c in checks)
    assert [c.detail["file_matches"] for c in checks] == [None, None, True, False]


def test_a_tampered_code_an_expired_or_a_revoked_report_is_refused_with_a_clear_message(app, client, login, db_session,
                                                                                      firm):
    enterprise, user = firm
    login(user)
    number, code = number_and_code(pdf_text(generate(client).data))
    visitor = app.test_client()
    wrong = code[:-1] + ("2" if code[-1] != "2" else "3")
    refused = visitor.post("/verify", data={"number": number, "code": wrong})
    assert refused.status_code == 404
    body = refused.get_data(as_text=True)
    assert "核验未通过：报告编号或验证码不正确" in body
    assert enterprise.name not in body
    assert "核验未通过" in visitor.post("/verify", data={"number": "XYD20990101AAAAAA", "code": code}).get_data(as_text=True)

    report = db_session.scalar(sa.select(CreditReport).where(CreditReport.number == number))
    report.valid_until = utcnow() - timedelta(minutes=1)
    db_session.commit()
    expired = visitor.post("/verify", data={"number": number, "code": code})
    assert expired.status_code == 410
    assert "已过期" in expired.get_data(as_text=True)

    report.valid_until = utcnow() + timedelta(days=5)
    db_session.commit()
    form = csrf_token(client, "/enterprise/reports")
    assert client.post(f"/enterprise/reports/{report.id}/revoke", data={"csrf_token": form}).status_code == 302
    revoked = visitor.post("/verify", data={"number": number, "code": code})
    assert revoked.status_code == 410
    assert "已作废" in revoked.get_data(as_text=True)
    verdicts = [e.detail["verdict"] for e in db_session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "credit_report_verified").order_by(AuditEntry.id))]
    assert verdicts == ["unknown", "unknown", "expired", "revoked"]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "credit_report_revoked")) == 1


def test_another_enterprise_cannot_revoke_a_report(client, login, db_session, firm, make_user):
    enterprise, user = firm
    login(user)
    number, _code = number_and_code(pdf_text(generate(client).data))
    report = db_session.scalar(sa.select(CreditReport).where(CreditReport.number == number))
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/password")})
    login(make_user(Role.ENTERPRISE))
    assert client.post(f"/enterprise/reports/{report.id}/revoke",
                       data={"csrf_token": csrf_token(client, "/enterprise/reports")}).status_code == 404


def test_verification_attempts_are_rate_limited_per_address(tmp_path):
    from tests.conftest import app_with_schema

    app = app_with_schema({"SECRET_KEY": "x", "XYD_INSTANCE_PATH": str(tmp_path), "TESTING": True,
                           "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'v.sqlite3'}",
                           "XYD_VERIFY_RATE_LIMIT": "3/minute"})
    client = app.test_client()
    statuses = [client.post("/verify", data={"number": "XYD20260101AAAAAA", "code": f"AAAA-AAA{i}"}).status_code
                for i in range(4)]
    assert statuses == [404, 404, 404, 429]
    assert client.get("/verify").status_code == 200  # the empty form is never limited
    from xinyidai.extensions import db

    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "credit_report_verified")) == 3
        db.engine.dispose()


def test_a_bank_officer_attaches_a_received_report_and_the_platform_checks_it(
        app, client, login, db_session, firm, make_user, make_product, make_application):
    from models.lending import FinancingNeed

    enterprise, user = firm
    login(user)
    pdf = generate(client).data
    number, code = number_and_code(pdf_text(pdf))
    need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12, purpose="流动资金周转",
                         guarantee_types=["信用"])
    db_session.add(need)
    db_session.flush()
    product = make_product()
    application = make_application(product=product, need=need)
    stranger = make_application(product=product)  # another enterprise's application at the same bank
    officer = make_user(Role.BANK, bank_id=product.bank_id)
    db_session.commit()
    bank = app.test_client()
    login_bank = bank.post("/login", data={"username": officer.username, "password": "correct horse battery staple",
                                           "csrf_token": csrf_token(bank)})
    assert login_bank.status_code == 302
    token = csrf_token(bank, f"/bank/applications/{application.id}")
    answer = bank.post(f"/bank/applications/{application.id}/credit-report",
                       data={"csrf_token": token, "number": number, "code": code, "report": (io.BytesIO(pdf), "r.pdf")},
                       content_type="multipart/form-data")
    assert answer.status_code == 302
    page = bank.get(f"/bank/applications/{application.id}").get_data(as_text=True)
    assert "真实有效" in page
    assert "文件一致" in page
    assert number in page
    other = bank.post(f"/bank/applications/{stranger.id}/credit-report",
                      data={"csrf_token": token, "number": number, "code": code})
    assert other.status_code == 302
    assert "不是本申请企业的报告" in bank.get(f"/bank/applications/{stranger.id}").get_data(as_text=True)
    outcomes = {a.application_id: a.outcome for a in db_session.scalars(sa.select(ReportAttachment))}
    assert outcomes == {application.id: "genuine", stranger.id: "other_enterprise"}
    attached = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "credit_report_attached")).all()
    assert len(attached) == 2
    assert {a.detail["application_id"] for a in attached} == {application.id, stranger.id}
    assert all(a.actor_user_id == officer.id for a in attached)


def test_xyd_report_enterprise_writes_the_pdf_and_prints_number_and_code(cli, db_session, firm, tmp_path):
    enterprise, _user = firm
    result = cli.invoke(args=["report", "enterprise", enterprise.uscc, "--years", "5", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    number = re.search(r"report number: (\S+)", result.output).group(1)
    code = re.search(r"verification code: (\S+)", result.output).group(1)
    content = (tmp_path / f"{number}.pdf").read_bytes()
    text = pdf_text(content)
    assert "专用信用报告" in text
    assert enterprise.name in text
    assert code in text
    assert "PC-RPT-OLD" not in text
    report = db_session.scalar(sa.select(CreditReport).where(CreditReport.number == number))
    assert report.issued_via == "cli"
    assert report.digest == hashlib.sha256(content).hexdigest()
    bad = cli.invoke(args=["report", "enterprise", enterprise.uscc, "--sections", "secrets"])
    assert bad.exit_code != 0
    assert "unknown sections" in bad.output


def test_the_first_page_renders_and_its_qr_code_opens_the_verification_of_this_report(app, client, login, firm):
    """Rendered to an image the way a reader shows it, the page carries the QR code; decoded, it is the link that
    verifies this very report."""
    pdfium = pytest.importorskip("pypdfium2")
    zxing = pytest.importorskip("zxingcpp")
    enterprise, user = firm
    login(user)
    content = generate(client).data
    number, code = number_and_code(pdf_text(content))
    document = pdfium.PdfDocument(content)
    pages = [document[i].render(scale=3).to_pil() for i in range(len(document))]
    found = [r.text for image in pages for r in zxing.read_barcodes(image) if r.format == zxing.BarcodeFormat.QRCode]
    document.close()
    assert len(found) == 1
    link = found[0]
    assert f"number={number}" in link
    assert f"code={code}" in link
    visitor = app.test_client()
    answer = visitor.get(link.replace("http://localhost", ""))
    assert answer.status_code == 200
    assert enterprise.name in answer.get_data(as_text=True)
