"""invitations (personal registration links)

Revision ID: 0005_delegations
Revises: 0004_scan_method
Create Date: 2026-12-02 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_delegations'
down_revision = '0004_scan_method'
branch_labels = None
depends_on = None


def upgrade():
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
        sa.Column('created_by', sa.String(length=300), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('registered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('edition_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['delegate_id'], ['delegate.id']),
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
