"""Letters kept as their template set's version and their data (the journal entry's), rendered
when sent or read: no stored subject or body for new letters (about half the case file was
rendered HTML). Letters written before keep their stored text.

Revision ID: 0008
Revises: 0007
"""

import datetime as dt
import json

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Columns added in place (no table rebuild: letters is large and referenced by the outbox);
    # a letter kept as data has an empty subject and body.
    op.add_column('letters', sa.Column('template_version', sa.String(length=16), nullable=True))
    op.add_column('letters', sa.Column('recipient_name', sa.String(length=200), nullable=True))


def downgrade() -> None:
    # The older schema keeps letters as text: render the ones kept as template and data (the
    # same bytes as when sent), so no letter is lost.
    from inburgering.letters.render import render

    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT l.id, l.type, l.kind, l.recipient_name, l.case_id, l.on_date, l.template_version, j.data "
        "FROM letters l JOIN journal j ON j.id = l.journal_id WHERE l.body = ''")).all()
    for letter_id, type_, kind, name, case_id, on_date, version, data in rows:
        text = render(type_, kind=kind, recipient_name=name or "", case_label=f"case-{case_id}",
                      on_date=_day(on_date), data=_json(data), version=version)
        connection.execute(sa.text("UPDATE letters SET subject = :subject, body = :body WHERE id = :id"),
                           {"subject": text.subject, "body": text.body, "id": letter_id})
    for column in ('recipient_name', 'template_version'):
        # SQLite (3.35+) drops a column in place; a batch rebuild would trip over the outbox's key
        connection.execute(sa.text(f"ALTER TABLE letters DROP COLUMN {column}"))


def _day(value):  # noqa: ANN001, ANN202 - SQLite hands back text
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _json(value):  # noqa: ANN001, ANN202
    return json.loads(value) if isinstance(value, str) else value
