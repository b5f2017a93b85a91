"""The journeys of a case file, replayed in memory under a policy (architecture.md §12, §14).

A journey is a person's inbox: every event received (duplicates excepted), in the order the
engine applies them. It is read from a read-only snapshot of the case file and replayed
through the casebook (engine/casebook.py, the one way anything is applied) with its
time-skipping `drive`, from the journey's first event to `until`: events dated up to
`until`, then only the timers they left. Nothing is written anywhere; what the replay sent
(letters, e-mails, notices, alerts, payments) and where each term ends is kept per case.

Not replayed: letter holds (a hold delays letters, the same on both sides of a what-if), and
events are applied on their own date, as a scenario replays them (an event that reached DUO
late was applied in the case file on the day it arrived).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from inburgering.domain.events import Event, parse_event
from inburgering.domain.policy import Policy
from inburgering.domain.process import PersonFacts
from inburgering.engine.casebook import Casebook, drive
from inburgering.engine.service import ALL, Partition
from inburgering.store.db import CaseFile
from inburgering.store.models import Case, Person, ReceivedEvent

TERM_PROCESS = "term"  # whose cases' `end` is the term a what-if says moved
CHUNK = 1000  # people read from the snapshot at a time: memory stays bounded in a large case file


@dataclass
class Journey:
    person_id: int
    facts: PersonFacts
    events: list[Event]
    cases: dict[tuple[str, str], int] = field(default_factory=dict)  # (process, key) -> the case's id in the file
    unreadable: int = 0  # stored events that no longer parse (left out of the replay, on both sides)

    def case_label(self, process: str, key: str) -> str | None:
        case_id = self.cases.get((process, key))
        return f"case-{case_id}" if case_id is not None else None

    @property
    def person_label(self) -> str | None:
        """How a report names the person: their first case in the file (never a BSN, name or ref)."""
        return f"case-{min(self.cases.values())}" if self.cases else None


@dataclass(frozen=True)
class Output:
    """Something the replay sent: a journal entry of one of the person's cases."""

    process: str
    key: str
    kind: str  # letter | email | notice | alert | payment
    type: str
    on: dt.date
    data: Any


@dataclass
class Replayed:
    outputs: list[Output]
    term_ends: dict[tuple[str, str], dt.date]


@contextmanager
def snapshot(case_file: CaseFile) -> Iterator[Session]:
    """A read-only transaction that sees the case file as it was when it began (PostgreSQL:
    repeatable read, read only; SQLite: a reader in WAL mode that cannot write)."""
    with case_file.reading() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        else:
            session.execute(text("PRAGMA query_only = ON"))
        try:
            yield session
        finally:
            if session.get_bind().dialect.name == "sqlite":
                session.execute(text("PRAGMA query_only = OFF"))


def inbox_mark(session: Session) -> int:
    """The newest event in the inbox: a what-if and its partitions replay the events up to it."""
    return session.scalar(select(func.max(ReceivedEvent.id))) or 0


def read_journeys(session: Session, mark: int, until: dt.date, partition: Partition = ALL) -> Iterator[Journey]:
    """The journeys of the people of `partition` with events up to `mark` dated up to `until`,
    a chunk of people at a time."""
    inbox = (ReceivedEvent.id <= mark) & (ReceivedEvent.status != "duplicate") & (ReceivedEvent.event_date <= until)
    people = session.scalars(select(ReceivedEvent.person_id).distinct()
                             .where(inbox, ReceivedEvent.person_id % partition.count == partition.index)
                             .order_by(ReceivedEvent.person_id)).all()
    for start in range(0, len(people), CHUNK):
        ids = people[start:start + CHUNK]
        journeys = {pid: Journey(pid, PersonFacts(ref, "", born, email is not None), [])
                    for pid, ref, born, email in session.execute(
                        select(Person.id, Person.ref, Person.born, Person.email).where(Person.id.in_(ids)))}
        for pid, payload in session.execute(select(ReceivedEvent.person_id, ReceivedEvent.payload)
                                            .where(inbox, ReceivedEvent.person_id.in_(ids))
                                            .order_by(ReceivedEvent.person_id, ReceivedEvent.event_date,
                                                      ReceivedEvent.id)):
            try:
                journeys[pid].events.append(parse_event(payload))
            except (ValidationError, ValueError, TypeError):
                journeys[pid].unreadable += 1
        for case_id, pid, process, key in session.execute(
                select(Case.id, Case.person_id, Case.process, Case.key).where(Case.person_id.in_(ids))):
            journeys[pid].cases[(process, key)] = case_id
        for pid in ids:
            if journeys[pid].events:
                yield journeys[pid]


def replay(journey: Journey, policy: Policy, until: dt.date) -> Replayed:
    """The journey from its first event to `until` under `policy`, in memory."""
    first = journey.events[0].date  # type: ignore[attr-defined]
    book = Casebook(first, policy)
    book.add_person(journey.person_id, journey.facts)
    kept: dict[str, list[dict[str, Any]]] = {}
    drive(book, [(journey.person_id, event) for event in journey.events], first, until, keep=kept)
    outputs = []
    for row in kept.get("journal", ()):
        case = book.case_by_id[row["case_id"]]
        outputs.append(Output(case.process, case.key, row["kind"], row["type"], row["on_date"], row["data"]))
    term_ends = {(case.process, case.key): book.state_of(case).end  # type: ignore[attr-defined]
                 for case in book.people[journey.person_id].cases if case.process == TERM_PROCESS}
    return Replayed(outputs, term_ends)
