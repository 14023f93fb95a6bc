"""Reporting up to the city node (融资成效报送, 接入全国融资信用服务平台): what goes up, exactly once, in order.

Every change the city node must hear of writes one outbox row *in the transaction of the change* — a
rolled-back change leaves no event, a committed one cannot lose its event. The hooks sit where each change
happens, one call each: the lifecycle's `transition` (claims, decisions, disbursements, repayment status,
withdrawals), need publishing / editing / withdrawing, whitelist publishing; a match is an application row
being inserted (or an untouched one deleted), which mapper events below catch wherever it happens.

`push` sends pending events oldest first; within one aggregate (a need, an application, a district's
whitelist or figures) strictly in order: an event that failed waits for its retry (exponential backoff) and
one the receiver rejected (4xx) is parked with the receiver's reason, and either way the later events of
that aggregate wait behind it while the other aggregates flow. The event id (a UUID) is stable across
resends, so a resend after a crash between "sent" and "marked" is harmless.

`reconcile` compares the month's figures the receiver holds with the platform's own, computed by the
monthly report's own function (xinyidai.domain.figures.reports.month_figures), and lists every difference.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from models.base import utcnow
from models.enterprise import Enterprise
from models.lending import Application, ApplicationEvent, ApplicationState, Bank, FinancingNeed, Product
from models.scoring import WhitelistEntry, WhitelistVersion
from models.upstream import OutboxEvent, OutboxStatus, Reconciliation
from xinyidai.upstream.contract import SCHEMA_VERSION, problems

S = ApplicationState
Q = OutboxStatus  # the queue's states
DEFAULT_PLATFORM = "xinyidai"
PUSH_LOCK = 0x58594455  # "XYDU": the advisory lock key of `xyd upstream push`

EVENT_OF_STATE = {
    S.CLAIMED: "application.claimed", S.APPROVED: "application.approved", S.DECLINED: "application.declined",
    S.WITHDRAWN: "application.withdrawn", S.DISBURSED: "loan.disbursed",
    S.REPAYING: "loan.repayment_status", S.OVERDUE: "loan.repayment_status", S.REPAID: "loan.repayment_status",
    S.DEFAULTED: "loan.repayment_status",
}


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _platform() -> str:
    from flask import current_app, has_app_context

    return current_app.config.get("XYD_UPSTREAM_PLATFORM") or DEFAULT_PLATFORM if has_app_context() else DEFAULT_PLATFORM


def emit(bind, event_type: str, aggregate: tuple[str, str], district_code: str, payload: dict, *,
         occurred_at: datetime | None = None) -> str:
    """Write one outbox row through `bind` (the session, or the flushing connection) and return its event id.
    Does not commit: the row belongs to the caller's transaction."""
    aggregate_type, aggregate_id = aggregate
    sequence = 1 + (bind.scalar(sa.select(sa.func.coalesce(sa.func.max(OutboxEvent.sequence), 0)).where(
        OutboxEvent.aggregate_type == aggregate_type, OutboxEvent.aggregate_id == aggregate_id)) or 0)
    occurred_at = occurred_at or utcnow()
    event_id = str(uuid.uuid4())
    message = {"event_id": event_id, "event_type": event_type, "schema_version": SCHEMA_VERSION,
               "occurred_at": _timestamp(occurred_at), "district_code": district_code, "platform": _platform(),
               "aggregate": {"type": aggregate_type, "id": aggregate_id, "sequence": sequence}, "payload": payload}
    bind.execute(sa.insert(OutboxEvent.__table__).values(
        event_id=event_id, event_type=event_type, aggregate_type=aggregate_type, aggregate_id=aggregate_id,
        sequence=sequence, district_code=district_code, occurred_at=occurred_at, message=message,
        status=Q.PENDING.value, attempts=0))
    return event_id


# ---------------------------------------------------------------- the hooks

def _application_facts(bind, application: Application) -> tuple[dict, str]:
    """(the payload every application event carries, the enterprise's district) in one query."""
    bank_code, product_code, district = bind.execute(
        sa.select(Bank.code, Product.code, Enterprise.district_code)
        .select_from(Product).join(Bank, Bank.id == Product.bank_id)
        .join(Enterprise, Enterprise.uscc == application.uscc)
        .where(Product.id == application.product_id)).one()
    state = application.state or S.MATCHED
    return {"application_id": application.id, "need_id": application.need_id, "uscc": application.uscc,
            "bank_code": bank_code, "product_code": product_code, "state": S(state).value}, district


