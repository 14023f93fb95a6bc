"""Drill (d): a gunicorn worker is killed (SIGKILL) while requests are in flight. The master must start a
replacement, the other worker must keep answering, and the writes cut off must leave nothing half-written:
each product either committed whole (with its audit row) — and the client's retry with the same key gets
it back — or not at all."""

from __future__ import annotations

import os
import signal
import time

from drills.outcome import Outcome
from drills.writes import WriteStream, audit_of_stream
from tests.live_server import free_port, serve

NAME = "worker-killed"
PREFIX = "DRILLD"


def run(context) -> Outcome:
    platform, token = context.platform, context.token
    with serve(platform.environment, free_port()) as server:
        workers_before = server.worker_pids()
        victim = workers_before[0]
        with WriteStream(server.url, token, PREFIX, clients=8) as stream:
            time.sleep(3)
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            replaced_after = _wait_for_replacement(server, victim, len(workers_before))
            time.sleep(3)
        result = stream.result
        workers_after = server.worker_pids()
        master_alive = server.process.poll() is None
    stored, duplicated, unaudited = audit_of_stream(platform, PREFIX)
    acknowledged = result.acknowledged
    lost = [code for code in acknowledged if stored.get(code) != acknowledged[code]]
    cut = [t for t in result.failure_times if t >= killed_at]
    served_after = [t for t in result.success_times if t >= killed_at]
    problems = []
    if replaced_after is None:
        problems.append(f"no replacement worker (workers now {workers_after})")
    if not served_after:
        problems.append("no write answered after the kill")
    if not master_alive:
        problems.append("the gunicorn master died")
    if lost or duplicated or unaudited or result.unfinished or set(stored) - set(acknowledged):
        problems.append(f"{len(lost)} acknowledged writes missing, {duplicated} duplicated, {unaudited} without "
                        f"their audit row, {len(result.unfinished)} never acknowledged, "
                        f"{len(set(stored) - set(acknowledged))} stored unacknowledged")
    replaced = f"{replaced_after:.1f} s" if replaced_after is not None else "never"
    detail = (f"worker {victim} killed under 8 writing clients: {len(cut)} requests cut off and retried, "
              f"replacement up after {replaced} "
              f"({workers_before} → {workers_after}), {len(served_after)} writes answered after the kill; "
              f"{len(acknowledged)} writes acknowledged, {len(stored)} stored "
              f"whole with their audit rows, 0 half-written" if not problems else "")
    return Outcome(NAME, not problems, "; ".join(problems) if problems else detail)


def _wait_for_replacement(server, victim: int, count: int, timeout: float = 30) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        pids = server.worker_pids()
        if victim not in pids and len(pids) == count:
            return time.monotonic() - started
        time.sleep(0.1)
    return None
