"""The outbox of alert events: which alerts of the journal still wait to be told to Prefect,
claimed so that each is announced once, with any number of announcers at once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from inburgering.store.models import ALERT_ROWS, AlertAnnounced, Case, JournalEntry

_JOURNAL = JournalEntry.__table__
_ANNOUNCED = AlertAnnounced.__table__
_CASES = Case.__table__


def claim_unannounced(session: Session, limit: int, now: dt.datetime) -> list[dict]:
    """Up to `limit` alerts not announced yet, oldest first, marked announced in this
    transaction: the caller tells Prefect before it commits, and rolls back when it cannot (they
    wait for the next call). A row another announcer marked first is left to it."""
    rows = session.execute(
        select(_JOURNAL.c.id, _JOURNAL.c.case_id, _JOURNAL.c.type, _JOURNAL.c.data, _JOURNAL.c.on_date,
               _CASES.c.process)
        .join(_CASES, _CASES.c.id == _JOURNAL.c.case_id)
        .where(ALERT_ROWS, ~exists().where(_ANNOUNCED.c.journal_id == _JOURNAL.c.id))
        .order_by(_JOURNAL.c.id).limit(limit)).all()
    if not rows:
        return []
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    claimed = set(session.scalars(
        dialect.insert(_ANNOUNCED).values([{"journal_id": row.id, "announced_at": now} for row in rows])
        .on_conflict_do_nothing().returning(_ANNOUNCED.c.journal_id)))
    return [{"journal_id": row.id, "case": f"case-{row.case_id}", "process": row.process, "type": row.type,
             "raised_on": row.on_date.isoformat(), **(row.data or {})} for row in rows if row.id in claimed]
