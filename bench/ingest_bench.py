"""Ingestion throughput into the embedded SQLite database: rows/s for a first delivery and a re-delivery.

Goal (issue 2): at least 50,000 rows/s on the 2-core reference machine. Run: `make bench` or
`.venv/bin/python -m bench ingest_bench` (BENCH_ENTERPRISES, BENCH_MONTHS to resize).
"""

from __future__ import annotations

import csv
import os
import random
import tempfile
import time
from pathlib import Path

from xinyidai import create_app
from xinyidai.database import ensure_reference_data
from xinyidai.extensions import db
from xinyidai.ingest import ingest_file
from xinyidai.uscc import ALPHABET, make_uscc


def _codes(count: int, rng: random.Random) -> list[str]:
    safe = [c for c in ALPHABET if c not in "IOSVZ"]
    return [make_uscc("91", "310115", "MA1" + "".join(rng.choice(safe) for _ in range(5))) for _ in range(count)]


def _write_files(folder: Path, codes: list[str], months: int, rng: random.Random) -> tuple[Path, Path]:
    registry = folder / "registry.csv"
    with registry.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["uscc", "name", "district_code", "industry_section", "industry_division",
                         "established_on", "registered_capital", "status", "size_class"])
        for i, code in enumerate(codes):
            writer.writerow([code, f"上海基准{i}有限公司", "310115", "F", "51", "2015-06-01", "1000000.00", "存续", "小"])
    monthly = folder / "social_insurance.csv"
    with monthly.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["uscc", "month", "insured_headcount", "contributions", "months_in_arrears"])
        for code in codes:
            for m in range(months):
                year, month = 2023 + m // 12, m % 12 + 1
                writer.writerow([code, f"{year}-{month:02d}", rng.randint(1, 80),
                                 f"{rng.randint(1000, 90000)}.{rng.randint(0, 99):02d}", 0])
    return registry, monthly


def _timed(label: str, app, source: str, path: Path) -> None:
    with app.app_context():
        started = time.perf_counter()
        summary = ingest_file(db.session, source, path)
        elapsed = time.perf_counter() - started
    print(f"{label:<34} {summary.rows:>9,} rows in {elapsed:6.2f} s = {summary.rows / elapsed:>9,.0f} rows/s "
          f"(inserted {summary.inserted:,}, updated {summary.updated:,}, unchanged {summary.unchanged:,})")


def main() -> None:
    enterprises = int(os.environ.get("BENCH_ENTERPRISES", "10000"))
    months = int(os.environ.get("BENCH_MONTHS", "36"))
    rng = random.Random(20261122)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        app = create_app({"XYD_INSTANCE_PATH": str(folder / "instance"), "SECRET_KEY": "bench",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}"})
        with app.app_context():
            db.create_all()
            with db.engine.begin() as connection:
                ensure_reference_data(connection)
        codes = sorted(set(_codes(enterprises, rng)))
        registry, monthly = _write_files(folder, codes, months, rng)
        print(f"SQLite, {len(codes):,} enterprises × {months} months, {os.cpu_count()} cores")
        _timed("registry (first delivery)", app, "registry", registry)
        _timed("social_insurance (first delivery)", app, "social_insurance", monthly)
        _timed("social_insurance (re-delivery)", app, "social_insurance", monthly)


if __name__ == "__main__":
    main()
