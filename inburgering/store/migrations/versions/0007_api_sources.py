"""The inbound API: the sending systems (sources) and, on each inbox row, who sent it under
which id of its own and a hash of its content; one row per (source, sender's id).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from inburgering.store.migrations.guard import DowngradeRefused

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('school', sa.String(length=500), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('received_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sender_event_id', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('content_hash', sa.String(length=80), nullable=True))
        batch_op.create_foreign_key('fk_received_events_source_id', 'sources', ['source_id'], ['id'])
        batch_op.create_unique_constraint('uq_received_events_source_sender_id', ['source_id', 'sender_event_id'])


def downgrade() -> None:
    # Refused while any source is registered: the rows they sent would lose who sent them
    # and under which id, and their tokens would be gone.
    sources = op.get_bind().scalar(sa.text("SELECT count(*) FROM sources"))
    if sources:
        raise DowngradeRefused(f"downgrade of 0007 refused: {sources} sending system(s) are registered and the "
                           "inbox names them; remove them (and what they sent) yourself if you mean it")
    with op.batch_alter_table('received_events', schema=None) as batch_op:
        batch_op.drop_constraint('uq_received_events_source_sender_id', type_='unique')
        batch_op.drop_constraint('fk_received_events_source_id', type_='foreignkey')
        batch_op.drop_column('content_hash')
        batch_op.drop_column('sender_event_id')
        batch_op.drop_column('source_id')
    op.drop_table('sources')
