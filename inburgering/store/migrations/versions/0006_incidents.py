"""Incidents (a step that failed and waits for people) and the outbox's back-off.

Before this revision a message the gateway did not take five times was marked `failed` and
never sent. Such rows go back to `pending` here, to be retried with back-off; a message the
gateway *refused* (4xx) stays `failed` and gets an open incident, so staff see it.

The downgrade refuses while the case file holds incidents: dropping the table would lose
them. It drops `outbox.next_attempt_at` (when to try again: every pending message is then
due at once, which the older code expects).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from inburgering.store.migrations.guard import DowngradeRefused

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

ACTIVE = sa.text("state != 'closed'")


def upgrade() -> None:
    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_incidents_case_id', 'incidents', ['case_id'])
    op.create_index('ix_incidents_state_kind', 'incidents', ['state', 'kind'])
    op.create_index('uq_incidents_active_source', 'incidents', ['source', 'source_id'], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))

    # Messages given up by the old rule go again; refused ones become incidents.
    op.execute(sa.text(
        "INSERT INTO incidents (case_id, kind, source, source_id, summary, last_error, attempts, state, opened_on)"
        " SELECT case_id, 'delivery', 'outbox', id,"
        " 'A ' || channel || ' message for case-' || case_id || ' was refused by the gateway;"
        " it is not sent until staff retry it.', last_error, attempts, 'open', created_on"
        " FROM outbox WHERE status = 'failed' AND last_error LIKE 'gateway refused%'"))
    op.execute(sa.text("UPDATE outbox SET status = 'pending'"
                       " WHERE status = 'failed' AND (last_error IS NULL OR last_error NOT LIKE 'gateway refused%')"))


def downgrade() -> None:
    held = op.get_bind().execute(sa.text("SELECT count(*) FROM incidents")).scalar()
    if held:
        raise DowngradeRefused(f"cannot downgrade below 0006: the case file holds {held} incident(s), and dropping "
                           "the incidents table would lose them; close and archive them elsewhere first")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('next_attempt_at')
    op.drop_index('uq_incidents_active_source', table_name='incidents')
    op.drop_index('ix_incidents_state_kind', table_name='incidents')
    op.drop_index('ix_incidents_case_id', table_name='incidents')
    op.drop_table('incidents')
