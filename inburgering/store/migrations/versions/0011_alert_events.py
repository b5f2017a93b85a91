"""Alerts as Prefect events through an outbox (issue 24): an alert of the journal is told to
Prefect once, when the server is reachable; `alerts_announced` says which were. The alerts
already in the journal count as announced (they were, the old way, or were raised where no
server was: announcing them now would flood the process owners with old news). The journal's
alert rows get a partial index (the predicate is `models.ALERT_ROWS` as it stands here).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

ALERT_ROWS = sa.text("kind = 'alert'")


def upgrade() -> None:
    op.create_table(
        'alerts_announced',
        sa.Column('journal_id', sa.Integer(), sa.ForeignKey('journal.id'), primary_key=True),
        sa.Column('announced_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_journal_alerts', 'journal', ['id'], sqlite_where=ALERT_ROWS, postgresql_where=ALERT_ROWS)
    op.execute("INSERT INTO alerts_announced (journal_id, announced_at) "
               "SELECT id, CURRENT_TIMESTAMP FROM journal WHERE kind = 'alert'")


def downgrade() -> None:
    # Only delivery marks are lost: upgrading again counts every alert then in the journal as announced.
    op.drop_index('ix_journal_alerts', table_name='journal')
    op.drop_table('alerts_announced')
