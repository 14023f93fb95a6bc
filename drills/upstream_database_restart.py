"""Drill (upstream 3): PostgreSQL restarts while `xyd upstream push` is sending. The run may die with its
connection; the next run must pick up where it stopped — an event sent but not yet marked is resent and kept
once by the receiver — and every committed event arrives exactly once, in order per aggregate."""

from __future__ import annotations

import time

from drills import upstream_events as ue
from drills.outcome import Outcome
from tests.upstream_receiver import running_receiver

NAME = "upstream-db-restart"
ENTERPRISES = 40


def run(context) -> Outcome:
    platform, database = context.platform, context.database
    changes = ue.make_changes(platform, ENTERPRISES)
    expected = ue.unsent_ids(platform)
    with running_receiver() as receiver:
        receiver.behaviour.answer_delay_seconds = 0.01  # stored, then answered: the restart mostly falls there
        job = ue.start_push(platform, receiver)
        reached = ue.wait_for(lambda: len(receiver.stored) >= len(expected) // 3)
        at_restart = len(receiver.stored)
        began = time.monotonic()
        database.restart()
        restarted_in = time.monotonic() - began
        job_exit = job.wait(timeout=300)
        runs = ue.push_until_drained(platform, receiver)
        result = ue.tally(platform, receiver, expected, changes.rolled_back_ids)
    problems = []
    if not reached or at_restart >= len(expected):
        problems.append(f"the restart did not fall mid-batch ({at_restart} of {len(expected)} delivered)")
    if not result.exact:
        problems.append("not exactly once")
    detail = (f"{changes.needs} needs published and matched, {changes.loans} taken to repaying; "
              f"{database.how} after {at_restart} of {len(expected)} events ({restarted_in:.1f} s), the running push "
              f"exited {job_exit}, {runs} more run(s) to drain; {result.line()}")
    return Outcome(NAME, not problems, "; ".join(problems) + " — " + detail if problems else detail)
