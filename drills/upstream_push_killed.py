"""Drill (upstream 1): `xyd upstream push` is killed (SIGKILL) in the middle of a batch. The next run must
deliver the rest; the event whose acknowledgement was cut off is resent and the receiver, keyed by event id,
keeps it once. Every committed event arrives exactly once, in order per aggregate; none from a rolled-back
change."""

from __future__ import annotations

import signal

from drills import upstream_events as ue
from drills.outcome import Outcome
from tests.upstream_receiver import running_receiver

NAME = "upstream-push-killed"
ENTERPRISES = 60


def run(context) -> Outcome:
    platform = context.platform
    changes = ue.make_changes(platform, ENTERPRISES)
    expected = ue.unsent_ids(platform)
    with running_receiver() as receiver:
        receiver.behaviour.answer_delay_seconds = 0.01  # stored, then answered: the kill mostly falls there
        job = ue.start_push(platform, receiver)
        reached = ue.wait_for(lambda: len(receiver.stored) >= len(expected) // 3)
        job.send_signal(signal.SIGKILL)
        job.wait()
        at_kill = len(receiver.stored)
        runs = ue.push_until_drained(platform, receiver)
        result = ue.tally(platform, receiver, expected, changes.rolled_back_ids)
    problems = []
    if not reached or at_kill >= len(expected):
        problems.append(f"the job was not killed mid-batch ({at_kill} of {len(expected)} delivered at the kill)")
    if not result.exact:
        problems.append("not exactly once")
    detail = (f"{changes.needs} needs published and matched, {changes.loans} taken to repaying; "
              f"push killed after {at_kill} of {len(expected)} events, {runs} more run(s) to drain; {result.line()}; "
              f"{len(changes.rolled_back_ids)} events of rolled-back changes never left the database")
    return Outcome(NAME, not problems, "; ".join(problems) + " — " + detail if problems else detail)
