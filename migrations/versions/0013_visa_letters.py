"""visa letters: requests, issued letters, letterhead settings

Revision ID: 0013_visa_letters
Revises: 0012_photo
Create Date: 2026-11-30 06:05:47.137237

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_visa_letters'
down_revision = '0012_photo'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('visa_letter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.Uuid(), nullable=False),
    sa.Column('delegate_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=24), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('stay_from', sa.Date(), nullable=False),
    sa.Column('stay_to', sa.Date(), nullable=False),
    sa.Column('purpose', sa.String(length=500), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=254), nullable=False),
    sa.Column('refusal_reason', sa.Text(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('issued_by', sa.String(length=254), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_by', sa.String(length=254), nullable=False),
    sa.Column('withdrawn_reason', sa.Text(), nullable=False),
    sa.Column('holder_name', sa.String(length=250), nullable=False),
    sa.Column('holder_native_name', sa.String(length=120), nullable=False),
    sa.Column('holder_nationality', sa.String(length=2), nullable=False),
    sa.Column('holder_date_of_birth', sa.Text(), nullable=True),
    sa.Column('holder_document_number', sa.Text(), nullable=True),
    sa.Column('edition_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['delegate_id'], ['delegate.id'], name=op.f('fk_visa_letter_delegate_id_delegate'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['edition_id'], ['edition.id'], name=op.f('fk_visa_letter_edition_id_edition')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visa_letter')),
    sa.UniqueConstraint('public_id', name=op.f('uq_visa_letter_public_id')),
    sa.UniqueConstraint('reference', name=op.f('uq_visa_letter_reference'))
    )
    with op.batch_alter_table('visa_letter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visa_letter_delegate_id'), ['delegate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visa_letter_edition_id'), ['edition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visa_letter_state'), ['state'], unique=False)

    with op.batch_alter_table('edition', schema=None) as batch_op:
        batch_op.add_column(sa.Column('letter_organiser_en', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('letter_organiser_zh', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('letter_address_en', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('letter_address_zh', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('letter_signatory_en', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('letter_signatory_zh', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('letter_signatory_title_en', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('letter_signatory_title_zh', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('letter_signature', sa.LargeBinary(), nullable=True))



def downgrade():
    with op.batch_alter_table('edition', schema=None) as batch_op:
        batch_op.drop_column('letter_signature')
        batch_op.drop_column('letter_signatory_title_zh')
        batch_op.drop_column('letter_signatory_title_en')
        batch_op.drop_column('letter_signatory_zh')
        batch_op.drop_column('letter_signatory_en')
        batch_op.drop_column('letter_address_zh')
        batch_op.drop_column('letter_address_en')
        batch_op.drop_column('letter_organiser_zh')
        batch_op.drop_column('letter_organiser_en')

    with op.batch_alter_table('visa_letter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visa_letter_state'))
        batch_op.drop_index(batch_op.f('ix_visa_letter_edition_id'))
        batch_op.drop_index(batch_op.f('ix_visa_letter_delegate_id'))

    op.drop_table('visa_letter')
