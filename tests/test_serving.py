"""`make run` serves the browser directly: a browser's idle pre-connections must not stall the next request.

gunicorn's gthread worker hands each accepted connection to a thread that waits up to 5 s for the request's
first bytes; a browser opens such connections speculatively and may send nothing on them. With one thread a
worker then answers nothing for 5 s (issue 14: "5-second stalls on /register and /admin/banks"). The test
reads the thread count from the Makefile's `run` recipe and serves with one worker, so every idle connection
lands on it.
"""

from __future__ import annotations

import re
import socket
import urllib.request

import pytest

from tests.live_server import ROOT, free_port, serve, throwaway_database

pytestmark = pytest.mark.slow  # measured: pytest --durations (README "Tests")

PRE_CONNECTIONS = 3  # what Chromium opened on the issue's /register page


def make_run_threads() -> int:
    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    match = re.search(r"XYD_THREADS=\$\$\{XYD_THREADS:-(\d+)\}", recipe)
    assert match, "the run recipe sets no thread count"
    return int(match.group(1))


def test_make_run_answers_while_a_browser_holds_idle_pre_connections(tmp_path):
    threads = make_run_threads()
    assert threads > PRE_CONNECTIONS
    with throwaway_database(tmp_path) as url, serve(
            {"XYD_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": url, "SECRET_KEY": "serving-test",
             "XYD_THREADS": str(threads)}, free_port(), workers=1, ready_timeout=120) as server:
        port = int(server.url.rsplit(":", 1)[1])
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(PRE_CONNECTIONS)]
        try:
            # Well under the 5-second wait that a held thread would impose.
            with urllib.request.urlopen(server.url + "/healthz", timeout=2.5) as response:  # noqa: S310
                assert response.status == 200
        finally:
            for connection in idle:
                connection.close()
