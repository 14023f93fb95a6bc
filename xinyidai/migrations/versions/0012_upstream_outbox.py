"""upstream_outbox and upstream_reconciliations: the events the district reports up to the city node, written
in the transaction of each change, and the monthly reconciliations of its figures (xinyidai.domain.upstream)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "upstream_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("aggregate_type", sa.String(length=20), nullable=False),
        sa.Column("aggregate_id", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("status", sa.Enum("pending", "sent", "parked", name="outboxstatus", native_enum=False,
                                    create_constraint=True, length=11), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upstream_outbox")),
        sa.UniqueConstraint("aggregate_type", "aggregate_id", "sequence",
                            name=op.f("uq_upstream_outbox_aggregate_type_aggregate_id_sequence")),
        sa.UniqueConstraint("event_id", name=op.f("uq_upstream_outbox_event_id")),
    )
    op.create_index("ix_upstream_outbox_status_id", "upstream_outbox", ["status", "id"])
    op.create_table(
        "upstream_reconciliations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("receiver_figures", sa.JSON(), nullable=True),
        sa.Column("platform_figures", sa.JSON(), nullable=False),
        sa.Column("differences", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upstream_reconciliations")),
    )
    op.create_index(op.f("ix_upstream_reconciliations_month"), "upstream_reconciliations", ["month"])


def downgrade():
    op.drop_index(op.f("ix_upstream_reconciliations_month"), table_name="upstream_reconciliations")
    op.drop_table("upstream_reconciliations")
    op.drop_index("ix_upstream_outbox_status_id", table_name="upstream_outbox")
    op.drop_table("upstream_outbox")
