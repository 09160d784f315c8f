"""job: restarted_as, the id of the job a failed one was started again as (set once)

Revision ID: 0016_job_restarted_as
Revises: 0015_encrypted_vetting_note
Create Date: 2026-11-30 12:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_job_restarted_as'
down_revision = '0015_encrypted_vetting_note'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('job') as batch:
        batch.add_column(sa.Column('restarted_as', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('job') as batch:
        batch.drop_column('restarted_as')
