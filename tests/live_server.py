"""A real gunicorn serving the app on a free local port, over its own database, for browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def throwaway_database(folder: Path, base: str | None = None):
    """SQLite in `folder`, or a fresh PostgreSQL database beside `base`'s (default TEST_DATABASE_URL's),
    dropped afterwards."""
    base = base or os.environ.get("TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{folder / 'live.sqlite3'}"
        return
    name = f"xyd_live_{uuid.uuid4().hex[:10]}"
    # pre-ping: the drop must work even after the server restarted meanwhile (the restart drill)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@dataclass
class LiveServer:
    """A running gunicorn: its URL, its master process and the file its log goes to."""

    url: str
    process: subprocess.Popen
    log: Path

    def worker_pids(self) -> list[int]:
        """The master's current worker processes (Linux /proc)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return sorted(int(pid) for pid in children.read_text().split())

    @staticmethod
    def rss_bytes(pid: int) -> int:
        """Resident memory of one process (Linux /proc); 0 once it has gone."""
        try:
            fields = Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()
        except (OSError, IndexError):
            return 0
        return int(fields[0]) * 1024


@contextmanager
def gunicorn(environment: dict[str, str], port: int):
    """Start gunicorn with the project's own config and wait until it answers; yields its URL."""
    with serve(environment, port) as server:
        yield server.url


@contextmanager
def serve(environment: dict[str, str], port: int, *, workers: int | None = 2, ready_timeout: float = 120):
    """Start gunicorn with the project's own config (`workers=None`: the config's own count, from the cores)
    and wait until it answers. The drills (`make drill`) and the load test (`make load`) use it too."""
    env = {**os.environ, **environment, "XYD_BIND": f"127.0.0.1:{port}"}
    if workers is not None:
        env["XYD_WORKERS"] = str(workers)
    log_path = Path(environment["XYD_INSTANCE_PATH"]) / "gunicorn.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and config
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            try:
                with urllib.request.urlopen(url + "/login", timeout=2):  # noqa: S310 - loopback only
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError("gunicorn did not start:\n" + log_path.read_text()[-3000:]) from None
                time.sleep(0.2)
        yield LiveServer(url, process, log_path)
    finally:
        stop(process, timeout=15)
        log.close()


def stop(process: subprocess.Popen, timeout: float) -> None:
    """Ask a server to stop (SIGTERM: a graceful shutdown), killing it if it has not within `timeout`."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
