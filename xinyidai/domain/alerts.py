"""Reading and acknowledging alerts, scoped to the recipient: an office's districts or a bank."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import utcnow
from models.enterprise import Enterprise
from models.lending import Bank
from models.monitoring import Alert, AlertKind
from xinyidai.audit import record


class AlertNotFound(LookupError):
    """Not an alert of this recipient (answered as 404)."""


@dataclass(frozen=True)
class AlertRow:
    alert: Alert
    enterprise_name: str
    bank_name_zh: str | None
    bank_name_en: str | None


def _listing(where, *, status: str | None, kind: str | None, page: int, per_page: int) -> tuple:
    query = (sa.select(Alert, Enterprise.name, Bank.name_zh, Bank.name_en)
             .join(Enterprise, Enterprise.uscc == Alert.uscc).outerjoin(Bank, Bank.id == Alert.bank_id).where(where))
    if status == "open":
        query = query.where(Alert.acknowledged_at.is_(None))
    elif status == "acknowledged":
        query = query.where(Alert.acknowledged_at.is_not(None))
    if kind in {k.value for k in AlertKind}:
        query = query.where(Alert.kind == AlertKind(kind))
    return query.order_by(Alert.raised_at.desc(), Alert.id.desc()).offset((max(page, 1) - 1) * per_page).limit(per_page + 1)


def office_alerts(session: Session, districts, *, status: str | None = "open", kind: str | None = None,
                  page: int = 1, per_page: int = 50) -> tuple[list[AlertRow], bool]:
    rows = session.execute(_listing(Alert.district_code.in_(districts), status=status, kind=kind, page=page,
                                    per_page=per_page)).all()
    return [AlertRow(*row) for row in rows[:per_page]], len(rows) > per_page


def bank_alerts(session: Session, bank_id: int, *, status: str | None = "open", kind: str | None = None,
                page: int = 1, per_page: int = 50) -> tuple[list[AlertRow], bool]:
    """The lending bank's alerts (for the bank workspace and API)."""
    rows = session.execute(_listing(Alert.bank_id == bank_id, status=status, kind=kind, page=page,
                                    per_page=per_page)).all()
    return [AlertRow(*row) for row in rows[:per_page]], len(rows) > per_page


def open_counts(session: Session, districts) -> dict[str, int]:
    rows = session.execute(sa.select(Alert.kind, sa.func.count()).where(
        Alert.district_code.in_(districts), Alert.acknowledged_at.is_(None)).group_by(Alert.kind))
    return {getattr(kind, "value", kind): count for kind, count in rows}


def office_alert(session: Session, districts, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or alert.district_code not in districts:
        raise AlertNotFound(alert_id)
    return alert


def bank_alert(session: Session, bank_id: int, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or alert.bank_id != bank_id:
        raise AlertNotFound(alert_id)
    return alert


def acknowledge(session: Session, alert: Alert, user_id: int) -> bool:
    """Mark the alert seen; kept forever. False when it was acknowledged already (nothing changes)."""
    if alert.acknowledged_at is not None:
        return False
    alert.acknowledged_at, alert.acknowledged_by_id = utcnow(), user_id
    record(session, "alert_acknowledged", actor_user_id=user_id, subject_uscc=alert.uscc,
           detail={"alert_id": alert.id, "kind": alert.kind.value, "event_key": alert.event_key})
    session.flush()
    return True


REPAIRABLE_KINDS = (AlertKind.DISHONEST_RECORD, AlertKind.SERIOUS_PENALTY)


def mark_records_repaired(session: Session, repaired: dict, usccs) -> int:
    """The lending banks' open alerts about these public-credit records say the record was repaired (and when);
    each stays open until the bank or office acknowledges it. Returns how many alerts changed."""
    if not repaired:
        return 0
    changed = 0
    for alert in session.scalars(sa.select(Alert).where(Alert.uscc.in_(list(usccs)), Alert.kind.in_(REPAIRABLE_KINDS),
                                                        Alert.acknowledged_at.is_(None))):
        record_id = (alert.evidence or {}).get("record_id")
        if record_id in repaired and (alert.evidence or {}).get("repaired_on") != repaired[record_id].isoformat():
            alert.evidence = {**alert.evidence, "repaired_on": repaired[record_id].isoformat()}
            changed += 1
    return changed
