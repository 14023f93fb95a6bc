"""Migrating an empty database gives exactly the schema the models describe."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from models import Base
from models.identity import District
from tests.live_server import throwaway_database
from xinyidai import create_app
from xinyidai.extensions import db


@pytest.fixture
def empty_database_url(tmp_path):
    """A brand-new database: a SQLite file, or a throw-away PostgreSQL database beside the test one."""
    with throwaway_database(tmp_path) as url:
        yield url


def test_migrations_reproduce_the_models(empty_database_url, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url, "XYD_INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "x", "TESTING": True})
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            differences = compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
            )
            districts = connection.scalar(sa.select(sa.func.count()).select_from(District))
        db.engine.dispose()
    assert differences == []
    assert districts == 17  # 16 districts and the city office
