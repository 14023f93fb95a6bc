"""The demo's credit-repair story (issue 17): the demo enterprise had a penalty that is repaired (the provider's
delivery said so), and is on the abnormal-operations list with a repair application in progress, evidence
attached, waiting for the Songjiang office to record the market regulator's decision. Other demo firms carry
repaired and unrepaired records from the generated public-credit delivery."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from models.credit import RepairCase, RepairState
from models.enterprise import Enterprise
from models.sources import PublicCreditEvent, PublicCreditKind, Severity
from xinyidai.demo import clock
from xinyidai.domain.credit_repair import DECISION_WORKING_DAYS, evidence_dir, evidence_path
from xinyidai.domain.working_days import add_working_days

REPAIRED_RECORD = "沪市监松处〔2025〕009001号"
LISTED_RECORD = "沪市监松异〔2026〕009312号"


def _evidence_pdf() -> bytes:
    """A one-page receipt, as an enterprise would scan it (ReportLab's CID font draws the Chinese)."""
    from reportlab.pdfgen import canvas

    from xinyidai.web.credit_report_pdf import FONT

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.setFont(FONT, 14)
    page.drawString(72, 760, "2025 年度报告补报回执（演示）")
    page.drawString(72, 736, "Annual report filed late — receipt (demo)")
    page.save()
    return buffer.getvalue()


def store_repair_story(session: Session, uscc: str, enterprise_user, instance_path: str | Path) -> None:
    import hashlib

    enterprise = session.get(Enterprise, uscc)
    end = clock.DATA_END
    repaired = PublicCreditEvent(record_id=REPAIRED_RECORD, uscc=uscc, kind=PublicCreditKind.ADMINISTRATIVE_PENALTY,
                                 severity=Severity.GENERAL, decided_on=end - timedelta(days=400),
                                 repaired_on=end - timedelta(days=120))
    listed = PublicCreditEvent(record_id=LISTED_RECORD, uscc=uscc, kind=PublicCreditKind.ABNORMAL_OPERATION,
                               severity=Severity.GENERAL, decided_on=end - timedelta(days=45))
    session.add_all([repaired, listed])
    session.flush()
    applied_at = clock.DEMO_NOW - timedelta(days=3)
    evidence = _evidence_pdf()
    done = RepairCase(record_id=REPAIRED_RECORD, uscc=uscc, district_code=enterprise.district_code,
                      state=RepairState.REPAIRED, applied_at=applied_at - timedelta(days=200),
                      decided_on=repaired.repaired_on, closed_via="delivery", closed_at=applied_at - timedelta(days=150),
                      outcome_seen_at=applied_at - timedelta(days=149))
    pending = RepairCase(record_id=LISTED_RECORD, uscc=uscc, district_code=enterprise.district_code,
                         state=RepairState.APPLIED, applied_on=applied_at.date(), applied_by_id=enterprise_user.id,
                         applied_at=applied_at, commitment_signed=True, evidence_name="年报补报回执.pdf",
                         evidence_type="pdf", evidence_bytes=len(evidence),
                         evidence_sha256=hashlib.sha256(evidence).hexdigest(),
                         due_on=add_working_days(applied_at, DECISION_WORKING_DAYS).date())
    session.add_all([done, pending])
    session.flush()
    path = evidence_path(evidence_dir(instance_path), pending)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(evidence)
