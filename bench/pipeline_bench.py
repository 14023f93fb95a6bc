"""Server time to page a bank's pipeline of 100,000 open matches (goal, issue 5: under 50 ms a page).

SQLite (the embedded default), one bank with 5 products, 20,000 enterprises each with one open need
matched to every product, scores for every enterprise and a published district whitelist. Times the
service query and the whole API request (token check, parsing, serialisation), median of repeated runs.
Run: `make bench` or `.venv/bin/python -m bench pipeline_bench` (BENCH_MATCHES to resize).
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from models.enterprise import Enterprise
from models.lending import Application, Bank, FinancingNeed, Product
from models.scoring import GRADE_SCALE, ModelVersion, Score, WhitelistEntry, WhitelistVersion
from xinyidai import create_app
from xinyidai.database import ensure_reference_data
from xinyidai.domain.pipeline import PipelineFilters, pipeline_page
from xinyidai.domain.tokens import issue_token
from xinyidai.extensions import db
from xinyidai.reference import SHANGHAI_DISTRICTS

PRODUCTS = 5
RUNS = 25
DISTRICTS = list(SHANGHAI_DISTRICTS)


def _populate(matches: int, rng: random.Random) -> tuple[int, str, int]:
    enterprises = max(matches // PRODUCTS, 1)
    session = db.session
    bank = Bank(code="BENCH", name_zh="基准银行", name_en="Bench bank")
    session.add(bank)
    session.flush()
    session.add(ModelVersion(version="bench", path="-", card={}, is_active=True))
    products = [Product(bank_id=bank.id, code=f"P{i}", name_zh=f"产品{i}", name_en=f"Product {i}",
                        min_amount_fen=1_000_000, max_amount_fen=1_000_000_000, min_term_months=1, max_term_months=60,
                        min_rate_bp=300, max_rate_bp=600, guarantee_type="信用") for i in range(PRODUCTS)]
    session.add_all(products)
    session.flush()
    usccs = [f"91310115MA{i:08d}" for i in range(enterprises)]
    conn = session.connection()
    conn.execute(sa.insert(Enterprise), [
        {"uscc": u, "name": f"基准企业{i}", "district_code": rng.choice(DISTRICTS), "industry_section": rng.choice("CFGIM"),
         "industry_division": "13", "established_on": date(2015, 1, 1), "registered_capital_fen": 100_000_000,
         "status": "存续", "size_class": "小"} for i, u in enumerate(usccs)])
    now = datetime.now(UTC)
    conn.execute(sa.insert(Score), [
        {"uscc": u, "model_version": "bench", "as_of": date(2026, 10, 31), "pd_12m": 0.02, "points": 600,
         "grade": rng.choice(GRADE_SCALE), "gates_passed": True, "failed_gates": [], "scored_at": now}
        for u in usccs])
    for district in DISTRICTS:
        conn.execute(sa.insert(WhitelistVersion).values(district_code=district, model_version="bench", min_grade="BBB",
                                                        status="published", created_at=now, published_at=now))
    versions = dict(conn.execute(sa.select(WhitelistVersion.district_code, WhitelistVersion.id)).all())
    districts = dict(conn.execute(sa.select(Enterprise.uscc, Enterprise.district_code)).all())
    score_ids = dict(conn.execute(sa.select(Score.uscc, Score.id)).all())
    conn.execute(sa.insert(WhitelistEntry), [
        {"whitelist_version_id": versions[districts[u]], "uscc": u, "score_id": score_ids[u], "grade": "A",
         "change": "added"} for u in usccs if rng.random() < 0.3])
    conn.execute(sa.insert(FinancingNeed), [
        {"uscc": u, "amount_fen": rng.randrange(5_000_000, 500_000_000, 100_000), "term_months": 12,
         "purpose": "working_capital", "guarantee_types": ["信用"], "urgency": "normal", "open_to_all_banks": True,
         "status": "open", "published_at": now - timedelta(days=rng.randrange(0, 90)), "updated_at": now}
        for u in usccs])
    needs = conn.execute(sa.select(FinancingNeed.id, FinancingNeed.uscc)).all()
    rows, moment = [], now - timedelta(days=90)
    for need_id, uscc in needs:
        for product in products:
            moment += timedelta(seconds=7)
            rows.append({"need_id": need_id, "product_id": product.id, "bank_id": bank.id, "uscc": uscc,
                         "state": "matched", "match_rank": round(rng.random(), 6), "applied_by_enterprise": False,
                         "days_past_due": 0, "created_at": moment, "updated_at": moment})
    for start in range(0, len(rows), 20_000):
        conn.execute(sa.insert(Application), rows[start:start + 20_000])
    token = issue_token(session, bank, "bench").token
    session.commit()
    conn = db.session.connection()
    conn.exec_driver_sql("ANALYZE")
    db.session.commit()
    return bank.id, token, len(rows)


def _median_ms(call) -> float:
    call()  # warm the page cache and the statement cache
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


SCENARIOS = [
    ("first page, newest first", PipelineFilters(), 1),
    ("page 40 (rows 976-1000)", PipelineFilters(), 40),
    ("oldest first (SLA order)", PipelineFilters(sort="oldest"), 1),
    ("district filter", PipelineFilters(district="310115"), 1),
    ("district + industry + amount", PipelineFilters(district="310104", industry="C", min_amount_fen=100_000_000), 1),
    ("grade >= A and whitelisted", PipelineFilters(min_grade="A", whitelisted=True), 1),
    ("published in the last 7 days", PipelineFilters(max_age_days=7), 1),
    ("best match first (rank)", PipelineFilters(sort="rank"), 1),
]


def main() -> None:
    matches = int(os.environ.get("BENCH_MATCHES", "100000"))
    rng = random.Random(20261122)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        app = create_app({"XYD_INSTANCE_PATH": str(folder / "instance"), "SECRET_KEY": "bench",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}"})
        with app.app_context():
            db.create_all()
            with db.engine.begin() as connection:
                ensure_reference_data(connection)
            started = time.perf_counter()
            bank_id, token, count = _populate(matches, rng)
            print(f"SQLite, one bank with {count:,} open matches ({count // PRODUCTS:,} needs × {PRODUCTS} products), "
                  f"built in {time.perf_counter() - started:.1f} s; median of {RUNS} runs, 25 rows a page")
            print(f"{'scenario':<32} {'service ms':>10} {'API request ms':>15}")
            db.session.connection().exec_driver_sql("ANALYZE")  # the planner sees the 100,000 rows
            db.session.commit()
            client = app.test_client()
            headers = {"Authorization": f"Bearer {token}"}
            _run(client, headers, bank_id, SCENARIOS)


def _run(client, headers: dict, bank_id: int, scenarios) -> None:
    """Time each scenario through the service and through the API (inside the caller's app context)."""
    for label, filters, page in scenarios:
        service = _median_ms(lambda f=filters, p=page: pipeline_page(db.session, bank_id, f, page=p))
        query = {k: v for k, v in vars(filters).items() if v is not None and not (k == "sort" and v == "newest")}
        if "whitelisted" in query:
            query["whitelisted"] = "true" if query["whitelisted"] else "false"

        def request(q=query, p=page):
            response = client.get("/api/v1/pipeline", query_string={**q, "page": p}, headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)

        api = _median_ms(request)
        flag = "" if api < 50 else "  (over the 50 ms goal)"
        print(f"{label:<32} {service:>10.1f} {api:>15.1f}{flag}")

if __name__ == "__main__":
    main()
