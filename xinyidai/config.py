"""Configuration from the environment (README "Configuration" lists every variable)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def instance_path() -> Path:
    """The instance folder: database file, model store, delivery reports, demo files."""
    return Path(os.environ.get("XYD_INSTANCE_PATH") or PROJECT_ROOT / "instance").resolve()


def _secret_key(folder: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the instance folder.

    Keeping it in the instance folder (not the code) means two instances never share sessions and a
    restart does not log everybody out.
    """
    if key := os.environ.get("SECRET_KEY"):
        if key.startswith("CHANGE-ME"):
            # deploy/env.example's placeholder is public: anyone could forge sessions with it.
            raise RuntimeError("SECRET_KEY is env.example's placeholder: set a random one (python -c 'import secrets; print(secrets.token_hex(32))'), or unset "
                               "it in the embedded default to have one generated into the instance folder")
        return key
    key_file = folder / "secret_key"
    if not key_file.exists():
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return key_file.read_text().strip()


def _sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'xinyidai.sqlite3'}"


def from_environment(folder: Path, *, secret: bool = True) -> dict:
    """Settings read from the environment; `create_app(test_config)` may override any of them."""
    settings = {
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL") or _sqlite_url(folder),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "BABEL_DEFAULT_LOCALE": os.environ.get("XYD_DEFAULT_LOCALE", "zh"),
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "XYD_LANGUAGES": ("zh", "en"),
        "XYD_CLAIM_SLA_WORKING_DAYS": int(os.environ.get("XYD_CLAIM_SLA_WORKING_DAYS", "3")),
        # The SLA clock's overrides of China's holiday calendar (xinyidai.domain.working_days): ISO dates.
        "XYD_EXTRA_DAYS_OFF": os.environ.get("XYD_EXTRA_DAYS_OFF", ""),
        "XYD_EXTRA_WORKING_DAYS": os.environ.get("XYD_EXTRA_WORKING_DAYS", ""),
        "MAX_CONTENT_LENGTH": int(os.environ.get("XYD_MAX_UPLOAD_BYTES", str(32 * 1024 * 1024))),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("XYD_SECURE_COOKIES", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": os.environ.get("XYD_SECURE_COOKIES", "0") == "1",
        "WTF_CSRF_TIME_LIMIT": None,
        # A session ends after this long without a request, and this long after its login (xinyidai.auth.session).
        "XYD_SESSION_IDLE_MINUTES": int(os.environ.get("XYD_SESSION_IDLE_MINUTES", "30")),
        "XYD_SESSION_MAX_HOURS": int(os.environ.get("XYD_SESSION_MAX_HOURS", "12")),
        "XYD_REDIS_URL": os.environ.get("XYD_REDIS_URL") or None,
        # Office dashboards read a pre-aggregated cube at most this old (xinyidai.domain.figures.cube); with
        # XYD_OFFICE_PREAGGREGATE=0 they read SQL directly (the same figures: a test compares the two).
        "XYD_OFFICE_MAX_AGE_SECONDS": int(os.environ.get("XYD_OFFICE_MAX_AGE_SECONDS", "300")),
        "XYD_OFFICE_PREAGGREGATE": os.environ.get("XYD_OFFICE_PREAGGREGATE", "1") == "1",
        # Rate-limit counters: Redis when set (every host shares them), else a SQLite file every worker of this
        # host shares (xinyidai.ratelimit_store) — never one worker's memory.
        "RATELIMIT_STORAGE_URI": os.environ.get("XYD_REDIS_URL") or f"xyd-sqlite://{folder / 'ratelimits.sqlite3'}",
        "XYD_RATELIMIT": os.environ.get("XYD_RATELIMIT", "1") == "1",
        "RATELIMIT_HEADERS_ENABLED": True,
        "XYD_LOGIN_RATE_LIMIT": os.environ.get("XYD_LOGIN_RATE_LIMIT", "10/minute;60/hour"),
        # Bank API: requests carrying a wrong token, per address (guessing); all requests, per token.
        "XYD_API_AUTH_FAILURE_LIMIT": os.environ.get("XYD_API_AUTH_FAILURE_LIMIT", "20/minute;100/hour"),
        "XYD_API_RATE_LIMIT": os.environ.get("XYD_API_RATE_LIMIT", "100/second"),
        "XYD_TOKEN_CREATE_RATE_LIMIT": os.environ.get("XYD_TOKEN_CREATE_RATE_LIMIT", "20/hour"),
        # Financing needs one enterprise may publish (counted from its needs, xinyidai.domain.needs).
        "XYD_NEED_PUBLISH_LIMIT": os.environ.get("XYD_NEED_PUBLISH_LIMIT", "5/hour;20/day"),
        # The credit report (专用信用报告): how long a report is valid, the address its QR code opens (the one
        # banks reach; unset: the host that served the request), and how many checks one address may make.
        "XYD_CREDIT_REPORT_VALID_DAYS": int(os.environ.get("XYD_CREDIT_REPORT_VALID_DAYS", "30")),
        "XYD_PUBLIC_URL": os.environ.get("XYD_PUBLIC_URL") or None,
        "XYD_VERIFY_RATE_LIMIT": os.environ.get("XYD_VERIFY_RATE_LIMIT", "10/minute;100/hour"),
        "XYD_REPAIR_EVIDENCE_MAX_BYTES": int(os.environ.get("XYD_REPAIR_EVIDENCE_MAX_BYTES", str(5 * 1024 * 1024))),
        # How many reverse proxies (nginx) stand in front: their X-Forwarded-* headers are then trusted.
        "XYD_PROXY_COUNT": int(os.environ.get("XYD_PROXY_COUNT", "0")),
        # Reporting up to the city node (xyd upstream push / reconcile; xinyidai.upstream.transport).
        "XYD_UPSTREAM_URL": os.environ.get("XYD_UPSTREAM_URL", ""),
        "XYD_UPSTREAM_TOKEN": os.environ.get("XYD_UPSTREAM_TOKEN", ""),
        "XYD_UPSTREAM_CERT": os.environ.get("XYD_UPSTREAM_CERT", ""),
        "XYD_UPSTREAM_KEY": os.environ.get("XYD_UPSTREAM_KEY", ""),
        "XYD_UPSTREAM_CA": os.environ.get("XYD_UPSTREAM_CA", ""),
        "XYD_UPSTREAM_PLATFORM": os.environ.get("XYD_UPSTREAM_PLATFORM", "xinyidai"),
        "XYD_UPSTREAM_TIMEOUT_SECONDS": float(os.environ.get("XYD_UPSTREAM_TIMEOUT_SECONDS", "10")),
        "XYD_UPSTREAM_BACKOFF_SECONDS": float(os.environ.get("XYD_UPSTREAM_BACKOFF_SECONDS", "30")),
        "XYD_UPSTREAM_BACKOFF_MAX_SECONDS": float(os.environ.get("XYD_UPSTREAM_BACKOFF_MAX_SECONDS", "3600")),
    }
    if "XYD_CACHE" in os.environ:  # unset: on, except in tests (xinyidai.caching)
        settings["XYD_CACHE"] = os.environ["XYD_CACHE"] == "1"
    if secret:
        settings["SECRET_KEY"] = _secret_key(folder)
    return settings
