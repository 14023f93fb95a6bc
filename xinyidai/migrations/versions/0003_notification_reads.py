"""notification read marks: one row per user and application event read

Until now "mark all read" was kept as a notifications_read row in the audit log carrying the newest
event id; those markers are carried over so nobody's old notifications turn unread again.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "notification_reads",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["application_events.id"],
                                name=op.f("fk_notification_reads_event_id_application_events"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notification_reads_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "event_id", name=op.f("pk_notification_reads")),
    )
    _carry_over_audit_markers(op.get_bind())


def _carry_over_audit_markers(connection) -> None:
    audit = sa.table("audit_log", sa.column("id", sa.Integer), sa.column("action", sa.String),
                     sa.column("actor_user_id", sa.Integer), sa.column("occurred_at", sa.DateTime(timezone=True)),
                     sa.column("detail", sa.JSON))
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("enterprise_uscc", sa.String))
    events = sa.table("application_events", sa.column("id", sa.Integer), sa.column("application_id", sa.Integer))
    applications = sa.table("applications", sa.column("id", sa.Integer), sa.column("uscc", sa.String))
    reads = sa.table("notification_reads", sa.column("user_id", sa.Integer), sa.column("event_id", sa.Integer),
                     sa.column("read_at", sa.DateTime(timezone=True)))
    latest = {}  # user id -> (up_to_event_id, read_at) of the user's newest marker
    for user_id, occurred_at, detail in connection.execute(
            sa.select(audit.c.actor_user_id, audit.c.occurred_at, audit.c.detail)
            .where(audit.c.action == "notifications_read", audit.c.actor_user_id.is_not(None))
            .order_by(audit.c.id)):
        latest[user_id] = (int((detail or {}).get("up_to_event_id", 0)), occurred_at)
    for user_id, (up_to, read_at) in latest.items():
        uscc = connection.scalar(sa.select(users.c.enterprise_uscc).where(users.c.id == user_id))
        if uscc is None or up_to <= 0:
            continue
        connection.execute(reads.insert().from_select(
            ["user_id", "event_id", "read_at"],
            sa.select(sa.literal(user_id), events.c.id, sa.literal(read_at, sa.DateTime(timezone=True)))
            .join(applications, applications.c.id == events.c.application_id)
            .where(applications.c.uscc == uscc, events.c.id <= up_to)))


def downgrade():
    op.drop_table("notification_reads")
