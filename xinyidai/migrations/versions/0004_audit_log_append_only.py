"""audit log append-only in the database: a PostgreSQL trigger refuses UPDATE and DELETE on audit_log

The ORM already refuses to change audit rows (models.audit); the trigger also stops SQL that bypasses
the ORM. SQLite has no such guard (the embedded default trusts its single local user).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from models.audit import APPEND_ONLY_FUNCTION, APPEND_ONLY_TRIGGER

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(APPEND_ONLY_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_is_append_only()")
