"""Index review: drop the indexes nothing reads. Every row written pays for every index of its
table, and the journal, the inbox and the outbox get rows with nearly every event.

- cases.person_id: the unique (person_id, process, key) starts with it and serves the same reads;
- received_events (status, id): the claims read (status, event_date, id);
- journal on_date, (kind, type), person_id: no query filters the journal by them (reports count
  what a run sent as it goes; the timeline reads the whole journal of a replay in order);
- outbox.letter_id: the dispatcher reads a message's letter by the letter's own key;
- loan_ledger case_id (the unique (case_id, entry, quarter) starts with it) and person_id.

No data changes; the downgrade builds them again.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

DROPPED = [
    ("ix_cases_person_id", "cases", ["person_id"]),
    ("ix_received_events_status_id", "received_events", ["status", "id"]),
    ("ix_journal_on_date", "journal", ["on_date"]),
    ("ix_journal_kind_type", "journal", ["kind", "type"]),
    ("ix_journal_person_id", "journal", ["person_id"]),
    ("ix_outbox_letter_id", "outbox", ["letter_id"]),
    ("ix_loan_ledger_case_id", "loan_ledger", ["case_id"]),
    ("ix_loan_ledger_person_id", "loan_ledger", ["person_id"]),
]


def upgrade() -> None:
    for name, table, _ in DROPPED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, columns in DROPPED:
        op.create_index(name, table, columns)
