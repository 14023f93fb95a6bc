"""The PostgreSQL the drills run on, and how each one restarts it.

By default a private server: `initdb` into a temporary folder, started on a free port, so the restart
drill really restarts PostgreSQL without touching anybody else's server. With DRILL_DATABASE_URL the
drills make a throwaway database on that server instead; a shared server is not ours to restart, so
"restart" there terminates every connection to the drill's database (what clients see of a restart),
unless DRILL_PG_RESTART_COMMAND names a real restart (e.g. `pg_ctlcluster 15 main restart` on a
dedicated CI server).
"""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from tests.live_server import free_port, throwaway_database


@dataclass
class DrillDatabase:
    url: str
    restart: Callable[[], None]
    how: str  # worded in the drill's result line


def postgres_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


@contextmanager
def drill_database(folder: Path):
    """Yield a DrillDatabase: a fresh database and the way to restart what serves it."""
    external = os.environ.get("DRILL_DATABASE_URL")
    if external:
        with throwaway_database(folder, external) as url:
            command = os.environ.get("DRILL_PG_RESTART_COMMAND")
            if command:
                yield DrillDatabase(url, lambda: subprocess.run(shlex.split(command), check=True),  # noqa: S603
                                    f"`{command}`")
            else:
                yield DrillDatabase(url, lambda: terminate_connections(url),
                                    "every connection terminated (pg_terminate_backend)")
        return
    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries (pg_ctl) found: install PostgreSQL or set DRILL_DATABASE_URL")
    with private_server(bindir) as server, throwaway_database(folder, server.url) as url:
        yield DrillDatabase(url, server.restart, "private PostgreSQL server restarted (pg_ctl restart -m fast)")


def terminate_connections(url: str) -> None:
    name = sa.make_url(url).database
    admin = sa.create_engine(sa.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                       "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
    finally:
        admin.dispose()


@dataclass
class PrivateServer:
    url: str  # its `postgres` database
    bindir: Path
    data: Path

    def restart(self) -> None:
        _pg_ctl(self.bindir, self.data, "restart", "-m", "fast")


@contextmanager
def private_server(bindir: Path):
    """A PostgreSQL server of our own on a free port, its files in a temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="xyd-drill-pg-"))
    data, port = folder / "data", free_port()
    if os.geteuid() == 0:  # the server refuses to run as root: it runs as the postgres account
        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
    _run_as_server_owner([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                          "--no-sync", "-E", "UTF8"])
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    _pg_ctl(bindir, data, "start", "-o", options, "-l", str(folder / "server.log"))
    try:
        yield PrivateServer(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", bindir, data)
    finally:
        _pg_ctl(bindir, data, "stop", "-m", "immediate")
        shutil.rmtree(folder, ignore_errors=True)


def _pg_ctl(bindir: Path, data: Path, *args: str) -> None:
    _run_as_server_owner([str(bindir / "pg_ctl"), "-D", str(data), "-w", *args])


def _run_as_server_owner(command: list[str]) -> None:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
