"""credit reports (专用信用报告: header and digest only), the reports banks attach, and credit-repair cases

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('credit_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=24), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('enterprise_name', sa.String(length=200), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('window_start', sa.Date(), nullable=False),
    sa.Column('window_end', sa.Date(), nullable=False),
    sa.Column('sections', sa.JSON(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('issued_via', sa.String(length=16), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_credit_reports_issued_by_id_users')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_credit_reports_revoked_by_id_users')),
    sa.ForeignKeyConstraint(['uscc'], ['enterprises.uscc'], name=op.f('fk_credit_reports_uscc_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_reports')),
    sa.UniqueConstraint('number', name=op.f('uq_credit_reports_number'))
    )
    with op.batch_alter_table('credit_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_reports_uscc'), ['uscc'], unique=False)

    op.create_table('repair_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('state', sa.Enum('applied', 'repaired', 'rejected', name='repairstate', native_enum=False, create_constraint=True, length=12), nullable=False),
    sa.Column('applied_on', sa.Date(), nullable=True),
    sa.Column('applied_by_id', sa.Integer(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('commitment_signed', sa.Boolean(), nullable=False),
    sa.Column('evidence_name', sa.String(length=200), nullable=True),
    sa.Column('evidence_type', sa.String(length=32), nullable=True),
    sa.Column('evidence_bytes', sa.Integer(), nullable=True),
    sa.Column('evidence_sha256', sa.String(length=64), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=True),
    sa.Column('closed_via', sa.String(length=16), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['applied_by_id'], ['users.id'], name=op.f('fk_repair_cases_applied_by_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_repair_cases_decided_by_id_users')),
    sa.ForeignKeyConstraint(['district_code'], ['districts.code'], name=op.f('fk_repair_cases_district_code_districts')),
    sa.ForeignKeyConstraint(['record_id'], ['public_credit_events.record_id'], name=op.f('fk_repair_cases_record_id_public_credit_events')),
    sa.ForeignKeyConstraint(['uscc'], ['enterprises.uscc'], name=op.f('fk_repair_cases_uscc_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repair_cases'))
    )
    with op.batch_alter_table('repair_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repair_cases_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_repair_cases_record_id'), ['record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_repair_cases_uscc'), ['uscc'], unique=False)
        batch_op.create_index('uq_repair_cases_one_open', ['record_id'], unique=True, postgresql_where=sa.text("state = 'applied'"), sqlite_where=sa.text("state = 'applied'"))

    op.create_table('credit_report_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('file_matches', sa.Boolean(), nullable=True),
    sa.Column('checked_by_id', sa.Integer(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_credit_report_attachments_application_id_applications')),
    sa.ForeignKeyConstraint(['checked_by_id'], ['users.id'], name=op.f('fk_credit_report_attachments_checked_by_id_users')),
    sa.ForeignKeyConstraint(['report_id'], ['credit_reports.id'], name=op.f('fk_credit_report_attachments_report_id_credit_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_report_attachments'))
    )
    with op.batch_alter_table('credit_report_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_report_attachments_application_id'), ['application_id'], unique=False)



def downgrade():
    with op.batch_alter_table('credit_report_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_report_attachments_application_id'))

    op.drop_table('credit_report_attachments')
    with op.batch_alter_table('repair_cases', schema=None) as batch_op:
        batch_op.drop_index('uq_repair_cases_one_open', postgresql_where=sa.text("state = 'applied'"), sqlite_where=sa.text("state = 'applied'"))
        batch_op.drop_index(batch_op.f('ix_repair_cases_uscc'))
        batch_op.drop_index(batch_op.f('ix_repair_cases_record_id'))
        batch_op.drop_index(batch_op.f('ix_repair_cases_district_code'))

    op.drop_table('repair_cases')
    with op.batch_alter_table('credit_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_reports_uscc'))

    op.drop_table('credit_reports')