def application_moved(session: Session, application: Application, event: ApplicationEvent, *,
                      by_enterprise: bool) -> str:
    """The lifecycle's one hook: the transition `event` just flushed, as the event the city node hears."""
    base, district = _application_facts(session, application)
    payload = {**base, "channel": event.channel.value}
    to_state = event.to_state
    # A step added after this contract version (the guarantee step, and a guarantor's decline handing the
    # application back to the bank's claim): reported, never dropped.
    if to_state not in EVENT_OF_STATE or (to_state is S.CLAIMED and event.from_state not in (None, S.MATCHED)):
        payload["from_state"] = getattr(event.from_state, "value", event.from_state)
        return emit(session, "application.state_changed", ("application", str(application.id)), district, payload,
                    occurred_at=event.occurred_at)
    if to_state is S.CLAIMED:
        payload["claimed_at"] = _timestamp(application.claimed_at or event.occurred_at)
    elif to_state in (S.APPROVED, S.DECLINED):
        payload["decided_at"] = _timestamp(application.decided_at or event.occurred_at)
        if to_state is S.DECLINED:
            payload["reason_code"] = application.decline_reason_code
    elif to_state is S.WITHDRAWN:
        payload["by_enterprise"] = by_enterprise
        if (event.detail or {}).get("reason"):
            payload["reason"] = str(event.detail["reason"])[:64]
    elif to_state is S.DISBURSED:
        payload.update(amount_fen=application.disbursed_amount_fen, rate_bp=application.rate_bp,
                       term_months=application.term_months, disbursed_on=application.disbursed_on.isoformat(),
                       guarantee_type=application.guarantee_type.value, first_loan=bool(application.first_loan))
    else:
        payload.update(status=to_state.value, days_past_due=application.days_past_due or 0)
    return emit(session, EVENT_OF_STATE[to_state], ("application", str(application.id)), district, payload,
                occurred_at=event.occurred_at)


@sa_event.listens_for(Application, "after_insert")
def _match_created(_mapper, connection, application: Application) -> None:
    """Usually the aggregate's first event; not always on SQLite, which reuses the id of a deleted match."""
    payload, district = _application_facts(connection, application)
    payload.update(channel="system", match_rank=application.match_rank)
    emit(connection, "match.created", ("application", str(application.id)), district, payload)


@sa_event.listens_for(Application, "after_delete")
def _match_removed(_mapper, connection, application: Application) -> None:
    """Matching deletes a match nobody touched when it is no longer offered: the city node hears that too."""
    payload, district = _application_facts(connection, application)
    payload.update(channel="system", match_rank=application.match_rank)
    emit(connection, "match.removed", ("application", str(application.id)), district, payload)


def need_changed(session: Session, need: FinancingNeed, event_type: str) -> str:
    """need.published / need.updated / need.withdrawn: the need's terms and the enterprise's registry identity,
    never its contact person, telephone, free-text detail or any source data (DESIGN §8)."""
    section, size, district = session.execute(
        sa.select(Enterprise.industry_section, Enterprise.size_class, Enterprise.district_code)
        .where(Enterprise.uscc == need.uscc)).one()
    payload = {"need_id": need.id, "uscc": need.uscc, "industry_section": section,
               "size_class": getattr(size, "value", size), "amount_fen": need.amount_fen,
               "term_months": need.term_months, "purpose": need.purpose,
               "guarantee_types": sorted(set(need.guarantee_types or [])),
               "urgency": getattr(need.urgency, "value", need.urgency) or "normal",
               "status": getattr(need.status, "value", need.status) or "open",
               "published_at": _timestamp(need.published_at)}
    return emit(session, event_type, ("need", str(need.id)), district, payload)


def whitelist_published(session: Session, version: WhitelistVersion, superseded: list[int]) -> str:
    entries = [{"uscc": uscc, "grade": grade, "change": change} for uscc, grade, change in session.execute(
        sa.select(WhitelistEntry.uscc, WhitelistEntry.grade, WhitelistEntry.change)
        .where(WhitelistEntry.whitelist_version_id == version.id).order_by(WhitelistEntry.uscc))]
    payload = {"version_id": version.id, "district_code": version.district_code,
               "model_version": version.model_version, "min_grade": version.min_grade,
               "published_at": _timestamp(version.published_at), "superseded_version_ids": sorted(superseded),
               "entries": entries}
    return emit(session, "whitelist.published", ("whitelist", version.district_code), version.district_code,
                payload, occurred_at=version.published_at)


