"""Server time of every office dashboard view on a large population (goal, issue 6: under 300 ms each
with 100,000 enterprises and their lending history).

Each view is requested through the Flask test client as the demo district office (Songjiang) and the demo
city office, so the time includes login check, query, charts and template. Printed per view:

- pre-aggregated (what the site serves): median of RUNS requests with the cube built, the views' default
  period (last 12 months) plus a bank + industry filtered variant;
- cube build: the one-off cost paid by the first request after the data changed;
- direct SQL (no pre-aggregation), one request per view, for comparison;
- the monthly report (Excel) download.

Population: set BENCH_INSTANCE to an instance folder already holding the demo (e.g. one made with
`XYD_INSTANCE_PATH=/tmp/big xyd setup --enterprises 100000`, about 18 minutes on this machine); otherwise a
demo of BENCH_ENTERPRISES (default 20,000) is generated into a temporary folder first, and the numbers say so.
Run: `make bench` or `.venv/bin/python -m bench dashboard_bench`.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

RUNS = int(os.environ.get("BENCH_RUNS", "7"))
VIEWS = ["overview", "banks", "products", "industries", "sizes", "districts"]


def _app(instance: Path, pre_aggregated: bool):
    from xinyidai import create_app

    return create_app({"XYD_INSTANCE_PATH": str(instance), "WTF_CSRF_ENABLED": False, "XYD_RATELIMIT": False,
                       "XYD_OFFICE_PREAGGREGATE": pre_aggregated})


def _prepare(instance: Path) -> None:
    from flask_migrate import upgrade

    from models.enterprise import Enterprise
    from xinyidai.demo.seed import seed_demo
    from xinyidai.extensions import db

    app = _app(instance, True)
    with app.app_context():
        upgrade()
        if not db.session.scalar(sa.select(sa.func.count()).select_from(Enterprise)):
            enterprises = int(os.environ.get("BENCH_ENTERPRISES", "20000"))
            print(f"generating a demo population of {enterprises:,} enterprises into {instance} …", flush=True)
            seed_demo(db.session, instance, enterprises=enterprises, seed=7)


def _client(app, username: str):
    from xinyidai.demo.logins import DEMO_PASSWORD

    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302, f"login of {username} failed"
    return client


def _timed(client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code)
    response.close()
    return elapsed


def _path(view: str, query: str = "") -> str:
    return f"/office/dashboard/{view}" + (f"?{query}" if query else "") if view != "overview" else \
        "/office/dashboard" + (f"?{query}" if query else "")


def _population(app) -> str:
    from models.enterprise import Enterprise
    from models.lending import Application, ApplicationEvent, FinancingNeed, LoanPerformance
    from xinyidai.extensions import db

    with app.app_context():
        counts = [db.session.scalar(sa.select(sa.func.count()).select_from(m))
                  for m in (Enterprise, FinancingNeed, Application, ApplicationEvent, LoanPerformance)]
        first, last = db.session.execute(sa.select(sa.func.min(Application.created_at),
                                                   sa.func.max(Application.created_at))).one()
        bank = db.session.scalar(sa.text("select min(id) from banks"))
    print(f"population: {counts[0]:,} enterprises, {counts[1]:,} needs, {counts[2]:,} applications "
          f"({first:%Y-%m} … {last:%Y-%m}), {counts[3]:,} application events, {counts[4]:,} month-end loan reports")
    return f"bank={bank}&industry=C"


def main() -> None:
    from xinyidai.domain.figures import cube

    given = os.environ.get("BENCH_INSTANCE")
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="xyd-dashboard-bench-"))
    _prepare(folder)
    app = _app(folder, True)
    narrowed = _population(app)
    offices = {"district (Songjiang)": "demo-office-songjiang", "city (all 16)": "demo-office-city"}
    worst = 0.0
    for label, username in offices.items():
        client = _client(app, username)
        cube.forget_cube()
        first = _timed(client, _path("overview"))
        built = cube._CURRENT.built_seconds if cube._CURRENT else float("nan")
        print(f"\n{label}: first request {first:,.0f} ms (of which cube build {built * 1000:,.0f} ms, once per data change)")
        print(f"  {'view':<12} {'pre-aggregated':>15} {'+bank+industry':>15} {'direct SQL':>12}")
        direct_client = _client(_app(folder, False), username)
        for view in VIEWS:
            if view == "districts" and "city" not in label:
                continue
            plain = statistics.median(_timed(client, _path(view)) for _ in range(RUNS))
            filtered = statistics.median(_timed(client, _path(view, narrowed)) for _ in range(RUNS))
            direct = _timed(direct_client, _path(view))
            worst = max(worst, plain, filtered)
            print(f"  {view:<12} {plain:>12,.0f} ms {filtered:>12,.0f} ms {direct:>9,.0f} ms")
        report = statistics.median(_timed(client, "/office/reports/monthly.xlsx") for _ in range(3))
        print(f"  monthly report (xlsx, 5 periods × 4–5 tables): {report:,.0f} ms")
    verdict = "met" if worst < 300 else "NOT met"
    print(f"\nslowest pre-aggregated view: {worst:,.0f} ms — goal < 300 ms {verdict} (cube build excluded, see above)")
