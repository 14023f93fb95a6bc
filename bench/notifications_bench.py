"""Cost of in-app notification read state: the unread count every portal page shows in its navigation, the
notifications page, and "mark all read".

SQLite by default (BENCH_DATABASE_URL for PostgreSQL: its tables are dropped and recreated), 2,000
enterprises (BENCH_ENTERPRISES) with 10 applications each, every application worked by its bank through
five moves (100,000 events), each enterprise user having read the first four (80,000 read marks).
Medians of repeated runs over 200 enterprise users. Run: `.venv/bin/python -m bench notifications_bench`.
"""

from __future__ import annotations

import os
import random
import secrets
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from models import Base
from models.enterprise import Enterprise
from models.identity import Role, User
from models.lending import Application, ApplicationEvent, Bank, FinancingNeed, Product
from models.notification import NotificationRead
from xinyidai import create_app
from xinyidai.database import ensure_reference_data
from xinyidai.domain import notifications
from xinyidai.domain.users import new_user
from xinyidai.extensions import db

APPLICATIONS_EACH = 10
READ_MOVES = ("claimed", "approved", "disbursed", "repaying")
SAMPLE = 200
DISBURSEMENT = {"amount_fen": 45_000_000, "rate_bp": 385, "term_months": 12, "disbursed_on": "2026-11-02",
                "guarantee_type": "信用"}
PASSWORD = secrets.token_urlsafe(16)


def _populate(enterprises: int) -> list[User]:
    session = db.session
    bank = Bank(code="BENCH", name_zh="基准银行", name_en="Bench bank")
    session.add(bank)
    session.flush()
    officer = new_user(username="bench-officer", display_name="Officer", role=Role.BANK, password=PASSWORD,
                       bank_id=bank.id)
    product = Product(bank_id=bank.id, code="P", name_zh="产品", name_en="Product", min_amount_fen=1,
                      max_amount_fen=10**12, min_term_months=1, max_term_months=60, min_rate_bp=300, max_rate_bp=600,
                      guarantee_type="信用")
    session.add_all([officer, product])
    session.flush()
    conn = session.connection()
    usccs = [f"91310115MA{i:08d}" for i in range(enterprises)]
    conn.execute(sa.insert(Enterprise), [
        {"uscc": u, "name": f"基准企业{i}", "district_code": "310115", "industry_section": "C",
         "industry_division": "13", "established_on": date(2015, 1, 1), "registered_capital_fen": 100_000_000,
         "status": "存续", "size_class": "小"} for i, u in enumerate(usccs)])
    # One password hashed (the login below); the others share it, hashing thousands would time the hash.
    first = new_user(username="bench-ent-0", display_name="Staff", role=Role.ENTERPRISE, password=PASSWORD,
                     enterprise_uscc=usccs[0])
    users = [first] + [User(username=f"bench-ent-{i}", display_name="Staff", role=Role.ENTERPRISE,
                            enterprise_uscc=u, password_hash=first.password_hash, session_nonce=f"n{i}")
                       for i, u in enumerate(usccs) if i]
    session.add_all(users)
    conn.execute(sa.insert(FinancingNeed), [
        {"uscc": u, "amount_fen": 50_000_000, "term_months": 12, "purpose": "流动资金周转", "guarantee_types": ["信用"]}
        for u in usccs for _ in range(APPLICATIONS_EACH)])
    needs = conn.execute(sa.select(FinancingNeed.id, FinancingNeed.uscc)).all()
    conn.execute(sa.insert(Application), [
        {"need_id": need_id, "product_id": product.id, "bank_id": bank.id, "uscc": uscc} for need_id, uscc in needs])
    applications = conn.execute(sa.select(Application.id)).scalars().all()
    for state in (*READ_MOVES, "repaid"):
        detail = DISBURSEMENT if state == "disbursed" else {}
        conn.execute(sa.insert(ApplicationEvent), [
            {"application_id": a, "to_state": state, "channel": "web", "actor_user_id": officer.id, "detail": detail}
            for a in applications])
        if state == READ_MOVES[-1]:
            session.flush()
            for user in users:
                notifications.mark_notifications_read(session, user)
    session.commit()
    if db.engine.dialect.name == "postgresql":
        session.execute(sa.text("ANALYZE"))  # what autovacuum does after a bulk load
    else:
        session.connection().exec_driver_sql("ANALYZE")
    session.commit()
    return users


def _median_ms(calls) -> float:
    samples = []
    for call in calls:
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    enterprises = int(os.environ.get("BENCH_ENTERPRISES", "2000"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder / 'bench.sqlite3'}"
        app = create_app({"XYD_INSTANCE_PATH": str(folder / "instance"), "SECRET_KEY": "bench",
                          "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
        with app.app_context():
            Base.metadata.drop_all(db.engine)
            Base.metadata.create_all(db.engine)
            with db.engine.begin() as connection:
                ensure_reference_data(connection)
            started = time.perf_counter()
            users = _populate(enterprises)
            events = db.session.scalar(sa.select(sa.func.count()).select_from(ApplicationEvent))
            reads = db.session.scalar(sa.select(sa.func.count()).select_from(NotificationRead))
            print(f"{db.engine.dialect.name}: {enterprises:,} enterprises, {events:,} events, {reads:,} read marks, "
                  f"built in {time.perf_counter() - started:.1f} s; median over {SAMPLE} users")
            sample = random.Random(20261201).sample(users, SAMPLE)
            assert notifications.unread_count(db.session, sample[0]) == APPLICATIONS_EACH
            count = _median_ms([lambda u=u: notifications.unread_count(db.session, u) for u in sample])
            listing = _median_ms([lambda u=u: notifications.notifications(db.session, u) for u in sample])
            print(f"{'unread count (every portal page)':<40} {count:>8.2f} ms")
            print(f"{'notifications list (50 newest)':<40} {listing:>8.2f} ms")
            client = app.test_client()
            client.post("/login", data={"username": users[0].username, "password": PASSWORD})
            assert client.get("/enterprise/notifications").status_code == 200
            page = _median_ms([lambda: client.get("/enterprise/notifications")] * 25)
            print(f"{'GET /enterprise/notifications (whole page)':<40} {page:>8.2f} ms")

            def mark(user=None):
                notifications.mark_notifications_read(db.session, user)
                db.session.commit()

            marking = _median_ms([lambda u=u: mark(u) for u in sample[1:]])
            print(f"{'mark all read (10 new marks, commit)':<40} {marking:>8.2f} ms")
            Base.metadata.drop_all(db.engine)
            db.engine.dispose()


if __name__ == "__main__":
    main()
