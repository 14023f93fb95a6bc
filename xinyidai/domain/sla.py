"""Releasing needs that no bank claimed within the claim SLA (DESIGN §5, §6).

The rule. A match (`matched` application) of an open need whose claim deadline — XYD_CLAIM_SLA_WORKING_DAYS
working days after it was matched, on the holiday-aware clock — has passed is *lapsed*. When the matching
engine would offer the need to a bank that has not had it (next by rank, within the enterprise's contact
control: only a need open to all banks, never a bank turned away, no more banks than the enterprise allows),
the lapsed banks lose the need — their matches are withdrawn by the platform with reason `sla_lapsed`, and
they are never offered that need again — and the next banks get it, each with a fresh SLA clock and a
`matched` event saying why. When no other bank could take it over, the lapsed matches stay: a late claim
still serves the enterprise better than nobody.

Every release is an application event (the enterprise's time line and notifications, the banks' histories)
and one audit row. Running it again changes nothing until another deadline passes, so a timer may run it
every few minutes; each need is locked while it is handled, so two runs never release one need twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import utcnow
from models.lending import Application, ApplicationEvent, ApplicationState, Channel, FinancingNeed, NeedStatus
from xinyidai.audit import record
from xinyidai.domain.lifecycle import transition
from xinyidai.domain.matching import SYSTEM, newcomers_without, rematch
from xinyidai.domain.working_days import WorkingCalendar, current_calendar

S = ApplicationState


@dataclass
class Release:
    """One need handed on: the banks that let it lapse and the banks that got it."""

    need_id: int
    uscc: str
    lapsed: list[Application]
    offered: list[Application]

    def as_dict(self) -> dict:
        def items(applications):
            return [{"application_id": a.id, "bank_id": a.bank_id, "product_id": a.product_id} for a in applications]

        return {"need_id": self.need_id, "uscc": self.uscc, "lapsed": items(self.lapsed),
                "offered": items(self.offered)}


@dataclass
class ReleaseRun:
    released: list[Release] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)  # needs past the SLA with no other bank to take them over

    def as_dict(self) -> dict:
        return {"released_needs": len(self.released),
                "lapsed_matches": sum(len(r.lapsed) for r in self.released),
                "new_matches": sum(len(r.offered) for r in self.released),
                "kept_needs": self.kept, "needs": [r.as_dict() for r in self.released]}


def lapsed_by_need(session: Session, sla_working_days: int, now: datetime,
                   calendar: WorkingCalendar) -> dict[int, list[int]]:
    """Application ids of lapsed matches, per need. A deadline is never earlier than as many calendar days,
    so the database narrows the search and the working-day clock decides."""
    rows = session.execute(
        sa.select(Application.id, Application.need_id, Application.created_at)
        .join(FinancingNeed, FinancingNeed.id == Application.need_id)
        .where(Application.state == S.MATCHED, FinancingNeed.status == NeedStatus.OPEN,
               Application.created_at <= now - timedelta(days=sla_working_days))
        .order_by(Application.need_id, Application.id))
    lapsed: dict[int, list[int]] = defaultdict(list)
    for application_id, need_id, created_at in rows:
        if calendar.add_working_days(created_at, sla_working_days) <= now:
            lapsed[need_id].append(application_id)
    return lapsed


def release_unclaimed(session: Session, *, sla_working_days: int, now: datetime | None = None,
                      calendar: WorkingCalendar | None = None, today: date | None = None) -> ReleaseRun:
    """Apply the rule above to every open need. Does not commit."""
    now = now or utcnow()
    calendar = calendar or current_calendar()
    run = ReleaseRun()
    for need_id, application_ids in sorted(lapsed_by_need(session, sla_working_days, now, calendar).items()):
        need = session.get(FinancingNeed, need_id, with_for_update=True)
        # Read again under the lock: another run, a claim or the enterprise may have got there first.
        lapsed = [a for a in session.scalars(sa.select(Application).where(Application.id.in_(application_ids))
                                             .execution_options(populate_existing=True))
                  if a.state is S.MATCHED]
        if need.status is not NeedStatus.OPEN or not lapsed:
            continue
        if not newcomers_without(session, need, frozenset(a.id for a in lapsed), today):
            run.kept.append(need.id)
            continue
        for application in lapsed:
            transition(session, application, S.WITHDRAWN, SYSTEM,
                       detail={"reason": "sla_lapsed", "sla_working_days": sla_working_days})
        offered = rematch(session, need, today).created
        for application in offered:
            session.add(ApplicationEvent(application_id=application.id, from_state=None, to_state=S.MATCHED,
                                         channel=Channel.SYSTEM, detail={"reason": "sla_release",
                                                                         "sla_working_days": sla_working_days}))
        session.flush()
        record(session, "need_released_after_sla", subject_uscc=need.uscc,
               detail={"need_id": need.id, "sla_working_days": sla_working_days,
                       "lapsed_application_ids": [a.id for a in lapsed],
                       "offered_application_ids": [a.id for a in offered]})
        run.released.append(Release(need.id, need.uscc, lapsed, offered))
    return run
