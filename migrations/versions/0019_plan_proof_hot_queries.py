"""Indexes that leave PostgreSQL one good plan for the queries every registration and mail asks

outbox_message: the delivery queue's index is (status, id), the order workers take mail in.

A worker claims the oldest pending message (`status = 'pending' AND id > :after ORDER BY id
LIMIT 1 ... FOR UPDATE SKIP LOCKED`). The index on (status, next_attempt_at) could not give
that order: each claim read every pending row, and joined each to its delegate, before it
took the first. Under a registration rush that is O(pending) per message: bench/register.py
read 4.4 million outbox rows and made 4.2 million delegate lookups to send 3,200 mails.
On (status, id) a claim reads the rows it takes.

delegate: no index on edition_id alone. The unique (edition_id, email_key) index starts with
it and serves every "this edition's delegates" lookup; the second index only gave a planner
without fresh statistics a wrong plan for "is this address registered in this edition": read
every delegate of the edition and filter (in bench/register.py, 408 of 3,200 registrations,
911 rows each). One index fewer to update on every registration, too.

Revision ID: 0019_plan_proof_hot_queries
Revises: 0018_job_queued_at
Create Date: 2026-11-30 21:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0019_plan_proof_hot_queries'
down_revision = '0018_job_queued_at'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('delegate') as batch:
        batch.drop_index('ix_delegate_edition_id')
    with op.batch_alter_table('outbox_message') as batch:
        batch.drop_index('ix_outbox_message_due')
        batch.create_index('ix_outbox_message_queue', ['status', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox_message') as batch:
        batch.drop_index('ix_outbox_message_queue')
        batch.create_index('ix_outbox_message_due', ['status', 'next_attempt_at'], unique=False)
    with op.batch_alter_table('delegate') as batch:
        batch.create_index('ix_delegate_edition_id', ['edition_id'], unique=False)
