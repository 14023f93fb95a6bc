"""Engine set-up that depends on the backend, and the reference rows every database needs."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy import event

from models.identity import CITY_CODE, District
from xinyidai.reference import CITY, SHANGHAI_DISTRICTS

MAX_INT = 2**31 - 1  # the largest INTEGER (every id column) PostgreSQL holds


def by_id(session, model, row_id: int, **options):
    """The row with that id, or None. A URL or a form can carry any number: one outside the id columns'
    range is simply not there, rather than a database error."""
    return session.get(model, row_id, **options) if 0 < row_id <= MAX_INT else None


# Statements that only read: a deferred SQLite transaction may run them without the write lock. Anything
# else (INSERT, UPDATE, DELETE, SAVEPOINT, DDL …) needs the lock.
_READS_ONLY = re.compile(r"\s*(SELECT|PRAGMA|EXPLAIN|BEGIN|COMMIT|ROLLBACK|RELEASE|END)\b", re.IGNORECASE)
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _writing_request() -> bool:
    from flask import has_request_context, request

    return has_request_context() and request.method in _UNSAFE_METHODS


def configure_engine(engine: sa.Engine) -> None:
    """SQLite: enforce foreign keys, allow concurrent readers (WAL), wait on a busy writer, and let
    SQLAlchemy own transactions (pysqlite's own handling breaks SAVEPOINTs).

    Several gunicorn workers share the one file in the embedded default. WAL lets them read at once and the
    busy timeout makes a writer wait for another, but a *deferred* transaction that read first and then writes
    cannot wait: its snapshot is stale once another writer committed, and SQLite answers "database is locked"
    at once, whatever the timeout. So a transaction never turns from reading into writing:

    * a request that changes something (POST, PUT, PATCH, DELETE) begins IMMEDIATE — it holds the write lock
      from its first statement, and what it read is what it writes against (serialisable, as the state
      checks of claims and decisions need);
    * anything else (page views, API reads, commands, background rebuilds) begins deferred and, at its first
      statement that writes, ends the read-only part (nothing to lose: it wrote nothing) and begins IMMEDIATE
      — an audit entry, a token's last use or a read mark is written against the newest data, like a
      PostgreSQL READ COMMITTED transaction.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection):
        immediate = _writing_request()
        connection.info["xyd_deferred"] = not immediate
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @event.listens_for(engine, "before_cursor_execute")
    def _sqlite_before_write(connection, cursor, statement, _parameters, _context, _executemany):
        if connection.info.get("xyd_deferred") and not _READS_ONLY.match(statement):
            connection.info["xyd_deferred"] = False
            cursor.execute("COMMIT")  # the transaction so far only read
            cursor.execute("BEGIN IMMEDIATE")

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _sqlite_end(connection):
        connection.info.pop("xyd_deferred", None)


def district_rows() -> list[dict]:
    rows = [{"code": code, "name_zh": zh, "name_en": en} for code, (zh, en) in SHANGHAI_DISTRICTS.items()]
    rows.append({"code": CITY_CODE, "name_zh": CITY[1], "name_en": CITY[2]})
    return rows


def ensure_reference_data(connection: sa.Connection) -> None:
    """Insert the districts that are missing (idempotent; migrations and test set-up both call it)."""
    present = set(connection.scalars(sa.select(District.code)))
    missing = [row for row in district_rows() if row["code"] not in present]
    if missing:
        connection.execute(sa.insert(District.__table__), missing)


# Rows written at once after which PostgreSQL's planner statistics are refreshed on the spot: autovacuum
# analyzes later (or never, where an operator switched it off), and until then a table that grew from
# nothing to millions of rows is planned as if empty — seconds per page instead of milliseconds.
BULK_ROWS = 10_000


def refresh_statistics(session, *tables: sa.Table) -> None:
    """ANALYZE the tables (all of them when none is named) after a bulk load, on PostgreSQL."""
    if session.get_bind().dialect.name != "postgresql":
        return
    if not tables:
        session.execute(sa.text("ANALYZE"))
        return
    for table in tables:
        session.execute(sa.text(f'ANALYZE "{table.name}"'))  # noqa: S608 - a table name from our own metadata