# ---------------------------------------------------------------- monthly figures (融资成效)

def platform_figures(session: Session, district_code: str, month: date) -> dict:
    """{"figures": {key: value or None}, "suppressed": [keys]}: the monthly report's '本月' column of the
    district, read through the report's own function, in the contract's units (amounts in fen)."""
    from xinyidai.domain.figures.reports import month_figures
    from xinyidai.domain.scope import office_scope

    figures, suppressed = {}, []
    for key, (kpi, cell) in month_figures(session, office_scope(district_code), month).items():
        if cell.suppressed:
            suppressed.append(key)
        if cell.suppressed or cell.value is None:
            figures[key] = None
        elif kpi.unit in ("count", "wan"):
            figures[key] = int(cell.value)
        else:
            figures[key] = round(float(cell.value), 4)
    return {"figures": figures, "suppressed": suppressed}


def queue_monthly_figures(session: Session, month: date, districts) -> list[str]:
    """One figures.monthly event per district for `month` (a re-run sends the month again: the receiver
    keeps the latest)."""
    ids = []
    for district in districts:
        payload = {"month": f"{month:%Y-%m}", "district_code": district, **platform_figures(session, district, month)}
        ids.append(emit(session, "figures.monthly", ("figures", f"{district}-{month:%Y-%m}"), district, payload))
    return ids


# ---------------------------------------------------------------- sending

@dataclass(frozen=True)
class Delivery:
    """What the receiver made of one event."""

    outcome: str  # "acknowledged" | "rejected" (4xx about the message: park it) | "failed" (retry later)
    reason: str | None = None


@dataclass
class PushSummary:
    sent: int = 0
    failed: int = 0
    parked: int = 0
    waiting: int = 0  # behind an earlier event of the same aggregate, or not yet due for its retry
    stopped_early: bool = False  # the receiver failed `max_failures` times in a row: the rest waits
    errors: list[str] = field(default_factory=list)


def backoff_delay(attempts: int, base_seconds: float, max_seconds: float) -> timedelta:
    """base × 2^(attempts − 1), at most max_seconds: 30 s, 1 min, 2 min, … 1 h."""
    return timedelta(seconds=min(max_seconds, base_seconds * 2 ** max(attempts - 1, 0)))


def _blocked_aggregates(session: Session) -> set[tuple[str, str]]:
    return {(kind, key) for kind, key in session.execute(sa.select(OutboxEvent.aggregate_type, OutboxEvent.aggregate_id)
                                                          .where(OutboxEvent.status == Q.PARKED).distinct())}


def push(session: Session, send: Callable[[dict], Delivery], *, limit: int = 1000, base_seconds: float = 30,
         max_seconds: float = 3600, max_failures: int = 3, now: Callable[[], datetime] = utcnow) -> PushSummary:
    """Send up to `limit` pending events, committing after each, so a crash loses at most the mark of the one
    in flight (its resend is harmless: same event id)."""
    summary = PushSummary()
    blocked = _blocked_aggregates(session)
    ids = session.scalars(sa.select(OutboxEvent.id).where(OutboxEvent.status == Q.PENDING)
                          .order_by(OutboxEvent.id).limit(limit)).all()
    in_a_row = 0
    for outbox_id in ids:
        row = session.get(OutboxEvent, outbox_id)
        key = (row.aggregate_type, row.aggregate_id)
        if key in blocked or (row.next_attempt_at is not None and row.next_attempt_at > now()):
            blocked.add(key)
            summary.waiting += 1
            continue
        invalid = problems(row.message)
        delivery = Delivery("rejected", "invalid against the contract: " + "; ".join(invalid)) if invalid else send(row.message)
        row.attempts += 1
        if delivery.outcome == "acknowledged":
            row.status, row.sent_at, row.last_error, row.next_attempt_at = Q.SENT, now(), None, None
            summary.sent += 1
            in_a_row = 0
        elif delivery.outcome == "rejected":
            row.status, row.parked_at, row.last_error = Q.PARKED, now(), (delivery.reason or "rejected")[:1000]
            blocked.add(key)
            summary.parked += 1
            in_a_row = 0
        else:
            row.last_error = (delivery.reason or "failed")[:1000]
            row.next_attempt_at = now() + backoff_delay(row.attempts, base_seconds, max_seconds)
            blocked.add(key)
            summary.failed += 1
            summary.errors.append(row.last_error)
            in_a_row += 1
        session.commit()
        if in_a_row >= max_failures:
            summary.stopped_early = True
            break
    return summary


