"""What the upstream drills share: business changes made through the lifecycle on the drill's database (some
committed, some rolled back after the change was made), `xyd upstream push` run as the timer runs it, and the
count of what reached the receiver — committed, delivered, duplicated, lost, out of order, rolled back yet sent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

import sqlalchemy as sa

from tests.live_server import ROOT

ROLLED_BACK_EVERY = 5  # every fifth enterprise's need and claim are made, then the transaction rolled back


@dataclass
class Changes:
    needs: int  # needs published and committed
    loans: int  # applications taken from claim to repaying
    rolled_back_ids: set[str]  # event ids written in transactions that were then rolled back


@dataclass(frozen=True)
class Publisher:
    """Who publishes in the drill: the platform on the enterprise's behalf (no staff account, no login)."""

    enterprise_uscc: str
    id: None = None


def make_changes(platform, enterprises: int) -> Changes:
    """For `enterprises` operating enterprises without an open need: publish a need through the enterprise
    service (matching runs), then claim, approve, disburse and report repaying its first match — one committed
    transaction per step. Every ROLLED_BACK_EVERY-th enterprise's publish-and-claim is rolled back after it was made."""
    from models.base import SHANGHAI, utcnow
    from models.enterprise import Enterprise, EnterpriseStatus
    from models.lending import (
        Application,
        ApplicationState,
        Channel,
        FinancingNeed,
        GuaranteeType,
        NeedStatus,
    )
    from models.upstream import OutboxEvent
    from xinyidai import create_app
    from xinyidai.domain.lifecycle import Actor, Disbursement, locked_application, transition
    from xinyidai.domain.needs import publish_need
    from xinyidai.domain.vocabulary import CONTACT_PREFERENCES, PURPOSES
    from xinyidai.extensions import db

    s = ApplicationState
    app = create_app({"SQLALCHEMY_DATABASE_URI": platform.database_url, "XYD_INSTANCE_PATH": str(platform.instance),
                      "SECRET_KEY": "drill-secret"})
    actor = Actor(Channel.SYSTEM)
    loan = {"disbursement": Disbursement(30_000_000, 380, 12, utcnow().astimezone(SHANGHAI).date(), GuaranteeType.CREDIT)}
    steps = [(s.CLAIMED, {}), (s.APPROVED, {}), (s.DISBURSED, loan), (s.REPAYING, {})]
    need = {"amount_fen": 50_000_000, "term_months": 12, "purpose": next(iter(PURPOSES)),
            "guarantee_types": [g.value for g in GuaranteeType], "urgency": "normal",
            "contact_preference": next(iter(CONTACT_PREFERENCES))}
    changes = Changes(0, 0, set())
    with app.app_context(), app.test_request_context("/"):
        session = db.session
        busy = sa.select(FinancingNeed.uscc).where(FinancingNeed.status.in_([NeedStatus.OPEN, NeedStatus.CLAIMED]))
        usccs = session.scalars(sa.select(Enterprise.uscc).where(
            Enterprise.status == EnterpriseStatus.OPERATING, Enterprise.uscc.not_in(busy))
            .order_by(Enterprise.uscc).limit(enterprises)).all()
        for n, uscc in enumerate(usccs):
            published, _fits = publish_need(session, Publisher(uscc), dict(need))
            first = session.scalar(sa.select(Application.id).where(Application.need_id == published.id)
                                   .order_by(Application.match_rank.desc(), Application.id).limit(1))
            if n % ROLLED_BACK_EVERY == ROLLED_BACK_EVERY - 1:
                if first is not None:
                    transition(session, locked_application(session, first), s.CLAIMED, actor)
                changes.rolled_back_ids.update(session.scalars(sa.select(OutboxEvent.event_id).where(
                    OutboxEvent.status == "pending", OutboxEvent.id > _committed_high())))
                session.rollback()  # the request failed after the change: neither the change nor its events stay
                continue
            session.commit()
            changes.needs += 1
            if first is None:
                continue
            for to_state, detail in steps:
                transition(session, locked_application(session, first), to_state, actor, detail=detail)
                session.commit()
            changes.loans += 1
        db.engine.dispose()
    return changes


