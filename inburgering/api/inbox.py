"""What the inbound API reads and writes in the case file.

Writes are idempotent by the unique constraint on (source, sender's event id), not by a
check before the insert: two requests with one id race to the constraint, the loser's
transaction rolls back and it looks again (and finds the winner's row: a duplicate). On
SQLite the API's writes begin IMMEDIATE (as every writer of the case file does), one at a
time in this process, so a write waits for the lock instead of failing on a snapshot that
another writer outdated.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inburgering import config
from inburgering.api.sources import Sender, authenticate, mark_sent
from inburgering.domain.events import Event, event_payload
from inburgering.domain.invoicing_ledger import school_key
from inburgering.engine import service
from inburgering.engine.errors import InputError, Problem
from inburgering.store.db import make_engine
from inburgering.store.models import Person, ReceivedEvent

log = logging.getLogger("inburgering.api")

INBOX = ReceivedEvent.__table__
PEOPLE = Person.__table__
ATTEMPTS = 5  # a request that lost a race to the unique constraints looks again, this many times
MARK_SENT_EVERY = 30.0  # seconds: `sources list` shows when a source last sent, to about this


# One answer for every registration that contradicts the case file, naming no field: an answer
# per field would let a sender find a person's stored details (or whether a BSN is known) field
# by field.
PERSON_CONFLICT = [("body", "contradicts a person in the case file: the reference or the BSN is registered with "
                            "other details; nothing was changed (ask DUO to correct a registration)")]


class Conflict(Exception):
    """The request contradicts what the case file holds (HTTP 409); nothing was written."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems)
        self.problems = problems


@dataclass(frozen=True)
class Item:
    """One valid event of a request, ready for the inbox."""

    path: str  # where it is in the request: "" for a lone event, "events[3]" in a list
    sender_id: str
    event: Event
    person_id: int
    key: str  # the hash of its content (service.event_key)


class ApiStore:
    def __init__(self, url: str | None = None):
        url = url or config.database_url()
        pool = {"pool_size": 20, "max_overflow": 20}
        # On SQLite the writing engine begins IMMEDIATE (store/db.py); readers never wait.
        self.reads = make_engine(url, readonly=True, **pool)
        if url.startswith("sqlite"):
            self.writes = make_engine(url, **pool)
            self._one_writer: threading.Lock | nullcontext = threading.Lock()
        else:
            self.writes, self._one_writer = self.reads, nullcontext()
        self._marked: dict[int, float] = {}

    def dispose(self) -> None:
        self.reads.dispose()
        self.writes.dispose()

    @contextmanager
    def _write(self) -> Iterator:
        with self._one_writer, self.writes.begin() as connection:
            yield connection

    # ---- reads ------------------------------------------------------------------------------

    def authenticate(self, token: str | None) -> Sender | None:
        with self.reads.connect() as connection:
            return authenticate(connection, token)

    def person_ids(self, refs: set[str]) -> dict[str, int]:
        if not refs:
            return {}
        with self.reads.connect() as connection:
            return dict(connection.execute(_PEOPLE_BY_REF, {"refs": list(refs)}).all())

    def taught_by(self, school: str, person_ids: set[int]) -> set[int]:
        """Of these people, those with an invoice (and so a contract) of this school in the inbox,
        waiting or applied: the people the school may send school events for."""
        with self.reads.connect() as connection:
            rows = connection.execute(_INVOICES_OF_PEOPLE, {"ids": sorted(person_ids)}).all()
        return {person_id for person_id, payload in rows if school_key(str(payload.get("school", ""))) ==
                school_key(school)}

    def status(self, sender: Sender, sender_id: str) -> tuple[str, str | None, str | None] | None:
        """What became of an event this source sent: (pending|applied|rejected, reason, the case
        it was applied to as process owners name it, `case-12`: its page is the artifact of
        that name)."""
        with self.reads.connect() as connection:
            row = connection.execute(_SENT_EVENT, {"source": sender.id, "id": sender_id}).first()
        if row is None:
            return None
        case = f"case-{row.case_id}" if row.case_id is not None and row.status == "applied" else None
        if row.status in ("pending", "applied"):
            return row.status, None, case
        if row.status in ("rejected", "duplicate"):
            return "rejected", row.reason, None
        # "error": a fault of ours parked it for staff; its text is for staff, not for the sender
        return "pending", "it could not be applied yet and waits for staff; nothing needs to be sent again", None

    # ---- writes -----------------------------------------------------------------------------

    def store(self, sender: Sender, items: list[Item], received_on: dt.date) -> list[bool]:
        """Put the items into the inbox in one transaction: for each, True when stored now,
        False when this source sent that id with that content before. Raises Conflict (and
        stores nothing) when an id was sent before with other content."""
        for attempt in range(ATTEMPTS):
            try:
                with self._write() as connection:
                    return _store(connection, sender, items, received_on)
            except IntegrityError:  # another request stored one of these first: look again
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def mark_sent(self, sender: Sender, now: dt.datetime) -> None:
        """Note that the source sent, at most every MARK_SENT_EVERY seconds (one row that every
        request of a source would otherwise update, in turn)."""
        last = self._marked.get(sender.id)
        if last is not None and time.monotonic() - last < MARK_SENT_EVERY:
            return
        self._marked[sender.id] = time.monotonic()
        try:
            with self._write() as connection:
                mark_sent(connection, sender, now)
        except Exception as exc:  # noqa: BLE001 - what was sent is stored; only the timestamp waits
            log.warning("could not note when source %s last sent: %s", sender.name, type(exc).__name__)

    def register_person(self, *, ref: str, bsn: str, name: str, email: str | None, born: dt.date | None) -> bool:
        """True when the person was added, False when the same person was there already.
        Raises Conflict when the ref or the BSN belongs to someone else. `bsn` is checked."""
        wanted = {"bsn": bsn, "name": name, "email": email, "born": born}
        for attempt in range(ATTEMPTS):
            try:
                with self._write() as connection, Session(bind=connection) as session:
                    person = session.scalar(select(Person).where(Person.ref == ref))
                    if person is not None:
                        if any(getattr(person, f) != v for f, v in wanted.items()):
                            raise Conflict(PERSON_CONFLICT)
                        return False
                    if session.scalar(select(Person.id).where(Person.bsn == bsn)) is not None:
                        raise Conflict(PERSON_CONFLICT)
                    service.register_person(session, ref=ref, **wanted)
                    return True
            except (IntegrityError, InputError):  # registered at this moment by another request: look again
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")


