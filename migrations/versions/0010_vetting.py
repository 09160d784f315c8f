"""vetting: requests for more information and the delegate's answers (encrypted)

Revision ID: 0010_vetting
Revises: 0008_identity
Create Date: 2026-11-30 06:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_vetting'
down_revision = '0008_identity'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('vetting_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.Text(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requested_by', sa.String(length=254), nullable=False),
    sa.Column('mailed_to', sa.String(length=254), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('edition_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['delegate_id'], ['delegate.id'], name=op.f('fk_vetting_request_delegate_id_delegate'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['edition_id'], ['edition.id'], name=op.f('fk_vetting_request_edition_id_edition')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vetting_request'))
    )
    with op.batch_alter_table('vetting_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vetting_request_delegate_id'), ['delegate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vetting_request_edition_id'), ['edition_id'], unique=False)


def downgrade():
    with op.batch_alter_table('vetting_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vetting_request_edition_id'))
        batch_op.drop_index(batch_op.f('ix_vetting_request_delegate_id'))

    op.drop_table('vetting_request')
