"""`python -m loadtest [--soak] [--rebuild]`.

Environment: LOAD_DATABASE_URL (postgresql+psycopg://postgres@127.0.0.1:5432/xyd_load, kept between runs),
LOAD_INSTANCE (its model store; instance/load), LOAD_REDIS_URL (the shared cache and rate limits:
redis://127.0.0.1:6379/14, emptied each run), LOAD_ENTERPRISES (100000), LOAD_USERS (60), LOAD_SPAWN_RATE
(20/s), LOAD_DURATION (seconds: 60, or 600 with --soak), LOAD_WAIT_MIN / LOAD_WAIT_MAX (think time between a
user's requests, 0.5–1.5 s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from loadtest.population import empty_cache, ensure_seeded, environment, fixture
from loadtest.report import memory_verdict, print_report, read_samples
from tests.live_server import ROOT, free_port, serve

RSS_EVERY_S = 10


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__.splitlines()[0])
    parser.add_argument("--soak", action="store_true", help="run LOAD_DURATION (600 s) and watch worker memory")
    parser.add_argument("--rebuild", action="store_true", help="seed the load database afresh")
    args = parser.parse_args(argv)
    database_url = os.environ.get("LOAD_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/xyd_load")
    instance = Path(os.environ.get("LOAD_INSTANCE", ROOT / "instance" / "load")).resolve()
    enterprises = int(os.environ.get("LOAD_ENTERPRISES", "100000"))
    duration = int(os.environ.get("LOAD_DURATION", "600" if args.soak else "60"))
    users, spawn_rate = os.environ.get("LOAD_USERS", "60"), os.environ.get("LOAD_SPAWN_RATE", "20")

    print(ensure_seeded(database_url, instance, enterprises, args.rebuild), flush=True)
    env = environment(database_url, instance)
    empty_cache()
    if args.soak:
        env["XYD_MAX_REQUESTS"] = "0"  # no recycling of workers: a leak must show, not be hidden by restarts
    with tempfile.TemporaryDirectory(prefix="xyd-load-") as folder:
        fixture_file, samples_file = Path(folder) / "fixture.json", Path(folder) / "samples.tsv"
        fixture_file.write_text(json.dumps(fixture(database_url, instance)), encoding="utf-8")
        with serve({**env, "XYD_INSTANCE_PATH": str(instance)}, free_port(), workers=None) as server:
            workers = server.worker_pids()
            print(_warm(server.url, json.loads(fixture_file.read_text(encoding="utf-8")), len(workers)), flush=True)
            print(f"gunicorn {server.url}: {len(workers)} workers × {os.environ.get('XYD_THREADS', '1')} thread(s); "
                  f"locust {users} users for {duration} s …", flush=True)
            memory: list[tuple[float, int]] = []
            stop = threading.Event()
            sampler = threading.Thread(target=_sample_memory, args=(server, memory, stop), daemon=True)
            sampler.start()
            started = time.monotonic()
            locust = subprocess.run(  # noqa: S603 - our own interpreter and locustfile
                [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtest" / "locustfile.py"), "--headless",
                 "-u", users, "-r", spawn_rate, "-t", f"{duration}s", "--host", server.url, "--only-summary",
                 "--stop-timeout", "5", "--loglevel", "WARNING", "--exit-code-on-error", "0"],
                cwd=ROOT, env={**os.environ, "LOAD_FIXTURE": str(fixture_file), "LOAD_SAMPLES": str(samples_file)},
                capture_output=True, text=True)
            elapsed = time.monotonic() - started
            stop.set()
            sampler.join()
            recycled = len(set(server.worker_pids()) - set(workers))
        if locust.returncode != 0 or not samples_file.exists():
            print(locust.stdout[-3000:], locust.stderr[-3000:], sep="\n", file=sys.stderr)
            return 1
        samples = read_samples(samples_file)
    errors = print_report(samples, elapsed)
    print(f"workers replaced during the run (max_requests recycling or crashes): {recycled}")
    if args.soak:
        print(memory_verdict(memory))
    return 1 if errors else 0


def _sample_memory(server, memory: list, stop: threading.Event) -> None:
    started = time.monotonic()
    while not stop.wait(RSS_EVERY_S if memory else 0):
        memory.append((time.monotonic() - started, sum(server.rss_bytes(pid) for pid in server.worker_pids())))


def _warm(url: str, accounts: dict, workers: int) -> str:
    """Have the host's office cube built before measuring (about 10 s of one core on 100,000 enterprises;
    one worker builds it, the others read its snapshot): that is start-up cost, not load."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    import requests

    session = requests.Session()
    form = session.get(f"{url}/login", timeout=60).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    session.post(f"{url}/login", data={"username": accounts["office"][0]["username"],
                                       "password": accounts["password"], "csrf_token": token}, timeout=60)
    started = time.monotonic()

    def dashboard(_):
        return requests.get(f"{url}/office/dashboard", cookies=session.cookies, timeout=300).status_code

    with ThreadPoolExecutor(max_workers=4 * workers) as pool:
        statuses = list(pool.map(dashboard, range(4 * workers)))
    return (f"warm-up: {len(statuses)} concurrent office dashboards ({statuses.count(200)} answered 200) in "
            f"{time.monotonic() - started:.1f} s, so every worker holds the office cube")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