def _committed_high() -> int:
    """The highest outbox id another connection sees: what this transaction added lies above it."""
    from xinyidai.extensions import db

    with db.engine.connect() as other:
        return int(other.scalar(sa.text("SELECT coalesce(max(id), 0) FROM upstream_outbox")))


def push_environment(platform, receiver, **settings) -> dict[str, str]:
    return {**os.environ, **platform.environment, "XYD_UPSTREAM_URL": receiver.url, **settings}


def start_push(platform, receiver, **settings) -> subprocess.Popen:
    """`xyd upstream push` in the background, as the timer starts it."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
        [sys.executable, "-c", "from xinyidai.cli import main; main()", "upstream", "push", "--limit", "100000"],
        cwd=ROOT, env=push_environment(platform, receiver, **settings), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def push_until_drained(platform, receiver, *, runs: int = 30, pause: float = 0.5, **settings) -> int:
    """Run the push job again and again (the timer's later runs) until nothing is pending; the runs it took."""
    for run in range(1, runs + 1):
        subprocess.run(  # noqa: S603
            [sys.executable, "-c", "from xinyidai.cli import main; main()", "upstream", "push", "--limit", "100000"],
            cwd=ROOT, env=push_environment(platform, receiver, **settings), capture_output=True, text=True)
        if not pending(platform):
            return run
        time.sleep(pause)
    return runs + 1


def pending(platform) -> int:
    return int(platform.scalar("SELECT count(*) FROM upstream_outbox WHERE status <> 'sent'"))


def unsent_ids(platform) -> set[str]:
    return {row[0] for row in platform.rows("SELECT event_id FROM upstream_outbox WHERE status <> 'sent'")}


def wait_for(condition, timeout: float = 120, step: float = 0.05) -> bool:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return True
        time.sleep(step)
    return False


@dataclass
class Tally:
    committed: int
    delivered: int
    duplicated: int
    lost: int
    out_of_order: int
    rolled_back_sent: int
    resent: int
    parked: int

    @property
    def exact(self) -> bool:
        return not (self.duplicated or self.lost or self.out_of_order or self.rolled_back_sent or self.parked)

    def line(self) -> str:
        return (f"events committed {self.committed}, delivered {self.delivered}, duplicated {self.duplicated}, "
                f"lost {self.lost}; out of order {self.out_of_order}, from rolled-back changes {self.rolled_back_sent}; "
                f"{self.resent} resent and absorbed by their event id")


def tally(platform, receiver, expected_ids: set[str], rolled_back: set[str]) -> Tally:
    """What the receiver holds against the outbox events `expected_ids` (committed since the drill began)."""
    rows = platform.rows("SELECT event_id, aggregate_type, aggregate_id, sequence, status FROM upstream_outbox")
    expected = [r for r in rows if r[0] in expected_ids]
    stored = receiver.stored
    stored_ids = [m["event_id"] for m in stored]
    # twice = the same event id stored again, or one change stored under two ids (same aggregate and sequence)
    positions = [(m["aggregate"]["type"], m["aggregate"]["id"], m["aggregate"]["sequence"]) for m in stored]
    duplicated = (len(stored_ids) - len(set(stored_ids))) + (len(positions) - len(set(positions)))
    delivered = expected_ids & set(stored_ids)
    wanted: dict[tuple[str, str], list[int]] = {}
    for _id, kind, key, sequence, _status in sorted(expected, key=lambda r: r[3]):
        wanted.setdefault((kind, key), []).append(sequence)
    arrived = receiver.by_aggregate()
    out_of_order = sum(1 for key, sequences in wanted.items() if arrived.get(key) != sequences)
    resent = sum(count - 1 for count in receiver.posts.values() if count > 1)
    parked = sum(1 for r in expected if r[4] == "parked")
    return Tally(len(expected_ids), len(delivered), duplicated, len(expected_ids - set(stored_ids)), out_of_order,
                 len(rolled_back & set(stored_ids)) + len(rolled_back & {r[0] for r in rows}), resent, parked)
