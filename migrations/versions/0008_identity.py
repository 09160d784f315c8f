"""identity and vetting: encrypted identity data, the vetting gate, edition switches

Revision ID: 0008_identity
Revises: 0007_printers
Create Date: 2026-11-30 06:03:25.352872

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_identity'
down_revision = '0007_printers'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('delegate_identity',
    sa.Column('delegate_id', sa.Integer(), nullable=False),
    sa.Column('nationality', sa.String(length=2), nullable=False),
    sa.Column('date_of_birth', sa.Text(), nullable=True),
    sa.Column('document_type', sa.String(length=16), nullable=False),
    sa.Column('document_number', sa.Text(), nullable=True),
    sa.Column('document_number_hash', sa.String(length=64), nullable=True),
    sa.Column('document_country', sa.String(length=2), nullable=False),
    sa.Column('document_expiry', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('edition_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['delegate_id'], ['delegate.id'], name=op.f('fk_delegate_identity_delegate_id_delegate'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['edition_id'], ['edition.id'], name=op.f('fk_delegate_identity_edition_id_edition')),
    sa.PrimaryKeyConstraint('delegate_id', name=op.f('pk_delegate_identity'))
    )
    with op.batch_alter_table('delegate_identity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delegate_identity_document_number_hash'), ['document_number_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_delegate_identity_edition_id'), ['edition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delegate_identity_nationality'), ['nationality'], unique=False)

    with op.batch_alter_table('delegate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vetting_status', sa.String(length=16), nullable=False, server_default='pending'))
        batch_op.add_column(sa.Column('vetting_note', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('vetted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('vetted_by', sa.String(length=254), nullable=False, server_default=''))
        batch_op.create_index(batch_op.f('ix_delegate_vetting_status'), ['vetting_status'], unique=False)

    with op.batch_alter_table('edition', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identity_categories', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('vetting_required', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('photo_required', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('identity_retention_days', sa.Integer(), nullable=False, server_default='30'))
        batch_op.add_column(sa.Column('identity_purged_at', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('edition', schema=None) as batch_op:
        batch_op.drop_column('identity_purged_at')
        batch_op.drop_column('identity_retention_days')
        batch_op.drop_column('photo_required')
        batch_op.drop_column('vetting_required')
        batch_op.drop_column('identity_categories')

    with op.batch_alter_table('delegate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delegate_vetting_status'))
        batch_op.drop_column('vetted_by')
        batch_op.drop_column('vetted_at')
        batch_op.drop_column('vetting_note')
        batch_op.drop_column('vetting_status')

    with op.batch_alter_table('delegate_identity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delegate_identity_nationality'))
        batch_op.drop_index(batch_op.f('ix_delegate_identity_edition_id'))
        batch_op.drop_index(batch_op.f('ix_delegate_identity_document_number_hash'))

    op.drop_table('delegate_identity')
