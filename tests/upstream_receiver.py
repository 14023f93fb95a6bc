"""A stand-in for the city node: a small HTTP receiver on 127.0.0.1 (stdlib http.server in a thread) that
validates every message against the contract's schemas and stores it once per event id, as the real one
must. Tests and drills make it fail on purpose: answer 500, time out, reject chosen events.

POST /events            → 200 stored (or already held), 422 with the schema problems
GET  /figures/D/YYYY-MM → 200 {"figures": …} of the latest figures.monthly it holds, 404 without
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from xinyidai.upstream.contract import problems


@dataclass
class Behaviour:
    """How the next requests are answered: each list/number is consumed as requests arrive."""

    fail_next: int = 0  # answer this many POSTs with `fail_status`
    fail_status: int = 500
    stall_next: int = 0  # hold this many POSTs for `stall_seconds` before answering (a client timeout)
    stall_seconds: float = 3.0
    delay_seconds: float = 0.0  # every POST waits this long first (a slow receiver: a batch takes a while)
    answer_delay_seconds: float = 0.0  # … or after storing, before answering: a sender cut off then resends
    reject: set[str] = field(default_factory=set)  # event ids answered 422 (poison)
    token: str | None = None  # when set, POSTs without "Authorization: Bearer <token>" get 401


class Receiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.behaviour = Behaviour()
        self.stored: list[dict] = []  # accepted messages, once each, in arrival order
        self.held: set[str] = set()
        self.posts: Counter[str] = Counter()  # event id → POSTs received (resends included)
        self.invalid: list[tuple[dict, list[str]]] = []
        self.figures: dict[tuple[str, str], dict] = {}
        self.server: ThreadingHTTPServer | None = None
        self.scheme = "http"

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    @property
    def ids(self) -> list[str]:
        with self.lock:
            return [m["event_id"] for m in self.stored]

    def by_aggregate(self) -> dict[tuple[str, str], list[int]]:
        """The sequences each aggregate's events arrived in."""
        with self.lock:
            seen: dict[tuple[str, str], list[int]] = {}
            for m in self.stored:
                seen.setdefault((m["aggregate"]["type"], m["aggregate"]["id"]), []).append(m["aggregate"]["sequence"])
            return seen

    def out_of_order(self) -> list[tuple[str, str]]:
        """Aggregates whose events did not arrive as 1, 2, 3 …"""
        return [key for key, sequences in self.by_aggregate().items() if sequences != list(range(1, len(sequences) + 1))]

    def accept(self, message: dict) -> tuple[int, dict]:
        found = problems(message)
        with self.lock:
            if found:
                self.invalid.append((message, found))
                return 422, {"detail": "; ".join(found)}
            event_id = message["event_id"]
            self.posts[event_id] += 1
            if event_id in self.behaviour.reject:
                return 422, {"detail": f"rejected by the city node: event {event_id} refers to an unknown record"}
            if event_id in self.held:
                return 200, {"status": "duplicate"}
            self.held.add(event_id)
            self.stored.append(message)
            if message["event_type"] == "figures.monthly":
                payload = message["payload"]
                self.figures[(payload["district_code"], payload["month"])] = payload["figures"]
            return 200, {"status": "stored"}


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            behaviour = receiver.behaviour
            if behaviour.delay_seconds:
                time.sleep(behaviour.delay_seconds)
            with receiver.lock:
                stall = behaviour.stall_next > 0
                behaviour.stall_next -= stall
                fail = not stall and behaviour.fail_next > 0
                behaviour.fail_next -= fail
            if stall:
                time.sleep(behaviour.stall_seconds)
                return self._answer(503, {"detail": "too late"})
            if fail:
                return self._answer(behaviour.fail_status, {"detail": "the city node is having a bad day"})
            if behaviour.token and self.headers.get("Authorization") != f"Bearer {behaviour.token}":
                return self._answer(401, {"detail": "unknown sender"})
            if self.path != "/events":
                return self._answer(404, {"detail": "no such endpoint"})
            try:
                message = json.loads(body)
            except ValueError:
                return self._answer(400, {"detail": "not JSON"})
            status, answer = receiver.accept(message)
            if behaviour.answer_delay_seconds:
                time.sleep(behaviour.answer_delay_seconds)
            self._answer(status, answer)

        def do_GET(self):  # noqa: N802
            parts = self.path.strip("/").split("/")
            if len(parts) == 3 and parts[0] == "figures":
                with receiver.lock:
                    figures = receiver.figures.get((parts[1], parts[2]))
                if figures is not None:
                    return self._answer(200, {"figures": figures})
            self._answer(404, {"detail": "no figures"})

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that gave up (its timeout) closed the socket the late answer was written to: expected here."""


@contextmanager
def running_receiver(tls=None):
    """A receiver on a free loopback port for the block's duration; `tls` (an ssl.SSLContext) serves HTTPS."""
    receiver = Receiver()
    server = _QuietServer(("127.0.0.1", 0), _handler(receiver))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        receiver.scheme = "https"
    receiver.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
