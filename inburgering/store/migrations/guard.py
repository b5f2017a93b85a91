"""What a downgrade may drop: only what migrating up again restores.

A migration's downgrade calls `refuse_to_drop` before it drops a table or deletes policy
rows: when the table has rows, or a policy row is not a shipped default (one `migrate`
writes again from defaults.yaml), the downgrade is refused with a sentence and the whole
migration run rolls back (it runs in one transaction: inburgering.store.db.migrate).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from alembic import op


class DowngradeRefused(RuntimeError):
    """A downgrade would drop data the older schema cannot hold; nothing was changed."""


def refuse_to_drop(revision: str, tables: Iterable[str] = (), policy_keys: Iterable[str] | None = ()) -> None:
    """In the downgrade of `revision`: raise DowngradeRefused when dropping `tables` or deleting
    the policy rows of `policy_keys` (None: every policy row) would lose data."""
    from inburgering.store.db import shipped_default

    connection = op.get_bind()
    problems = []
    for table in tables:
        rows = connection.scalar(sa.select(sa.func.count()).select_from(sa.table(table)))
        if rows:
            problems.append(f"{table} holds {rows} rows")
    if policy_keys is None or policy_keys:
        policy = sa.table("policy_values", sa.column("key", sa.String), sa.column("valid_from", sa.Date),
                          sa.column("value", sa.JSON))
        query = sa.select(policy.c.key, policy.c.valid_from, policy.c.value).order_by(policy.c.key,
                                                                                      policy.c.valid_from)
        if policy_keys is not None:
            query = query.where(policy.c.key.in_(list(policy_keys)))
        own = [f"{key} from {valid_from}" for key, valid_from, value in connection.execute(query)
               if not shipped_default(key, valid_from, value)]
        if own:
            problems.append(f"policy_values holds {len(own)} {'entry' if len(own) == 1 else 'entries'} that "
                            f"{'is' if len(own) == 1 else 'are'} not a shipped default ({', '.join(own)})")
    if problems:
        raise DowngradeRefused(f"cannot downgrade below {revision}: {' and '.join(problems)}; the older schema has no "
                               "place for them, so nothing was changed. Keep this version, or move the data "
                               "elsewhere first.")
