"""invoicing: the loan ledger; policy keys added with invoicing

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
import datetime as dt

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from inburgering.store.migrations.guard import refuse_to_drop

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# Policy keys invoicing added. A fresh case file is seeded from defaults.yaml after the
# migrations; an existing one (its policy table not empty) gets these values here.
NEW_POLICY = [
    ('invoice_reminders_max', 3, 'reminders every invoice_reminder_after_days, at most this many'),
    ('invoice_school_register', None, 'no register of quality-marked schools: every school counts as listed'),
]


def upgrade() -> None:
    op.create_table('loan_ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=False),
    sa.Column('entry', sa.String(length=30), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('loan_left_cents', sa.BigInteger(), nullable=False),
    sa.Column('quarter', sa.String(length=7), nullable=True),
    sa.Column('invoice_number', sa.String(length=500), nullable=True),
    sa.Column('school', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'entry', 'quarter', name='uq_loan_ledger_case_entry_quarter')
    )
    with op.batch_alter_table('loan_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_ledger_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_ledger_person_id'), ['person_id'], unique=False)

    policy = sa.table('policy_values', sa.column('key', sa.String), sa.column('valid_from', sa.Date),
                      sa.column('value', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')),
                      sa.column('note', sa.Text))
    connection = op.get_bind()
    if connection.execute(sa.select(sa.func.count()).select_from(policy)).scalar():
        present = set(connection.execute(sa.select(policy.c.key).distinct()).scalars())
        rows = [{'key': key, 'valid_from': dt.date(2013, 1, 1), 'value': value, 'note': note}
                for key, value, note in NEW_POLICY if key not in present]
        if rows:
            op.bulk_insert(policy, rows)


def downgrade() -> None:
    keys = [key for key, _, _ in NEW_POLICY]
    refuse_to_drop("0002", tables=["loan_ledger"], policy_keys=keys)
    op.execute(sa.text("DELETE FROM policy_values WHERE key IN ('invoice_reminders_max', 'invoice_school_register')"))
    with op.batch_alter_table('loan_ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_ledger_person_id'))
        batch_op.drop_index(batch_op.f('ix_loan_ledger_case_id'))
    op.drop_table('loan_ledger')
