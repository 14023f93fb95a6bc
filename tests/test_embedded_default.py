"""The embedded default — SQLite under `instance/`, no Redis — served by several gunicorn workers, as `make run`
does (issue 13, items 7 and 8): concurrent API calls never meet "database is locked", and every documented rate
limit holds across the workers, not per worker.

These tests always run on SQLite (that is the deployment they are about), whatever TEST_DATABASE_URL says.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import date
from pathlib import Path

import pytest
from flask_migrate import upgrade

from models.enterprise import Enterprise, EnterpriseStatus, SizeClass
from models.identity import Role
from models.lending import Application, Bank, FinancingNeed, GuaranteeType, Product
from tests.conftest import TEST_PASSWORD, fresh_uscc
from tests.live_server import free_port, serve
from xinyidai import create_app
from xinyidai.domain.tokens import issue_token
from xinyidai.domain.users import new_user
from xinyidai.extensions import db

pytestmark = pytest.mark.slow  # measured: pytest --durations (README "Tests")

WORKERS = 2
THREADS = 4  # as `make run`
CALLERS = 12
ROUNDS = 8


@pytest.fixture(autouse=True)
def db_session():
    """This module serves its own committed SQLite file: no rolled-back test transaction."""
    return None


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """A migrated SQLite instance folder with two banks (a product, a matched application and three API tokens
    each), an officer; yields (folder, tokens, application ids by token)."""
    folder = tmp_path_factory.mktemp("embedded")
    url = f"sqlite:///{folder / 'xinyidai.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "XYD_INSTANCE_PATH": str(folder), "SECRET_KEY": "embedded"})
    tokens: list[str] = []
    with app.app_context():
        upgrade()
        enterprise = Enterprise(uscc=fresh_uscc(), name="嵌入式并发测试有限公司", district_code="310115",
                                industry_section="I", industry_division="65", established_on=date(2018, 5, 1),
                                registered_capital_fen=5_000_000_00, status=EnterpriseStatus.OPERATING,
                                size_class=SizeClass.SMALL)
        db.session.add(enterprise)
        db.session.flush()
        for code in ("EMB_A", "EMB_B"):
            bank = Bank(code=code, name_zh=code, name_en=code)
            db.session.add(bank)
            db.session.flush()
            product = Product(bank_id=bank.id, code="P", name_zh="科创贷", name_en="Tech loan",
                              min_amount_fen=10_000_000, max_amount_fen=300_000_000, min_term_months=3,
                              max_term_months=36, min_rate_bp=300, max_rate_bp=480, guarantee_type=GuaranteeType.CREDIT)
            db.session.add(product)
            db.session.add(new_user(username=f"officer-{code.lower()}", display_name=code, role=Role.BANK,
                                    bank_id=bank.id, is_tenant_admin=True, password=TEST_PASSWORD))
            db.session.flush()
            need = FinancingNeed(uscc=enterprise.uscc, amount_fen=50_000_000, term_months=12,
                                 purpose="working_capital", guarantee_types=["信用"])
            db.session.add(need)
            db.session.flush()
            db.session.add(Application(need_id=need.id, product_id=product.id, bank_id=bank.id, uscc=need.uscc))
            tokens += [issue_token(db.session, bank, f"core-{i}").token for i in range(3)]
        db.session.add(new_user(username="office-emb", display_name="office", role=Role.OFFICE,
                                district_code="310115", password=TEST_PASSWORD))
        db.session.commit()
        db.engine.dispose()
    return folder, tokens


def environment(folder, **extra) -> dict[str, str]:
    return {"XYD_INSTANCE_PATH": str(folder), "DATABASE_URL": f"sqlite:///{folder / 'xinyidai.sqlite3'}",
            "SECRET_KEY": "embedded", "XYD_THREADS": str(THREADS), **extra}


def logged_in(base: str, username: str) -> urllib.request.OpenerDirector:
    """A cookie-keeping opener logged in through the login form."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(base + "/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": TEST_PASSWORD, "csrf_token": token}).encode()
    opener.open(base + "/login", data=form, timeout=30)
    return opener


def status_of(opener, url: str) -> int:
    try:
        with opener.open(url, timeout=60) as response:
            return response.status if response.url == url else 302  # sent to log in: not what was asked
    except urllib.error.HTTPError as error:
        return error.code


