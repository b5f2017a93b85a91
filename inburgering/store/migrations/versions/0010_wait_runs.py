"""Wait runs only where someone must act (issue 16): the cases that are actionable (late,
waiting for a staff decision, or opened by staff) and the cases that show a run are found
through two partial indexes; a case keeps the name its run was given (renamed when the days
late change) and the version at which staff opened it. The predicates are
`models.ACTIONABLE` and `models.WAIT_SHOWN` as they stand at this revision: the planners use
a partial index only for a query WHERE that is the same expression. The index of 0004 (a wait
run per waiting case) is dropped. The journal's day is indexed again (0009 dropped it): the
boards, refreshed by every ingest, count what went out today.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from inburgering.store.migrations.guard import DowngradeRefused

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

ACTIONABLE = sa.text("waiting_for IS NOT NULL AND closed_on IS NULL AND (late_since IS NOT NULL OR status IN "
                     "('waiting_for_staff_decision', 'extension_under_review') OR wait_demand_version = version)")
SHOWN = sa.text("wait_run_id IS NOT NULL")
STALE = sa.text("waiting_for IS NOT NULL AND (wait_version IS NULL OR wait_version != version)"
                " OR waiting_for IS NULL AND wait_run_id IS NOT NULL")  # 0004's


def upgrade() -> None:
    op.add_column('cases', sa.Column('wait_name', sa.String(length=500), nullable=True))
    op.add_column('cases', sa.Column('wait_demand_version', sa.Integer(), nullable=True))
    op.drop_index('ix_cases_wait_run_stale', table_name='cases')
    op.create_index('ix_cases_actionable', 'cases', ['id'], sqlite_where=ACTIONABLE, postgresql_where=ACTIONABLE)
    op.create_index('ix_cases_wait_shown', 'cases', ['id'], sqlite_where=SHOWN, postgresql_where=SHOWN)
    op.create_index('ix_journal_on_date', 'journal', ['on_date'])


def downgrade() -> None:
    # wait_name is the sync's own copy of a run name (given again by the next sync); an open
    # request of staff to show a case (wait_demand_version) has no place in the older schema.
    opened = op.get_bind().scalar(sa.text("SELECT count(*) FROM cases WHERE wait_demand_version = version"))
    if opened:
        raise DowngradeRefused(f"downgrade of 0010 refused: staff opened {opened} case(s) that still wait "
                               "(open-case); answer them, or wait until they move on")
    op.drop_index('ix_journal_on_date', table_name='journal')
    op.drop_index('ix_cases_wait_shown', table_name='cases')
    op.drop_index('ix_cases_actionable', table_name='cases')
    # Not in batch mode: SQLite (3.35+) drops a column in place; a batch would copy the cases table,
    # which the tables referring to it do not allow.
    op.drop_column('cases', 'wait_demand_version')
    op.drop_column('cases', 'wait_name')
    op.create_index('ix_cases_wait_run_stale', 'cases', ['id'], sqlite_where=STALE, postgresql_where=STALE)
