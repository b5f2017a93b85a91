"""What a journey showed the world, in date order: the scenario output's timeline."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from inburgering.store.models import JournalEntry, Person, ReceivedEvent


def timeline(session: Session) -> list[dict]:
    rows = session.execute(
        select(JournalEntry, Person.ref).join(Person, Person.id == JournalEntry.person_id)
        .order_by(JournalEntry.on_date, JournalEntry.id)
    ).all()
    return [{"date": e.on_date.isoformat(), "person": ref, "kind": e.kind, "type": e.type, "data": e.data}
            for e, ref in rows]


def refused_events(session: Session) -> list[tuple[ReceivedEvent, str]]:
    """Events the engine did not apply (rejected, duplicate, error), with the person's ref."""
    return session.execute(
        select(ReceivedEvent, Person.ref).join(Person, Person.id == ReceivedEvent.person_id)
        .where(ReceivedEvent.status.in_(("rejected", "duplicate", "error")))
        .order_by(ReceivedEvent.event_date, ReceivedEvent.id)
    ).all()
