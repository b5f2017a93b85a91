"""Index the inbox by (status, event_date, id): ingest asks for the pending events dated
on or before a day, in date order, and must not scan every pending event to find them.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_received_events_status_date_id', 'received_events', ['status', 'event_date', 'id'])


def downgrade() -> None:
    op.drop_index('ix_received_events_status_date_id', table_name='received_events')
