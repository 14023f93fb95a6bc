"""A delivery uploaded through the operator's page (/admin/deliveries) against the same file given to the
loader directly: the request's wall time, and whether the largest upload MAX_CONTENT_LENGTH allows would
finish inside gunicorn's worker timeout (XYD_TIMEOUT, 60 s by default).

Run: `.venv/bin/python -m bench admin_upload_bench` (BENCH_UPLOAD_ENTERPRISES, BENCH_MONTHS to resize).
"""

from __future__ import annotations

import io
import os
import random
import re
import secrets
import tempfile
import time
from pathlib import Path

from bench.ingest_bench import _codes, _write_files
from models.identity import Role
from xinyidai import create_app
from xinyidai.database import ensure_reference_data
from xinyidai.domain.users import new_user
from xinyidai.extensions import db
from xinyidai.ingest import ingest_file

PASSWORD = secrets.token_urlsafe(16)  # a throwaway admin in a throwaway database


def _logged_in_admin(app):
    with app.app_context():
        db.session.add(new_user(username="bench-admin", display_name="bench", role=Role.ADMIN, password=PASSWORD))
        db.session.commit()
    client = app.test_client()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "bench-admin", "password": PASSWORD, "csrf_token": token})
    return client


def _upload(client, source: str, path: Path) -> tuple[float, int]:
    page = client.get("/admin/deliveries").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    payload = path.read_bytes()
    started = time.perf_counter()
    response = client.post("/admin/deliveries", content_type="multipart/form-data", data={
        "csrf_token": token, "source": source, "file": (io.BytesIO(payload), path.name)})
    elapsed = time.perf_counter() - started
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return elapsed, response.status_code


def main() -> None:
    enterprises = int(os.environ.get("BENCH_UPLOAD_ENTERPRISES", "5000"))
    months = int(os.environ.get("BENCH_MONTHS", "36"))
    rng = random.Random(20261201)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        codes = sorted(set(_codes(enterprises, rng)))
        registry, monthly = _write_files(folder, codes, months, rng)
        rows = len(codes) * months
        size = monthly.stat().st_size
        apps = {}
        for name in ("web", "direct"):
            apps[name] = create_app({"XYD_INSTANCE_PATH": str(folder / name), "SECRET_KEY": "bench",
                                     "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / name}.sqlite3",
                                     "XYD_RATELIMIT": False})
            with apps[name].app_context():
                db.create_all()
                with db.engine.begin() as connection:
                    ensure_reference_data(connection)
                ingest_file(db.session, "registry", registry)
        limit = apps["web"].config["MAX_CONTENT_LENGTH"]
        print(f"SQLite, social_insurance delivery of {rows:,} rows, {size / 2**20:.1f} MiB "
              f"(upload limit {limit / 2**20:g} MiB), {os.cpu_count()} cores")
        with apps["direct"].app_context():
            started = time.perf_counter()
            ingest_file(db.session, "social_insurance", monthly)
            direct = time.perf_counter() - started
        print(f"{'loader directly':<34} {direct:6.2f} s = {rows / direct:>9,.0f} rows/s")
        client = _logged_in_admin(apps["web"])
        web, _ = _upload(client, "social_insurance", monthly)
        print(f"{'upload through /admin/deliveries':<34} {web:6.2f} s = {rows / web:>9,.0f} rows/s")
        largest = web * limit / size
        print(f"largest allowed upload at this rate: about {largest:.0f} s "
              f"({'within' if largest < 60 else 'OVER'} the default 60 s worker timeout)")


if __name__ == "__main__":
    main()
