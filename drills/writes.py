"""A stream of acknowledged writes: bank API clients listing products, each retried with the same
Idempotency-Key until the platform answers 201 — what a bank's integration does after a timeout.

What it proves is counted afterwards against the database: every acknowledged product is there, once,
with the audit row written in the same transaction, and nothing else carrying the stream's prefix is.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from drills.platform import Platform, post_json, product_body


@dataclass
class StreamResult:
    acknowledged: dict[str, int] = field(default_factory=dict)  # product code → id answered
    failed_attempts: int = 0  # answers other than 201 (or no answer) that were then retried
    unfinished: list[str] = field(default_factory=list)  # never acknowledged before the deadline
    failure_times: list[float] = field(default_factory=list)
    success_times: list[float] = field(default_factory=list)


class WriteStream:
    def __init__(self, base_url: str, token: str, prefix: str, clients: int = 6, retry_for: float = 60):
        self.url = base_url + "/api/v1/products"
        self.token, self.prefix, self.clients, self.retry_for = token, prefix, clients, retry_for
        self.result = StreamResult()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def acknowledged_count(self) -> int:
        with self._lock:
            return len(self.result.acknowledged)

    def _client(self, n: int) -> None:
        sequence = 0
        while not self._stop.is_set():
            sequence += 1
            code = f"{self.prefix}-{n}-{sequence}"
            self._write_until_acknowledged(code)

    def _write_until_acknowledged(self, code: str) -> None:
        deadline = time.monotonic() + self.retry_for
        pause = 0.05
        while time.monotonic() < deadline:
            status, body = post_json(self.url, self.token, product_body(code), idempotency_key=f"key-{code}")
            now = time.monotonic()
            with self._lock:
                if status == 201 and body:
                    self.result.acknowledged[code] = body["id"]
                    self.result.success_times.append(now)
                    return
                self.result.failed_attempts += 1
                self.result.failure_times.append(now)
            time.sleep(pause)
            pause = min(pause * 2, 1.0)
        with self._lock:
            self.result.unfinished.append(code)


def audit_of_stream(platform: Platform, prefix: str) -> tuple[dict[str, int], int, int]:
    """(code → id of every product carrying the prefix, how many codes appear twice, how many of them lack
    their product_created audit row)."""
    rows = platform.rows("SELECT code, id FROM products WHERE code LIKE :pattern", pattern=f"{prefix}-%")
    stored = {code: product_id for code, product_id in rows}
    unaudited = platform.scalar(
        "SELECT count(*) FROM products p WHERE p.code LIKE :pattern AND NOT EXISTS ("
        " SELECT 1 FROM audit_log a WHERE a.action = 'product_created'"
        " AND CAST(a.detail ->> 'product_id' AS INTEGER) = p.id)", pattern=f"{prefix}-%")
    return stored, len(rows) - len(stored), unaudited
