"""Letters on hold kept with their case (one mechanism for every letter, e-mail and notice).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from inburgering.store.migrations.guard import DowngradeRefused

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'held_letters',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('type', sa.String(length=60), nullable=False),
        sa.Column('recipient', sa.String(length=20), nullable=False),
        sa.Column('data', JSON, nullable=False),
        sa.Column('key', sa.String(length=120), nullable=True),
        sa.Column('held_on', sa.Date(), nullable=False),
        sa.Column('due_by', sa.Date(), nullable=True),
        sa.Column('overdue_alert', sa.String(length=60), nullable=True),
        sa.Column('overdue_data', JSON, nullable=True),
        sa.Column('alerted_on', sa.Date(), nullable=True),
        sa.Column('closes_case', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('closed_on', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_held_letters_case_state', 'held_letters', ['case_id', 'state'])
    op.create_index('ix_held_letters_state_type', 'held_letters', ['state', 'type'])


def downgrade() -> None:
    # Letters still on hold would be lost with the table: refuse rather than destroy them.
    waiting = op.get_bind().execute(sa.text("SELECT count(*) FROM held_letters WHERE state = 'held'")).scalar()
    if waiting:
        raise DowngradeRefused(f"{waiting} letter(s) are still on hold: release them (letters release) and let them "
                           "go out before downgrading below revision 0005")
    op.drop_index('ix_held_letters_state_type', table_name='held_letters')
    op.drop_index('ix_held_letters_case_state', table_name='held_letters')
    op.drop_table('held_letters')
