"""Rate-limit counters in a SQLite file of the instance folder, for the embedded default (no Redis).

flask-limiter (through `limits`) keeps its counters in a storage; without Redis that used to be each worker's
memory, so with N gunicorn workers every limit was up to N times looser (issue 13, item 7). This storage keeps
them in `<instance>/ratelimits.sqlite3` instead, which every worker and command of the host opens: one count per
key, whichever process serves the request. It is a `limits` storage (scheme ``xyd-sqlite``) for the fixed-window
strategy the app uses, and also holds the login throttle's counters (`xinyidai.domain.users`).

Each operation is one statement in autocommit mode (an UPSERT … RETURNING for an increment), so concurrent
workers never lose a count; WAL and a busy timeout let them wait for each other instead of failing. The file is
its own database, apart from the application's, so counting a request never competes with the request's own
writes. Several *hosts* share nothing here: they need `XYD_REDIS_URL` (README "Security").
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time

from limits.storage import Storage

SCHEME = "xyd-sqlite"
# One increment in this many also deletes the counters whose window has passed.
_SWEEP_ONE_IN = 500


def storage_uri(path: os.PathLike | str) -> str:
    return f"{SCHEME}://{os.fspath(path)}"


class SQLiteStorage(Storage):
    """A `limits` storage in one SQLite file: ``xyd-sqlite:///abs/path/ratelimits.sqlite3``."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = uri.removeprefix(f"{SCHEME}://")
        if not self.path:
            raise ValueError(f"{SCHEME}: no file named in {uri!r}")
        self._local = threading.local()
        with self._connection() as connection:
            connection.execute("CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL, "
                               "expires_at REAL NOT NULL)")

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (opened again after a fork: gunicorn workers each open their own)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            local.connection, local.pid = connection, os.getpid()
        return local.connection

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add `amount` to the key's count and return it; a key that is new (or whose window has passed) starts
        at `amount` and lives `expiry` seconds."""
        now = time.time()
        connection = self._connection()
        (value,) = connection.execute(
            "INSERT INTO counters (key, value, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET "
            "value = CASE WHEN counters.expires_at <= ?4 THEN excluded.value ELSE counters.value + excluded.value END, "
            "expires_at = CASE WHEN counters.expires_at <= ?4 THEN excluded.expires_at ELSE counters.expires_at END "
            "RETURNING value", (key, amount, now + expiry, now)).fetchone()
        if random.randrange(_SWEEP_ONE_IN) == 0:  # noqa: S311 - housekeeping, not security
            connection.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
        return int(value)

    def get(self, key: str) -> int:
        row = self._connection().execute("SELECT value FROM counters WHERE key = ? AND expires_at > ?",
                                         (key, time.time())).fetchone()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        row = self._connection().execute("SELECT expires_at FROM counters WHERE key = ? AND expires_at > ?",
                                         (key, now)).fetchone()
        return float(row[0]) if row else now

    def check(self) -> bool:
        try:
            self._connection().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return self._connection().execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        self._connection().execute("DELETE FROM counters WHERE key = ?", (key,))