def requeue(session: Session, event_id: str, *, actor_user_id: int | None = None,
            actor_label: str | None = None) -> OutboxEvent | None:
    """A parked event back in the queue (after the cause was fixed with the city node), audited; None when no
    such event is parked. Its aggregate's later events follow it in order."""
    from xinyidai.audit import record

    row = session.scalar(sa.select(OutboxEvent).where(OutboxEvent.event_id == event_id))
    if row is None or row.status is not Q.PARKED:
        return None
    record(session, "upstream_event_requeued", actor_user_id=actor_user_id, actor_label=actor_label,
           detail={"event_id": row.event_id, "event_type": row.event_type, "receiver_reason": row.last_error})
    row.status, row.parked_at, row.next_attempt_at = Q.PENDING, None, None
    return row


# ---------------------------------------------------------------- reconciliation

def _same(left, right) -> bool:
    if left is None or right is None:
        return left is None and right is None
    try:
        return round(float(left), 4) == round(float(right), 4)
    except (TypeError, ValueError):
        return left == right


def reconcile(session: Session, district_code: str, month: date,
              fetch: Callable[[str, str], dict | None]) -> Reconciliation:
    """Compare the receiver's figures of the month (`fetch(district, 'YYYY-MM')`: its figures, None when it
    holds none; an OSError when unreachable) with the platform's own; stored (not committed) and returned."""
    own = platform_figures(session, district_code, month)["figures"]
    result = Reconciliation(month=f"{month:%Y-%m}", district_code=district_code, ran_at=utcnow(),
                            platform_figures=own, differences=[])
    try:
        theirs = fetch(district_code, f"{month:%Y-%m}")
    except OSError as error:  # unreachable (requests' errors are OSErrors): nothing to compare, say why
        result.error = f"receiver not reachable: {error}"[:1000]
    else:
        if theirs is None:
            result.error = "the receiver holds no figures for this month"
        result.receiver_figures = theirs
        result.differences = [{"figure": key, "receiver": (theirs or {}).get(key), "platform": value}
                              for key, value in own.items() if not _same((theirs or {}).get(key), value)]
    session.add(result)
    session.flush()
    return result


# ---------------------------------------------------------------- what the admin sees

def outbox_counts(session: Session) -> dict[str, int]:
    counts = {status: n for status, n in session.execute(
        sa.select(OutboxEvent.status, sa.func.count()).group_by(OutboxEvent.status))}
    return {status.value: int(counts.get(status, 0)) for status in Q}


def outbox_rows(session: Session, status: OutboxStatus, *, page: int = 1, per_page: int = 50) -> tuple[list[OutboxEvent], bool]:
    """Events of one status: pending and parked oldest first (the queue's order), sent newest first."""
    order = OutboxEvent.id.desc() if status is Q.SENT else OutboxEvent.id
    rows = session.scalars(sa.select(OutboxEvent).where(OutboxEvent.status == status).order_by(order)
                           .offset((max(page, 1) - 1) * per_page).limit(per_page + 1)).all()
    return list(rows[:per_page]), len(rows) > per_page


def latest_reconciliations(session: Session) -> list[Reconciliation]:
    """The last reconciliation run: every district reconciled for the most recently reconciled month."""
    last = session.scalar(sa.select(Reconciliation).order_by(Reconciliation.id.desc()).limit(1))
    if last is None:
        return []
    newest = (sa.select(Reconciliation.district_code, sa.func.max(Reconciliation.id).label("id"))
              .where(Reconciliation.month == last.month).group_by(Reconciliation.district_code).subquery())
    return list(session.scalars(sa.select(Reconciliation).join(newest, newest.c.id == Reconciliation.id)
                                .order_by(Reconciliation.district_code)))


@contextmanager
def single_pusher(engine: sa.Engine):
    """Yields whether this process may push: on PostgreSQL one pusher at a time (a session advisory lock on a
    connection of its own, released when the run ends or the connection dies), so two runs never interleave
    one aggregate's events. SQLite (one machine, embedded) needs no lock."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as connection:
        got = bool(connection.scalar(sa.select(sa.func.pg_try_advisory_lock(PUSH_LOCK))))
        connection.commit()
        try:
            yield got
        finally:
            if got:
                try:
                    connection.execute(sa.select(sa.func.pg_advisory_unlock(PUSH_LOCK)))
                    connection.commit()
                except sa.exc.DBAPIError:  # the server went away: the lock went with the connection
                    pass
