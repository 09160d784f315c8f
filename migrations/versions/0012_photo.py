"""photo at the door: an offline thumbnail (at most 8 KB) beside each badge photo

Revision ID: 0012_photo
Revises: 0011_watchlist
Create Date: 2026-11-30 06:35:00

Existing photos get their thumbnail when a scanner first asks for it
(services/checkin/records.photo_thumb), so nothing is decoded here.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_photo'
down_revision = '0011_watchlist'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('delegate_photo', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thumb', sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table('delegate_photo', schema=None) as batch_op:
        batch_op.drop_column('thumb')
