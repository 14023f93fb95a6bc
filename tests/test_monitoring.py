"""Post-loan monitoring: each deterioration of a borrower raises one alert per event for the lending bank
and the district office, with its evidence; non-borrowers, old or repaired records raise nothing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from models.monitoring import Alert, AlertKind
from models.scoring import ModelVersion, Score
from models.sources import (
    PublicCreditEvent,
    PublicCreditKind,
    Severity,
    SocialInsuranceMonth,
    TaxMonth,
    UtilityKind,
    UtilityMonth,
)
from tests.test_office_metrics import lend  # noqa: F401 - the fixture
from xinyidai.domain import alerts as alert_service
from xinyidai.domain.monitoring import run_monitoring

DISBURSED = datetime(2026, 3, 2, 3, tzinfo=UTC)


@pytest.fixture
def borrower(make_enterprise, make_product, lend):  # noqa: F811
    """A Jinshan enterprise repaying a loan disbursed in March 2026."""
    enterprise = make_enterprise(district_code="310116")
    application = lend(enterprise, make_product(), DISBURSED, "repaying", gap_days=0)
    return enterprise, application


def score(db_session, uscc, grade, scored_at):
    if db_session.get(ModelVersion, "mon-1") is None:
        db_session.add(ModelVersion(version="mon-1", path="-", card={}, is_active=True))
        db_session.flush()
    db_session.add(Score(uscc=uscc, model_version="mon-1", as_of=scored_at.date(), pd_12m=0.05, points=600,
                         grade=grade, gates_passed=True, failed_gates=[], scored_at=scored_at))


def record(db_session, uscc, record_id, kind, severity, decided_on, repaired_on=None):
    db_session.add(PublicCreditEvent(record_id=record_id, uscc=uscc, kind=kind, severity=severity,
                                     decided_on=decided_on, repaired_on=repaired_on))


def alerts_of(db_session, uscc) -> list[Alert]:
    return list(db_session.scalars(sa.select(Alert).where(Alert.uscc == uscc).order_by(Alert.id)))


def test_each_kind_of_deterioration_raises_one_alert_with_evidence(db_session, borrower):
    enterprise, application = borrower
    uscc = enterprise.uscc
    score(db_session, uscc, "A", datetime(2026, 2, 1, tzinfo=UTC))
    score(db_session, uscc, "BB", datetime(2026, 9, 1, tzinfo=UTC))  # A → BB: three notches
    record(db_session, uscc, "R-DISHONEST", PublicCreditKind.DISHONEST_DEBTOR, Severity.SERIOUS, date(2026, 6, 1))
    record(db_session, uscc, "R-PENALTY", PublicCreditKind.ADMINISTRATIVE_PENALTY, Severity.SERIOUS, date(2026, 7, 1))
    for month, headcount in ((date(2026, 6, 1), 40), (date(2026, 7, 1), 38), (date(2026, 8, 1), 30),
                             (date(2026, 9, 1), 26)):
        db_session.add(SocialInsuranceMonth(uscc=uscc, month=month, insured_headcount=headcount,
                                            contributions_fen=1, months_in_arrears=0))
    for month, late in ((date(2026, 7, 1), 45), (date(2026, 8, 1), 60), (date(2026, 9, 1), 0)):
        db_session.add(UtilityMonth(uscc=uscc, month=month, kind=UtilityKind.ELECTRICITY, consumption=1.0,
                                    billed_fen=1000, paid_fen=1000 if not late else 0, days_late=late))
    db_session.add(TaxMonth(uscc=uscc, month=date(2026, 8, 1), invoiced_sales_fen=1, tax_paid_fen=0, in_arrears=True))
    db_session.flush()

    summary = run_monitoring(db_session)

    raised = {alert.kind: alert for alert in alerts_of(db_session, uscc)}
    assert set(raised) == set(AlertKind)
    assert summary.raised == len(raised) == 6
    for alert in raised.values():
        assert alert.bank_id == application.bank_id
        assert alert.district_code == "310116"
        assert alert.application_id == application.id
    assert raised[AlertKind.GRADE_DROP].evidence["from_grade"] == "A"
    assert raised[AlertKind.GRADE_DROP].evidence["to_grade"] == "BB"
    assert raised[AlertKind.DISHONEST_RECORD].evidence["record_id"] == "R-DISHONEST"
    assert raised[AlertKind.HEADCOUNT_COLLAPSE].evidence["from_headcount"] == 40
    assert raised[AlertKind.HEADCOUNT_COLLAPSE].evidence["to_headcount"] == 26
    assert list(raised[AlertKind.UTILITY_ARREARS].evidence["months"]) == ["2026-07", "2026-08"]
    assert raised[AlertKind.TAX_ARREARS].evidence["since_month"] == "2026-08"


def test_running_again_raises_nothing_new(db_session, borrower, cli):
    enterprise, _application = borrower
    db_session.add(TaxMonth(uscc=enterprise.uscc, month=date(2026, 8, 1), invoiced_sales_fen=1, tax_paid_fen=0,
                            in_arrears=True))
    db_session.flush()
    assert run_monitoring(db_session).raised == 1
    again = run_monitoring(db_session)
    assert again.raised == 0
    assert again.already_known == 1
    result = cli.invoke(args=["monitor", "run", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["raised"] == 0
    assert len(alerts_of(db_session, enterprise.uscc)) == 1


def test_a_new_arrears_episode_or_a_further_drop_is_a_new_event(db_session, borrower):
    enterprise, _application = borrower
    uscc = enterprise.uscc
    db_session.add(TaxMonth(uscc=uscc, month=date(2026, 5, 1), invoiced_sales_fen=1, tax_paid_fen=0, in_arrears=True))
    score(db_session, uscc, "AA", datetime(2026, 1, 1, tzinfo=UTC))
    score(db_session, uscc, "BBB", datetime(2026, 6, 1, tzinfo=UTC))
    db_session.flush()
    assert run_monitoring(db_session).raised == 2
    # arrears stop in June and start again in September; the grade falls once more
    db_session.add(TaxMonth(uscc=uscc, month=date(2026, 9, 1), invoiced_sales_fen=1, tax_paid_fen=0, in_arrears=True))
    score(db_session, uscc, "B", datetime(2026, 10, 1, tzinfo=UTC))
    db_session.flush()
    assert run_monitoring(db_session).raised == 2
    keys = [alert.event_key for alert in alerts_of(db_session, uscc)]
    assert len(keys) == len(set(keys)) == 4


def test_old_repaired_minor_records_and_small_changes_raise_nothing(db_session, borrower):
    enterprise, _application = borrower
    uscc = enterprise.uscc
    record(db_session, uscc, "R-OLD", PublicCreditKind.DISHONEST_DEBTOR, Severity.SERIOUS, date(2025, 1, 1))
    record(db_session, uscc, "R-REPAIRED", PublicCreditKind.DISHONEST_DEBTOR, Severity.SERIOUS, date(2026, 5, 1),
           repaired_on=date(2026, 6, 1))
    record(db_session, uscc, "R-MINOR", PublicCreditKind.ADMINISTRATIVE_PENALTY, Severity.MINOR, date(2026, 5, 1))
    score(db_session, uscc, "A", datetime(2026, 2, 1, tzinfo=UTC))
    score(db_session, uscc, "BBB", datetime(2026, 9, 1, tzinfo=UTC))  # one notch
    for month, headcount in ((date(2026, 6, 1), 40), (date(2026, 9, 1), 30)):  # -25%
        db_session.add(SocialInsuranceMonth(uscc=uscc, month=month, insured_headcount=headcount,
                                            contributions_fen=1, months_in_arrears=0))
    db_session.add(TaxMonth(uscc=uscc, month=date(2026, 1, 1), invoiced_sales_fen=1, tax_paid_fen=0,
                            in_arrears=True))  # before the loan
    db_session.flush()
    assert run_monitoring(db_session).raised == 0


def test_enterprises_without_an_outstanding_loan_are_not_monitored(db_session, make_enterprise, make_product, lend):  # noqa: F811
    product = make_product()
    in_default = make_enterprise(district_code="310116")
    declined = make_enterprise(district_code="310116")
    lend(in_default, product, DISBURSED, "defaulted")
    lend(declined, product, DISBURSED, "declined")
    for enterprise in (in_default, declined):
        db_session.add(TaxMonth(uscc=enterprise.uscc, month=date(2026, 8, 1), invoiced_sales_fen=1, tax_paid_fen=0,
                                in_arrears=True))
    db_session.flush()
    assert run_monitoring(db_session).raised == 0


def test_each_lending_bank_gets_its_own_alert_and_only_sees_its_own(db_session, borrower, make_product, lend):  # noqa: F811
    enterprise, first = borrower
    second = lend(enterprise, make_product(), DISBURSED, "repaying", gap_days=0)
    db_session.add(TaxMonth(uscc=enterprise.uscc, month=date(2026, 8, 1), invoiced_sales_fen=1, tax_paid_fen=0,
                            in_arrears=True))
    db_session.flush()
    assert run_monitoring(db_session).raised == 2
    for application in (first, second):
        rows, _more = alert_service.bank_alerts(db_session, application.bank_id)
        assert [row.alert.bank_id for row in rows] == [application.bank_id]
    rows, _more = alert_service.office_alerts(db_session, ["310116"])
    assert len(rows) == 2
    assert alert_service.office_alerts(db_session, ["310117"])[0] == []
    with pytest.raises(alert_service.AlertNotFound):
        alert_service.bank_alert(db_session, first.bank_id, rows[0].alert.id if rows[0].alert.bank_id != first.bank_id
                                 else rows[1].alert.id)


def test_acknowledging_keeps_the_alert_and_happens_once(db_session, borrower, make_user):
    from models.identity import Role

    enterprise, _application = borrower
    db_session.add(TaxMonth(uscc=enterprise.uscc, month=date(2026, 8, 1), invoiced_sales_fen=1, tax_paid_fen=0,
                            in_arrears=True))
    db_session.flush()
    run_monitoring(db_session)
    alert = alerts_of(db_session, enterprise.uscc)[0]
    officer = make_user(Role.OFFICE, district_code="310116")
    assert alert_service.acknowledge(db_session, alert, officer.id) is True
    assert alert_service.acknowledge(db_session, alert, officer.id) is False
    assert alert.acknowledged_by_id == officer.id
    assert alert_service.office_alerts(db_session, ["310116"], status="open")[0] == []
    assert len(alert_service.office_alerts(db_session, ["310116"], status="acknowledged")[0]) == 1
