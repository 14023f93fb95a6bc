"""The Flask extensions, created unbound and attached in `create_app`."""

from __future__ import annotations

from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from models import Base
from xinyidai import ratelimit_store  # noqa: F401 - registers the xyd-sqlite:// storage

db = SQLAlchemy(metadata=Base.metadata)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Storage from RATELIMIT_STORAGE_URI: Redis when several hosts serve, else the instance folder's SQLite file that
# every worker shares (xinyidai.ratelimit_store registers its scheme on import).
limiter = Limiter(key_func=get_remote_address)


@limiter.request_filter
def _rate_limiting_off() -> bool:
    """Per-app switch (XYD_RATELIMIT). flask-limiter's own RATELIMIT_ENABLED lives on the one shared
    Limiter, so a second app in the same process (tests, tools) would flip it for the first."""
    return not current_app.config.get("XYD_RATELIMIT", True)
