"""The load test's database: the 100,000-enterprise demo population on PostgreSQL, seeded once and kept
(seeding takes long), plus the accounts and ids the locust users need, refreshed every run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from tests.live_server import ROOT

PASSWORD = "load-test-password-2026"  # noqa: S105 - accounts of a throwaway load database only
ENTERPRISE_ACCOUNTS, APPLICATIONS_PER_BANK = 40, 200
OFFICE_DISTRICTS = ["310117", "310115", "310104", "310112", "310000"]


REDIS_URL = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/14")


def environment(database_url: str, instance: Path) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "XYD_INSTANCE_PATH": str(instance), "SECRET_KEY": "load-test-secret",
            # as in production (deploy/env.example): the workers share the cache and the rate limits in Redis
            "XYD_REDIS_URL": REDIS_URL,
            # one load generator speaks for many people: the per-address login limit would refuse them
            "XYD_LOGIN_RATE_LIMIT": "100000/minute", "XYD_LOG_FORMAT": "json"}


def empty_cache() -> None:
    """Start every run with nothing cached: the figures a run reads are computed within it."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def ensure_seeded(database_url: str, instance: Path, enterprises: int, rebuild: bool) -> str:
    """Reuse the seeded database when it holds the population and an active model; else (or with
    `rebuild`) create it afresh and run `xyd setup`. Returns what was done, for the report."""
    url = sa.make_url(database_url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database})
    if exists and not rebuild and _is_ready(database_url, instance, enterprises):
        admin.dispose()
        _xyd(database_url, instance, "db", "upgrade")  # the code may have gained migrations since the seeding
        return f"reused {url.database} ({enterprises:,} enterprises), migrated to the current schema"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    admin.dispose()
    instance.mkdir(parents=True, exist_ok=True)
    for stale in ("models", "demo"):  # the model store belongs to the database it was trained on
        shutil.rmtree(instance / stale, ignore_errors=True)
    print(f"seeding {enterprises:,} enterprises into {url.database} (xyd setup; this takes a while) …", flush=True)
    _xyd(database_url, instance, "setup", "--enterprises", str(enterprises))
    return f"seeded {url.database} afresh ({enterprises:,} enterprises)"


def _xyd(database_url: str, instance: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-c", "from xinyidai.cli import main; main()", *args],  # noqa: S603
                   cwd=ROOT, check=True, env={**os.environ, **environment(database_url, instance)})


def _is_ready(database_url: str, instance: Path, enterprises: int) -> bool:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            count = connection.scalar(sa.text("SELECT count(*) FROM enterprises"))
            model = connection.scalar(sa.text("SELECT path FROM model_versions WHERE is_active"))
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return count >= enterprises and model is not None and (instance / model / "model.txt").is_file()


def fixture(database_url: str, instance: Path) -> dict:
    """Accounts per role (created once, password reset every run) and ids worth opening."""
    from models.identity import Role, User
    from models.lending import Bank
    from xinyidai import create_app
    from xinyidai.domain.tokens import issue_token
    from xinyidai.domain.users import new_user, set_password
    from xinyidai.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "XYD_INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "load-test-secret"})
    with app.app_context():
        session = db.session
        q = lambda sql, **p: session.execute(sa.text(sql), p).all()  # noqa: E731
        banks = q("SELECT id, code FROM banks ORDER BY id")
        enterprises = q("SELECT DISTINCT uscc FROM financing_needs WHERE status = 'open' ORDER BY uscc LIMIT :n",
                        n=ENTERPRISE_ACCOUNTS)
        wanted = [dict(username=f"load-ent-{i}", role=Role.ENTERPRISE, enterprise_uscc=uscc)
                  for i, (uscc,) in enumerate(enterprises)]
        wanted += [dict(username=f"load-bank-{code.lower()}", role=Role.BANK, bank_id=bank_id) for bank_id, code in banks]
        wanted += [dict(username=f"load-office-{d}", role=Role.OFFICE, district_code=d) for d in OFFICE_DISTRICTS]
        for fields in wanted:
            user = session.scalar(sa.select(User).where(User.username == fields["username"]))
            if user is None:
                session.add(new_user(display_name=fields["username"], password=PASSWORD, **fields))
            else:
                set_password(user, PASSWORD)
                user.is_active = True
        # each bank's systems with their own token, as in production (the API limit is per token)
        tokens = {bank_id: issue_token(session, session.get(Bank, bank_id), "load test").token for bank_id, _ in banks}
        session.commit()
        result = {"password": PASSWORD, "enterprise": [], "bank": [], "office": [],
                  "api": [{"token": tokens[bank_id], "applications": _applications(q, bank_id)} for bank_id, _ in banks]}
        for i, (uscc,) in enumerate(enterprises):
            needs = [n for (n,) in q("SELECT id FROM financing_needs WHERE uscc = :u ORDER BY id", u=uscc)]
            result["enterprise"].append({"username": f"load-ent-{i}", "needs": needs})
        for bank_id, code in banks:
            result["bank"].append({"username": f"load-bank-{code.lower()}", "applications": _applications(q, bank_id)})
        result["office"] = [{"username": f"load-office-{d}"} for d in OFFICE_DISTRICTS]
        db.engine.dispose()
    return result


def _applications(q, bank_id: int) -> list[int]:
    return [a for (a,) in q("SELECT id FROM applications WHERE bank_id = :b ORDER BY updated_at DESC LIMIT :n",
                            b=bank_id, n=APPLICATIONS_PER_BANK)]
