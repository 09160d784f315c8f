"""watchlists: encrypted watchlist entries and the hits they raise for the vetting role

Revision ID: 0011_watchlist
Revises: 0010_vetting
Create Date: 2026-11-30 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_watchlist'
down_revision = '0010_vetting'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('watchlist_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('family_name', sa.Text(), nullable=True),
    sa.Column('given_name', sa.Text(), nullable=True),
    sa.Column('date_of_birth', sa.Text(), nullable=True),
    sa.Column('date_of_birth_hash', sa.String(length=64), nullable=True),
    sa.Column('nationality', sa.String(length=2), nullable=False),
    sa.Column('document_number', sa.Text(), nullable=True),
    sa.Column('document_number_hash', sa.String(length=64), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('imported_by', sa.String(length=254), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('edition_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['edition_id'], ['edition.id'], name=op.f('fk_watchlist_entry_edition_id_edition')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_watchlist_entry'))
    )
    with op.batch_alter_table('watchlist_entry', schema=None) as batch_op:
        batch_op.create_index('ix_watchlist_entry_edition_birth', ['edition_id', 'date_of_birth_hash'], unique=False)
        batch_op.create_index('ix_watchlist_entry_edition_number', ['edition_id', 'document_number_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_watchlist_entry_edition_id'), ['edition_id'], unique=False)

    op.create_table('watchlist_hit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('found_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by', sa.String(length=254), nullable=False),
    sa.Column('dismissed', sa.Boolean(), nullable=False),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.Column('edition_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['delegate_id'], ['delegate.id'], name=op.f('fk_watchlist_hit_delegate_id_delegate'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['edition_id'], ['edition.id'], name=op.f('fk_watchlist_hit_edition_id_edition')),
    sa.ForeignKeyConstraint(['entry_id'], ['watchlist_entry.id'], name=op.f('fk_watchlist_hit_entry_id_watchlist_entry'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_watchlist_hit')),
    sa.UniqueConstraint('delegate_id', 'entry_id', name=op.f('uq_watchlist_hit_delegate_id'))
    )
    with op.batch_alter_table('watchlist_hit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_watchlist_hit_delegate_id'), ['delegate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_watchlist_hit_edition_id'), ['edition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_watchlist_hit_entry_id'), ['entry_id'], unique=False)


def downgrade():
    with op.batch_alter_table('watchlist_hit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watchlist_hit_entry_id'))
        batch_op.drop_index(batch_op.f('ix_watchlist_hit_edition_id'))
        batch_op.drop_index(batch_op.f('ix_watchlist_hit_delegate_id'))

    op.drop_table('watchlist_hit')
    with op.batch_alter_table('watchlist_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watchlist_entry_edition_id'))
        batch_op.drop_index('ix_watchlist_entry_edition_number')
        batch_op.drop_index('ix_watchlist_entry_edition_birth')

    op.drop_table('watchlist_entry')
