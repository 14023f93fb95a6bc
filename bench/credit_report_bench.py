"""How long issuing a credit report (专用信用报告) takes on the server: gather the chosen sections, render the
PDF with ReportLab (CID font, QR code), digest it and store its header — for an enterprise with five years of
monthly data from every provider, 40 public-credit records (half repaired), ten tax ratings, a score with its
reasons, commitments and self-reports. Medians and p95 of repeated runs, every section chosen, Chinese and
English. Run: `.venv/bin/python -m bench credit_report_bench`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from models.enterprise import CreditCommitment, Enterprise, SelfReport
from models.identity import Role
from models.scoring import ModelVersion, Score, ScoreReason
from models.sources import (
    HousingFundMonth,
    PublicCreditEvent,
    PublicCreditKind,
    Severity,
    SocialInsuranceMonth,
    TaxMonth,
    TaxRating,
    TaxRatingGrade,
    UtilityKind,
    UtilityMonth,
)
from xinyidai import create_app
from xinyidai.database import ensure_reference_data
from xinyidai.domain import credit_report
from xinyidai.domain.users import new_user
from xinyidai.extensions import db

RUNS = 30
USCC = "91310117MA1G000017"


def _months(count: int) -> list[date]:
    first = date(2021, 11, 1)
    return [date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1) for i in range(count)]


def _populate() -> Enterprise:
    session = db.session
    enterprise = Enterprise(uscc=USCC, name="上海松江精密机械制造有限公司", district_code="310117", industry_section="C",
                            industry_division="34", established_on=date(2012, 4, 1), registered_capital_fen=5_000_000_00,
                            status="存续", size_class="小")
    user = new_user(username="bench-enterprise", display_name="Bench", role=Role.ENTERPRISE, password="x" * 16,
                    enterprise_uscc=USCC)
    session.add_all([enterprise, user])
    session.flush()
    for i, month in enumerate(_months(60)):
        session.add_all([
            TaxMonth(uscc=USCC, month=month, invoiced_sales_fen=1_000_000_00, tax_paid_fen=30_000_00, in_arrears=i % 17 == 0),
            SocialInsuranceMonth(uscc=USCC, month=month, insured_headcount=40, contributions_fen=400_000_00,
                                 months_in_arrears=0),
            HousingFundMonth(uscc=USCC, month=month, contributors=38, contributions_fen=80_000_00, in_arrears=False),
            UtilityMonth(uscc=USCC, month=month, kind=UtilityKind.ELECTRICITY, consumption=12_000.0,
                         billed_fen=9_000_00, paid_fen=9_000_00, days_late=0)])
    kinds = list(PublicCreditKind)
    for n in range(40):
        decided = date(2022, 1, 10) + timedelta(days=40 * n)
        session.add(PublicCreditEvent(record_id=f"沪市监松处〔{decided.year}〕{n:06d}号", uscc=USCC, kind=kinds[n % 4],
                                      severity=list(Severity)[n % 3], decided_on=decided,
                                      repaired_on=decided + timedelta(days=120) if n % 2 else None))
    for year in range(2016, 2026):
        session.add(TaxRating(uscc=USCC, year=year, rating=TaxRatingGrade.A if year % 3 else TaxRatingGrade.B))
    session.add(ModelVersion(version="bench-model", path="-", card={}, is_active=True))
    session.flush()
    score = Score(uscc=USCC, model_version="bench-model", as_of=date(2026, 11, 1), pd_12m=0.02, points=712, grade="A",
                  gates_passed=False, failed_gates=[{"gate": "dishonest_debtor", "record_id": "x"}])
    score.reasons = [ScoreReason(rank=r, family=f, feature=f"{f}_level", contribution=c) for r, (f, c) in
                     enumerate((("tax", -0.4), ("employment", -0.2), ("public_credit", 0.3), ("utilities", 0.1)), 1)]
    session.add(score)
    for n in range(5):
        session.add(CreditCommitment(uscc=USCC, text=f"第 {n + 1} 项承诺：按时足额纳税，如实报送经营数据。", made_by_id=user.id))
        session.add(SelfReport(uscc=USCC, topic="orders", period="2026", value=f"在手订单 {n + 1}00 万元", reported_by_id=user.id))
    session.commit()
    return enterprise


def _time(enterprise, language: str) -> list[float]:
    from xinyidai.web import credit_report_pdf
    from xinyidai.web.verify import verify_url

    request = credit_report.report_request(credit_report.SECTIONS, 5, language)
    seconds, sizes = [], []
    for _ in range(RUNS):
        started = time.perf_counter()
        issued = credit_report.issue_report(db.session, enterprise, request, render=credit_report_pdf.render,
                                            verify_url=verify_url, via="bench")
        db.session.commit()
        seconds.append(time.perf_counter() - started)
        sizes.append(len(issued.pdf))
    return seconds, sizes


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'bench.sqlite3'}",
                          "XYD_INSTANCE_PATH": folder, "SECRET_KEY": "bench", "TESTING": True})
        with app.app_context():
            db.create_all()
            with db.engine.begin() as connection:
                ensure_reference_data(connection)
            enterprise = _populate()
            with app.test_request_context("/", base_url="https://xinyidai.example"):
                _time(enterprise, "zh")  # warm: fonts, templates, imports
                for language in ("zh", "en"):
                    seconds, sizes = _time(enterprise, language)
                    ms = sorted(s * 1000 for s in seconds)
                    print(f"credit report, every section, 5 years, {language}: median {statistics.median(ms):.0f} ms, "
                          f"p95 {ms[int(0.95 * len(ms)) - 1]:.0f} ms, max {ms[-1]:.0f} ms "
                          f"({RUNS} runs, {statistics.median(sizes) / 1024:.0f} KiB, "
                          f"{len(credit_report_pdf_pages(enterprise))} pages)")
            db.engine.dispose()


def credit_report_pdf_pages(enterprise) -> list:
    import io

    from pypdf import PdfReader

    from xinyidai.web import credit_report_pdf
    from xinyidai.web.verify import verify_url

    request = credit_report.report_request(credit_report.SECTIONS, 5, "zh")
    issued = credit_report.issue_report(db.session, enterprise, request, render=credit_report_pdf.render,
                                        verify_url=verify_url, via="bench")
    db.session.rollback()
    return PdfReader(io.BytesIO(issued.pdf)).pages


if __name__ == "__main__":
    main()
