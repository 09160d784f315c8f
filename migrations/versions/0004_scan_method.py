"""scan method: how the code reached the door (qr or manual)

Revision ID: 0004_scan_method
Revises: 0003 (editions)
Create Date: 2026-12-01 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_scan_method'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    # Every scan recorded before this revision read a QR token: the only way there was.
    with op.batch_alter_table('scan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('method', sa.String(length=8), nullable=False,
                                      server_default='qr'))


def downgrade():
    with op.batch_alter_table('scan', schema=None) as batch_op:
        batch_op.drop_column('method')
