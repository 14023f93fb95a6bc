"""`python -m drills [NAME ...]`: prepare a demo platform on a throwaway PostgreSQL database, run the
drills (default: all) and print one line each. DRILL_ENTERPRISES sizes the demo population (1500);
DRILL_DATABASE_URL runs on an existing server instead of a private one (see drills/postgres.py)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from drills import (
    database_restart,
    model_files,
    nginx_proxy,
    truncated_delivery,
    upstream_database_restart,
    upstream_push_killed,
    upstream_receiver_failing,
    worker_kill,
)
from drills.outcome import Outcome
from drills.platform import Platform, get_status, prepare
from drills.postgres import DrillDatabase, drill_database

DRILLS = {module.NAME: module for module in (database_restart, truncated_delivery, model_files, worker_kill,
                                             nginx_proxy, upstream_push_killed, upstream_receiver_failing,
                                             upstream_database_restart)}


@dataclass
class DrillContext:
    platform: Platform
    token: str
    database: DrillDatabase
    get_status = staticmethod(get_status)


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in DRILLS]
    if unknown:
        print(f"unknown drill(s) {', '.join(unknown)}; choose from {', '.join(DRILLS)}", file=sys.stderr)
        return 2
    enterprises = int(os.environ.get("DRILL_ENTERPRISES", "1500"))
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="xyd-drill-") as folder, drill_database(Path(folder)) as database:
        started = time.monotonic()
        print(f"preparing: demo population of {enterprises} enterprises on {_shown(database.url)} …", flush=True)
        platform, token = prepare(database.url, Path(folder) / "instance", enterprises)
        print(f"prepared in {time.monotonic() - started:.0f} s", flush=True)
        context = DrillContext(platform, token, database)
        for name in names or list(DRILLS):
            started = time.monotonic()
            try:
                outcome = DRILLS[name].run(context)
            except Exception as error:  # a drill that crashes is a failed drill, and the others still run
                traceback.print_exc()
                outcome = Outcome(name, False, f"the drill itself failed: {error}")
            outcome.detail += f" [{time.monotonic() - started:.0f} s]"
            print(outcome.line(), flush=True)
            outcomes.append(outcome)
    failed = [o.name for o in outcomes if not o.passed]
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} drills passed" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _shown(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
