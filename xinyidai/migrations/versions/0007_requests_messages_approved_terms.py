"""authorization requests (a bank asks the enterprise to authorize it), the message thread of an application,
and the terms a bank approved (amount, term, rate) on the application

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "authorization_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("status", sa.Enum("pending", "granted", "refused", name="authorizationrequeststatus",
                                    native_enum=False, create_constraint=True, length=11), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("authorization_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"],
                                name=op.f("fk_authorization_requests_application_id_applications")),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], name=op.f("fk_authorization_requests_bank_id_banks")),
        sa.ForeignKeyConstraint(["uscc"], ["enterprises.uscc"], name=op.f("fk_authorization_requests_uscc_enterprises")),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"],
                                name=op.f("fk_authorization_requests_requested_by_id_users")),
        sa.ForeignKeyConstraint(["answered_by_id"], ["users.id"],
                                name=op.f("fk_authorization_requests_answered_by_id_users")),
        sa.ForeignKeyConstraint(["authorization_id"], ["authorizations.id"],
                                name=op.f("fk_authorization_requests_authorization_id_authorizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_requests")),
    )
    op.create_index(op.f("ix_authorization_requests_application_id"), "authorization_requests", ["application_id"])
    op.create_index("ix_authorization_requests_uscc_status", "authorization_requests", ["uscc", "status"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("side", sa.Enum("bank", "enterprise", name="side", native_enum=False, create_constraint=True,
                                  length=14), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.String(length=1000), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("length(body) > 0", name=op.f("ck_messages_body_not_empty")),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"], name=op.f("fk_messages_application_id_applications")),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], name=op.f("fk_messages_bank_id_banks")),
        sa.ForeignKeyConstraint(["uscc"], ["enterprises.uscc"], name=op.f("fk_messages_uscc_enterprises")),
        sa.ForeignKeyConstraint(["sender_id"], ["users.id"], name=op.f("fk_messages_sender_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index(op.f("ix_messages_application_id"), "messages", ["application_id"])
    op.create_index(op.f("ix_messages_uscc"), "messages", ["uscc"])
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("approved_amount_fen", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("approved_term_months", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("approved_rate_bp", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("approved_rate_bp")
        batch.drop_column("approved_term_months")
        batch.drop_column("approved_amount_fen")
    op.drop_table("messages")
    op.drop_table("authorization_requests")
