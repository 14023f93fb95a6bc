"""joint modelling (联合建模) and in-principle approval (预授信): bank samples and their rows, bank model versions,
bank scores, credit policies, in-principle answers

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('credit_policies',
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=16), nullable=False),
    sa.Column('max_pd', sa.Double(), nullable=True),
    sa.Column('min_band', sa.String(length=4), nullable=True),
    sa.Column('sales_share_bp', sa.Integer(), nullable=False),
    sa.Column('rate_by_band', sa.JSON(), nullable=False),
    sa.Column('valid_days', sa.Integer(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_credit_policies_product_id_products')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_credit_policies_updated_by_id_users')),
    sa.PrimaryKeyConstraint('product_id', name=op.f('pk_credit_policies'))
    )
    op.create_table('bank_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('file_format', sa.String(length=8), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('defaults', sa.Integer(), nullable=False),
    sa.Column('rejections', sa.JSON(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_by_token_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_bank_samples_bank_id_banks')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_bank_samples_uploaded_by_id_users')),
    sa.ForeignKeyConstraint(['uploaded_by_token_id'], ['api_tokens.id'], name=op.f('fk_bank_samples_uploaded_by_token_id_api_tokens')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_samples')),
    sa.UniqueConstraint('bank_id', 'sha256', name=op.f('uq_bank_samples_bank_id_sha256'))
    )
    with op.batch_alter_table('bank_samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_samples_bank_id'), ['bank_id'], unique=False)

    op.create_table('bank_model_versions',
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('card', sa.JSON(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('trained_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('trained_by', sa.String(length=64), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('promoted_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_bank_model_versions_bank_id_banks')),
    sa.ForeignKeyConstraint(['sample_id'], ['bank_samples.id'], name=op.f('fk_bank_model_versions_sample_id_bank_samples')),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_bank_model_versions'))
    )
    with op.batch_alter_table('bank_model_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_model_versions_bank_id'), ['bank_id'], unique=False)
        batch_op.create_index('uq_bank_model_versions_one_active', ['bank_id'], unique=True, postgresql_where=sa.text('is_active'), sqlite_where=sa.text('is_active'))

    op.create_table('bank_sample_rows',
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('observed_on', sa.Date(), nullable=False),
    sa.Column('outcome', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['sample_id'], ['bank_samples.id'], name=op.f('fk_bank_sample_rows_sample_id_bank_samples'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uscc'], ['enterprises.uscc'], name=op.f('fk_bank_sample_rows_uscc_enterprises')),
    sa.PrimaryKeyConstraint('sample_id', 'line', name=op.f('pk_bank_sample_rows'))
    )
    op.create_table('in_principle_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('approved', sa.Boolean(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=True),
    sa.Column('rate_bp', sa.Integer(), nullable=True),
    sa.Column('cost_bp', sa.Integer(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('reason_code', sa.String(length=32), nullable=True),
    sa.Column('reason_zh', sa.String(length=300), nullable=True),
    sa.Column('reason_en', sa.String(length=300), nullable=True),
    sa.Column('model', sa.String(length=16), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=True),
    sa.Column('score_id', sa.Integer(), nullable=True),
    sa.Column('pd_12m', sa.Double(), nullable=True),
    sa.Column('band', sa.String(length=4), nullable=True),
    sa.Column('authorization_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('withdrawn_reason', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_in_principle_answers_application_id_applications')),
    sa.ForeignKeyConstraint(['authorization_id'], ['authorizations.id'], name=op.f('fk_in_principle_answers_authorization_id_authorizations')),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_in_principle_answers_bank_id_banks')),
    sa.ForeignKeyConstraint(['need_id'], ['financing_needs.id'], name=op.f('fk_in_principle_answers_need_id_financing_needs')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_in_principle_answers_product_id_products')),
    sa.ForeignKeyConstraint(['uscc'], ['enterprises.uscc'], name=op.f('fk_in_principle_answers_uscc_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_in_principle_answers'))
    )
    with op.batch_alter_table('in_principle_answers', schema=None) as batch_op:
        batch_op.create_index('ix_in_principle_answers_application_status', ['application_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_in_principle_answers_bank_id'), ['bank_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_in_principle_answers_need_id'), ['need_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_in_principle_answers_uscc'), ['uscc'], unique=False)

    op.create_table('bank_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bank_id', sa.Integer(), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('pd_12m', sa.Double(), nullable=False),
    sa.Column('band', sa.String(length=4), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('scored_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bank_id'], ['banks.id'], name=op.f('fk_bank_scores_bank_id_banks')),
    sa.ForeignKeyConstraint(['model_version'], ['bank_model_versions.version'], name=op.f('fk_bank_scores_model_version_bank_model_versions')),
    sa.ForeignKeyConstraint(['uscc'], ['enterprises.uscc'], name=op.f('fk_bank_scores_uscc_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_scores'))
    )
    with op.batch_alter_table('bank_scores', schema=None) as batch_op:
        batch_op.create_index('ix_bank_scores_bank_uscc_scored', ['bank_id', 'uscc', 'scored_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_bank_scores_model_version'), ['model_version'], unique=False)



def downgrade():
    with op.batch_alter_table('bank_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_scores_model_version'))
        batch_op.drop_index('ix_bank_scores_bank_uscc_scored')

    op.drop_table('bank_scores')
    with op.batch_alter_table('in_principle_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_in_principle_answers_uscc'))
        batch_op.drop_index(batch_op.f('ix_in_principle_answers_need_id'))
        batch_op.drop_index(batch_op.f('ix_in_principle_answers_bank_id'))
        batch_op.drop_index('ix_in_principle_answers_application_status')

    op.drop_table('in_principle_answers')
    op.drop_table('bank_sample_rows')
    with op.batch_alter_table('bank_model_versions', schema=None) as batch_op:
        batch_op.drop_index('uq_bank_model_versions_one_active', postgresql_where=sa.text('is_active'), sqlite_where=sa.text('is_active'))
        batch_op.drop_index(batch_op.f('ix_bank_model_versions_bank_id'))

    op.drop_table('bank_model_versions')
    with op.batch_alter_table('bank_samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_samples_bank_id'))

    op.drop_table('bank_samples')
    op.drop_table('credit_policies')
