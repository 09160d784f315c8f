"""Fewer indexes on the rows every scan writes; room for in-page updates of delegates

Every first scan at a door inserts a scan, a check-in and an audit entry and changes the
delegate's status. Three indexes on columns with a handful of values (delegate.status,
scan.result, audit_entry.action) served no query that the edition, delegate or time indexes
do not serve better, yet each made every such write update them; the status index also made
each status change a full new row version with an entry in all ten of the delegate's
indexes. Without it, and with 15 % of each delegate page left free (PostgreSQL's fillfactor),
a status change is a heap-only update. bench/checkin.py shows the effect (PostgreSQL CPU per
scan).

Revision ID: 0017_write_light_indexes
Revises: 0016_job_restarted_as
Create Date: 2026-11-30 14:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017_write_light_indexes'
down_revision = '0016_job_restarted_as'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('delegate') as batch:
        batch.drop_index('ix_delegate_status')
    with op.batch_alter_table('scan') as batch:
        batch.drop_index('ix_scan_result')
    with op.batch_alter_table('audit_entry') as batch:
        batch.drop_index('ix_audit_entry_action')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE delegate SET (fillfactor = 85)')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE delegate RESET (fillfactor)')
    with op.batch_alter_table('audit_entry') as batch:
        batch.create_index('ix_audit_entry_action', ['action'], unique=False)
    with op.batch_alter_table('scan') as batch:
        batch.create_index('ix_scan_result', ['result'], unique=False)
    with op.batch_alter_table('delegate') as batch:
        batch.create_index('ix_delegate_status', ['status'], unique=False)