def call(url: str, token: str, method: str = "GET", body: dict | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if method == "POST":
        headers["Idempotency-Key"] = uuid.uuid4().hex
    request = urllib.request.Request(url, method=method, headers=headers,  # noqa: S310 - loopback only
                                     data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_concurrent_api_calls_on_the_embedded_default_never_fail_on_a_locked_database(embedded):
    folder, tokens = embedded
    statuses: list[int] = []
    lock = threading.Lock()
    with serve(environment(folder, XYD_RATELIMIT="0"), free_port(), workers=WORKERS, ready_timeout=120) as server:
        barrier = threading.Barrier(CALLERS + 2)
        office = logged_in(server.url, "office-emb")

        def reader() -> None:
            """Audited downloads: a GET that reads a lot, then writes its audit entry."""
            barrier.wait()
            mine = [status_of(office, server.url + "/office/reports/monthly.csv") for _ in range(ROUNDS)]
            with lock:
                statuses.extend(mine)

        def caller(index: int) -> None:
            token = tokens[index % len(tokens)]
            barrier.wait()
            for round_ in range(ROUNDS):
                # reads (each token's first use writes last_used_at) mixed with writes of new products
                mine = [call(server.url + "/api/v1/pipeline", token), call(server.url + "/api/v1/products", token),
                        call(server.url + "/api/v1/applications", token),
                        call(server.url + "/api/v1/products", token, "POST",
                             {"code": f"C{index}R{round_}", "name_zh": "并发贷", "name_en": "Race loan",
                              "min_amount_fen": 10_000_000, "max_amount_fen": 300_000_000, "min_term_months": 3,
                              "max_term_months": 36, "min_rate_bp": 300, "max_rate_bp": 480,
                              "guarantee_type": "信用"})]
                with lock:
                    statuses.extend(mine)

        threads = [threading.Thread(target=caller, args=(i,)) for i in range(CALLERS)]
        threads += [threading.Thread(target=reader) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        log = server.log.read_text()
    assert len(statuses) == CALLERS * ROUNDS * 4 + 2 * ROUNDS
    assert "database is locked" not in log
    assert sorted(set(statuses)) == [200, 201], {s: statuses.count(s) for s in set(statuses)}


# ---------------------------------------------------------------- limits across workers (item 7)

LOGIN_LIMIT = 10
API_FAILURE_LIMIT = 20


def cpu_ticks(pid: int) -> int:
    """User + system CPU time a process used so far (Linux /proc, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def at_once(count: int, call) -> list[int]:
    barrier = threading.Barrier(count)
    results: list[int] = [0] * count

    def run(index: int) -> None:
        barrier.wait()
        results[index] = call(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_every_documented_limit_holds_across_the_workers_of_the_embedded_default(embedded):
    folder, tokens = embedded
    # One thread and one connection per worker: a worker busy with a login (a scrypt check) accepts no other
    # connection, so a burst has to spread over both workers (gthread would otherwise queue it all in one).
    env = environment(folder, XYD_THREADS="1", GUNICORN_CMD_ARGS="--worker-connections 1",
                      XYD_LOGIN_RATE_LIMIT=f"{LOGIN_LIMIT}/minute",
                      XYD_API_AUTH_FAILURE_LIMIT=f"{API_FAILURE_LIMIT}/minute")
    with serve(env, free_port(), workers=WORKERS, ready_timeout=120) as server:
        workers = server.worker_pids()
        assert len(workers) == WORKERS
        before = {pid: cpu_ticks(pid) for pid in workers}
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = browser.open(server.url + "/login", timeout=30).read().decode()
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

        def attempt(index: int) -> int:
            form = urllib.parse.urlencode({"username": f"nobody-{index}", "password": "not the password",
                                           "csrf_token": csrf}).encode()
            try:
                with browser.open(server.url + "/login", data=form, timeout=60) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        logins = at_once(LOGIN_LIMIT, attempt)
        assert logins == [200] * LOGIN_LIMIT  # the wrong password's page
        used = {pid: cpu_ticks(pid) - before[pid] for pid in workers}
        assert all(ticks > 0 for ticks in used.values()), used  # both workers checked passwords
        assert attempt(LOGIN_LIMIT) == 429  # the N+1-th, whichever worker gets it
        assert attempt(LOGIN_LIMIT + 1) == 429

        # the API's wrong-token limit per address, the same way
        wrong = at_once(API_FAILURE_LIMIT, lambda i: call(server.url + "/api/v1/products", f"xyd_wrong{i}"))
        assert wrong == [401] * API_FAILURE_LIMIT
        assert call(server.url + "/api/v1/products", "xyd_wrong-again") == 429
    assert (folder / "ratelimits.sqlite3").exists()
