"""The platform a drill breaks: a demo population on the drill's PostgreSQL database, driven the way
operations drive it — `xyd` commands with the environment of /etc/xinyidai/env, gunicorn with
deploy/gunicorn.conf.py — and a bank's API client that retries with the same Idempotency-Key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from tests.live_server import ROOT

DEMO_BANK = "ICBC-SH"


@dataclass
class Platform:
    database_url: str
    instance: Path
    environment: dict[str, str] = field(init=False)

    def __post_init__(self):
        self.environment = {"DATABASE_URL": self.database_url, "XYD_INSTANCE_PATH": str(self.instance),
                            "SECRET_KEY": "drill-secret", "XYD_LOG_FORMAT": "json",
                            # each worker notices a promotion within a second (the model drill)
                            "XYD_MODEL_CHECK_SECONDS": "1"}

    def xyd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run `xyd ARGS` as a scheduled job would; output captured."""
        result = subprocess.run(  # noqa: S603 - our own interpreter and CLI
            [sys.executable, "-c", "from xinyidai.cli import main; main()", *args], cwd=ROOT,
            env={**os.environ, **self.environment}, capture_output=True, text=True,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"xyd {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
        return result

    def scalar(self, sql: str, **params):
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return connection.execute(sa.text(sql), params).scalar()
        finally:
            engine.dispose()

    def rows(self, sql: str, **params) -> list:
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return connection.execute(sa.text(sql), params).all()
        finally:
            engine.dispose()


def prepare(database_url: str, instance: Path, enterprises: int) -> tuple[Platform, str]:
    """Migrate, seed the demo population, train and score a first model; return it and a bank API token."""
    platform = Platform(database_url, instance)
    platform.xyd("setup", "--enterprises", str(enterprises))
    token = platform.xyd("bank", "token", "create", DEMO_BANK, "--name", "drill").stdout.strip().splitlines()[-1]
    return platform, token


def product_body(code: str) -> dict:
    """A small credit product restricted to one district and industry, so matching stays cheap."""
    return {"code": code, "name_zh": f"演练产品 {code}", "name_en": f"Drill product {code}",
            "min_amount_fen": 10_000_000, "max_amount_fen": 300_000_000, "min_term_months": 6,
            "max_term_months": 36, "min_rate_bp": 300, "max_rate_bp": 450, "guarantee_type": "信用",
            "eligible_districts": ["310117"], "eligible_industries": ["C"]}


def post_json(url: str, token: str, body: dict, idempotency_key: str, timeout: float = 10) -> tuple[int, dict | None]:
    """One POST; (status, JSON body), status 0 when no answer came (connection refused, reset or timed out)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": idempotency_key}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except (OSError, ValueError):
        return 0, None


def get_status(url: str, timeout: float = 10) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback only
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0
