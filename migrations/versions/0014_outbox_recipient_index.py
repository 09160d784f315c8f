"""outbox: an index on lower(recipient), created_at for the public-mail cap

Revision ID: 0014_outbox_recipient_index
Revises: 0013_visa_letters
Create Date: 2026-11-30 09:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_outbox_recipient_index'
down_revision = '0013_visa_letters'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_outbox_message_recipient_lower', 'outbox_message',
                    [sa.text('lower(recipient)'), 'created_at'])


def downgrade():
    op.drop_index('ix_outbox_message_recipient_lower', table_name='outbox_message')
