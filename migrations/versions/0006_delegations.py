"""invitations, delegations and their focal points

Revision ID: 0006_delegations
Revises: 0005_jobs
Create Date: 2026-12-02 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_delegations'
down_revision = '0005_jobs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'delegation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name_en', sa.String(length=200), nullable=False),
        sa.Column('name_zh', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('quotas', sa.JSON(), nullable=False),
        sa.Column('head_delegate_id', sa.Integer(), nullable=True),
        sa.Column('letter', sa.LargeBinary(), nullable=True),
        sa.Column('letter_name', sa.String(length=200), nullable=False),
        sa.Column('letter_size', sa.Integer(), nullable=False),
        sa.Column('letter_uploaded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('edition_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['head_delegate_id'], ['delegate.id'],
                                name='fk_delegation_head'),
        sa.ForeignKeyConstraint(['edition_id'], ['edition.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('edition_id', 'name_en'),
    )
    op.create_index('ix_delegation_edition_id', 'delegation', ['edition_id'])
    op.create_table(
        'focal_point',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delegation_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('email_key', sa.String(length=254), nullable=False),
        sa.Column('last_signin_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('edition_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['delegation_id'], ['delegation.id']),
        sa.ForeignKeyConstraint(['edition_id'], ['edition.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('edition_id', 'delegation_id', 'email_key'),
    )
    op.create_index('ix_focal_point_edition_id', 'focal_point', ['edition_id'])
    op.create_index('ix_focal_point_delegation_id', 'focal_point', ['delegation_id'])
    op.create_index('ix_focal_point_email_key', 'focal_point', ['email_key'])
    with op.batch_alter_table('delegate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delegation_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_delegate_delegation', 'delegation',
                                    ['delegation_id'], ['id'])
        batch_op.create_index('ix_delegate_delegation_id', ['delegation_id'])
    op.create_table(
        'invitation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('email_key', sa.String(length=254), nullable=False),
        sa.Column('category', sa.String(length=16), nullable=False),
        sa.Column('prefill', sa.JSON(), nullable=False),
        sa.Column('locale', sa.String(length=8), nullable=False),
        sa.Column('expires_on', sa.Date(), nullable=True),
        sa.Column('approve', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('nonce', sa.String(length=32), nullable=False),
        sa.Column('delegate_id', sa.Integer(), nullable=True),
        sa.Column('delegation_id', sa.Integer(), nullable=True),
        sa.Column('created_by', sa.String(length=300), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('registered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('edition_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['delegate_id'], ['delegate.id']),
        sa.ForeignKeyConstraint(['delegation_id'], ['delegation.id']),
        sa.ForeignKeyConstraint(['edition_id'], ['edition.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.create_index('ix_invitation_edition_id', ['edition_id'], unique=False)
        batch_op.create_index('ix_invitation_email_key', ['email_key'], unique=False)


def downgrade():
    with op.batch_alter_table('invitation', schema=None) as batch_op:
        batch_op.drop_index('ix_invitation_email_key')
        batch_op.drop_index('ix_invitation_edition_id')
    op.drop_table('invitation')
    with op.batch_alter_table('delegate', schema=None) as batch_op:
        batch_op.drop_index('ix_delegate_delegation_id')
        batch_op.drop_constraint('fk_delegate_delegation', type_='foreignkey')
        batch_op.drop_column('delegation_id')
    op.drop_table('focal_point')
    op.drop_table('delegation')