def _store(connection, sender: Sender, items: list[Item], received_on: dt.date) -> list[bool]:  # noqa: ANN001
    sent_before = dict(connection.execute(_SENT_BEFORE, {"source": sender.id,
                                                         "ids": [item.sender_id for item in items]}).all())
    conflicts = [item for item in items if sent_before.get(item.sender_id, item.key) != item.key]
    if conflicts:
        raise Conflict([(field_path(item.path, "id"), "this id was sent before with other content; an event cannot be "
                                          "changed: send the correction as a new event with a new id")
                        for item in conflicts])
    # Identity is the id (api.md): an id new from this source is a new event, even when its content
    # equals an earlier one's; it is applied (or refused by a rule, with the rule's reason).
    new = [item for item in items if item.sender_id not in sent_before]
    if new:
        label = f"api:{sender.name}"
        connection.execute(insert(INBOX), [_row(item, sender, label, received_on)
                                           | {"idempotency_key": None, "status": "pending", "duplicate_of": None,
                                              "processed_on": None, "reason": None} for item in new])
    return [item.sender_id not in sent_before for item in items]


def field_path(*parts: str) -> str:
    """"events[3]" and "amount" give "events[3].amount"; empty parts are left out."""
    return ".".join(part for part in parts if part)


def _row(item: Item, sender: Sender, label: str, received_on: dt.date) -> dict:
    return {"person_id": item.person_id, "type": item.event.type, "event_date": item.event.date,  # type: ignore[attr-defined]
            "payload": event_payload(item.event), "source": label, "received_on": received_on,
            "source_id": sender.id, "sender_event_id": item.sender_id, "content_hash": item.key}


_PEOPLE_BY_REF = select(PEOPLE.c.ref, PEOPLE.c.id).where(PEOPLE.c.ref.in_(bindparam("refs", expanding=True)))
_SENT_BEFORE = (select(INBOX.c.sender_event_id, INBOX.c.content_hash)
                .where(INBOX.c.source_id == bindparam("source"),
                       INBOX.c.sender_event_id.in_(bindparam("ids", expanding=True))))
_INVOICES_OF_PEOPLE = (select(INBOX.c.person_id, INBOX.c.payload)
                       .where(INBOX.c.type == "invoice_submitted", INBOX.c.status.in_(("pending", "applied")),
                              INBOX.c.person_id.in_(bindparam("ids", expanding=True))))
_SENT_EVENT = (select(INBOX.c.status, INBOX.c.reason, INBOX.c.case_id)
               .where(INBOX.c.source_id == bindparam("source"), INBOX.c.sender_event_id == bindparam("id")))
