"""Index the cases whose Prefect wait run is missing or out of date (a partial index), so
`sync-case-waits` finds them without reading the whole cases table once every wait is
shown. The predicate is `models.WAIT_RUN_STALE` as it stood at this revision: the
planners use the index only for a query WHERE that is the same expression.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

STALE = sa.text("waiting_for IS NOT NULL AND (wait_version IS NULL OR wait_version != version)"
                " OR waiting_for IS NULL AND wait_run_id IS NOT NULL")


def upgrade() -> None:
    op.create_index('ix_cases_wait_run_stale', 'cases', ['id'], sqlite_where=STALE, postgresql_where=STALE)


def downgrade() -> None:
    op.drop_index('ix_cases_wait_run_stale', table_name='cases')
