"""job: queued_at, when the job last entered the queue (created, or taken back from a worker
that stopped): how long it has waited for a worker, which the sweep's resending hides

Revision ID: 0018_job_queued_at
Revises: 0017_write_light_indexes
Create Date: 2026-11-30 16:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_job_queued_at'
down_revision = '0017_write_light_indexes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('job') as batch:
        batch.add_column(sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE job SET queued_at = created_at")


def downgrade():
    with op.batch_alter_table('job') as batch:
        batch.drop_column('queued_at')
