"""printers: IPP badge printers, the jobs sent to them, kiosk devices

Revision ID: 0007_printers
Revises: 0006_delegations
Create Date: 2026-12-02 09:00:00

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0007_printers'
down_revision = '0006_delegations'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'printer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('uri', sa.String(length=300), nullable=False),
        sa.Column('layout', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('edition_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['edition_id'], ['edition.id'],
                                name=op.f('fk_printer_edition_id_edition')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_printer')),
        sa.UniqueConstraint('edition_id', 'name', name=op.f('uq_printer_edition_id')),
    )
    with op.batch_alter_table('printer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_printer_edition_id'), ['edition_id'], unique=False)
    op.create_table(
        'print_job',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('printer_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('delegate_ids', sa.JSON(), nullable=False),
        sa.Column('batch', sa.String(length=40), nullable=True),
        sa.Column('layout', sa.String(length=16), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        sa.Column('device_id', sa.Integer(), nullable=True),
        sa.Column('ipp_job_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('edition_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['edition_id'], ['edition.id'],
                                name=op.f('fk_print_job_edition_id_edition')),
        sa.ForeignKeyConstraint(['printer_id'], ['printer.id'],
                                name=op.f('fk_print_job_printer_id_printer'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_print_job')),
    )
    with op.batch_alter_table('print_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_print_job_batch'), ['batch'], unique=False)
        batch_op.create_index(batch_op.f('ix_print_job_edition_id'), ['edition_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_print_job_printer_id'), ['printer_id'],
                              unique=False)
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kiosk', sa.Boolean(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('printer_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_device_printer_id_printer'), 'printer',
                                    ['printer_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('device', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_device_printer_id_printer'), type_='foreignkey')
        batch_op.drop_column('printer_id')
        batch_op.drop_column('kiosk')
    with op.batch_alter_table('print_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_print_job_printer_id'))
        batch_op.drop_index(batch_op.f('ix_print_job_edition_id'))
        batch_op.drop_index(batch_op.f('ix_print_job_batch'))
    op.drop_table('print_job')
    with op.batch_alter_table('printer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_printer_edition_id'))
    op.drop_table('printer')
