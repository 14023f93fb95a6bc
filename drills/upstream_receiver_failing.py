"""Drill (upstream 2): the city node answers 500, then stops answering within the timeout. The push job must
retry later with exponential backoff, keep every aggregate's order, stop hammering a receiver that keeps failing,
and end with every committed event delivered exactly once."""

from __future__ import annotations

from drills import upstream_events as ue
from drills.outcome import Outcome
from tests.upstream_receiver import running_receiver

NAME = "upstream-receiver-500"
ENTERPRISES = 25
FAILURES, STALLS = 8, 3
SETTINGS = {"XYD_UPSTREAM_TIMEOUT_SECONDS": "1", "XYD_UPSTREAM_BACKOFF_SECONDS": "0.5",
            "XYD_UPSTREAM_BACKOFF_MAX_SECONDS": "4"}


def run(context) -> Outcome:
    platform = context.platform
    changes = ue.make_changes(platform, ENTERPRISES)
    expected = ue.unsent_ids(platform)
    with running_receiver() as receiver:
        behaviour = receiver.behaviour
        behaviour.fail_next, behaviour.stall_next, behaviour.stall_seconds = FAILURES, STALLS, 2.0
        runs = ue.push_until_drained(platform, receiver, runs=40, pause=1.0, **SETTINGS)
        answered_500 = FAILURES - behaviour.fail_next
        timed_out = STALLS - behaviour.stall_next
        result = ue.tally(platform, receiver, expected, changes.rolled_back_ids)
    retries = int(platform.scalar("SELECT coalesce(sum(attempts - 1), 0) FROM upstream_outbox WHERE event_id = ANY(:ids)",
                                  ids=list(expected)))
    problems = []
    if answered_500 < FAILURES or timed_out < STALLS:
        problems.append(f"the faults were not all met ({answered_500} 500s, {timed_out} timeouts)")
    if not result.exact:
        problems.append("not exactly once")
    detail = (f"{changes.needs} needs published and matched, {changes.loans} taken to repaying; "
              f"receiver answered 500 {answered_500}× and timed out {timed_out}×: {retries} retries with backoff "
              f"over {runs} push runs; {result.line()}")
    return Outcome(NAME, not problems, "; ".join(problems) + " — " + detail if problems else detail)
