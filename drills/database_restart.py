"""Drill (a): PostgreSQL restarts under a stream of writes. The app must recover by itself (pool_pre_ping
drops the dead pooled connections; no gunicorn restart) and lose no write it acknowledged."""

from __future__ import annotations

import time

from drills.outcome import Outcome
from drills.writes import WriteStream, audit_of_stream
from tests.live_server import free_port, serve

NAME = "database-restart"
BEFORE_S, AFTER_S = 4.0, 6.0


def run(context) -> Outcome:
    platform, token, database = context.platform, context.token, context.database
    with serve(platform.environment, free_port()) as server:
        workers_before = server.worker_pids()
        with WriteStream(server.url, token, "DRILLA") as stream:
            time.sleep(BEFORE_S)
            acknowledged_before = stream.acknowledged_count()
            restart_began = time.monotonic()
            database.restart()
            restart_done = time.monotonic()
            time.sleep(AFTER_S)
        result = stream.result
        workers_after = server.worker_pids()
        ready = context.get_status(server.url + "/readyz")
    stored, duplicated, unaudited = audit_of_stream(platform, "DRILLA")
    acknowledged = result.acknowledged
    lost = sorted(code for code in acknowledged if stored.get(code) != acknowledged[code])
    unacknowledged_but_stored = sorted(set(stored) - set(acknowledged))
    after_restart = [t for t in result.success_times if t > restart_done]
    recovery = (after_restart[0] - restart_done) if after_restart else None
    problems = []
    if not after_restart:
        problems.append("no write succeeded after the restart")
    if lost:
        problems.append(f"{len(lost)} acknowledged writes missing, e.g. {lost[:3]}")
    if duplicated or unaudited:
        problems.append(f"{duplicated} duplicated, {unaudited} without their audit row")
    if unacknowledged_but_stored or result.unfinished:
        problems.append(f"{len(result.unfinished)} writes never acknowledged, "
                        f"{len(unacknowledged_but_stored)} stored without acknowledgement")
    if workers_after != workers_before:
        problems.append(f"gunicorn workers changed {workers_before} → {workers_after}")
    if ready != 200:
        problems.append(f"/readyz answered {ready} after the drill")
    recovered = f"{recovery:.2f} s after the restart" if recovery is not None else "never"
    detail = (f"{database.how} after {acknowledged_before} writes, in {restart_done - restart_began:.1f} s; "
              f"{len(acknowledged)} writes acknowledged, {len(stored)} rows stored, {len(lost)} lost, "
              f"{duplicated} duplicated; {result.failed_attempts} attempts refused during the outage and retried "
              f"with the same Idempotency-Key; first success {recovered}; "
              f"gunicorn workers {'unchanged' if workers_after == workers_before else 'changed'}, /readyz {ready}")
    return Outcome(NAME, not problems, "; ".join(problems) + " — " + detail if problems else detail)
