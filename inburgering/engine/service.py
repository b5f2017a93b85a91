"""The engine's entry points: register people, receive events, ingest, run the monitor.

Every function takes the day being processed (`as_of`); none reads the clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, and_, bindparam, false, func, insert, or_, select
from sqlalchemy.orm import Session

from inburgering.domain.bsn import quote, validate_bsn
from inburgering.domain.events import EVENT_TYPES, Event, event_payload, parse_event
from inburgering.domain.policy import Policy
from inburgering.engine.batch import INBOX, Batch, allocate_ids, held_letter_types
from inburgering.engine.casebook import Outcome
from inburgering.engine.errors import InputError
from inburgering.engine.incidents import open_incident
from inburgering.store.db import CaseFile, load_policy
from inburgering.store.models import Case, Deadline, HeldLetter, LetterHold, Person, ReceivedEvent

log = logging.getLogger(__name__)

DEFAULT_BATCH = 2000
MAX_ROUNDS = 1000  # rounds of batches in one monitor run: the people with timers due come in batches


# ---- people -------------------------------------------------------------------------------


def register_person(session: Session, *, ref: str, bsn: str, name: str, email: str | None = None,
                    born: dt.date | None = None) -> Person:
    """Add a person to the case file. The BSN is checked and stored here only."""
    try:
        bsn = validate_bsn(bsn)
    except ValueError as exc:
        raise InputError(f"person {ref}: bsn: {exc}") from None
    if session.scalar(select(Person.id).where(Person.bsn == bsn)) is not None:
        raise InputError(f"person {ref}: bsn: another person in the case file already has this BSN")
    if session.scalar(select(Person.id).where(Person.ref == ref)) is not None:
        raise InputError(f"person {ref}: a person with this reference already exists")
    person = Person(ref=ref, bsn=bsn, name=name, email=email, born=born)
    session.add(person)
    session.flush([person])
    return person


# ---- receiving ----------------------------------------------------------------------------


def validate_event(raw: dict[str, Any], *, exact_cents: bool = False) -> Event:
    """Check an event's type and fields; InputError names what is wrong. With `exact_cents`
    amounts must have exactly two decimals (the inbound API's contract)."""
    if not isinstance(raw, dict):
        raise InputError.at("", "an event must be a mapping of fields")
    event_type = raw.get("type")
    if event_type is None:
        raise InputError.at("type", "is required but missing")
    if not isinstance(event_type, str):
        raise InputError.at("type", f"must be the name of one event type, not {quote(event_type)}")
    if event_type not in EVENT_TYPES:
        raise InputError.at("type", f"unknown event type {quote(event_type)}; known types: "
                                    f"{', '.join(sorted(EVENT_TYPES))}")
    try:
        return parse_event(raw, exact_cents=exact_cents)
    except ValidationError as exc:
        raise InputError.from_validation(exc) from None


def event_key(event: Event) -> str:
    """The idempotency key of an event that came without one: a hash of its content."""
    canonical = json.dumps(event_payload(event), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def unknown_person(ref: str) -> InputError:
    return InputError.at("person", f"no person {quote(ref)} in the case file")


def repeat_of(original_id: int, original_source: str, received_on: dt.date) -> dict[str, Any]:
    """The columns of an inbox row that repeats an event already received: kept, never applied."""
    return {"status": "duplicate", "idempotency_key": None, "duplicate_of": original_id, "processed_on": received_on,
            "reason": f"duplicate: the same event was already received ({original_source})"}


def receive(session: Session, raw: dict[str, Any], *, source: str, received_on: dt.date,
            idempotency_key: str | None = None) -> ReceivedEvent:
    """Put a validated event into the inbox. A second delivery is kept as a duplicate."""
    event = validate_event(raw)
    person_id = session.scalar(select(Person.id).where(Person.ref == event.person))
    if person_id is None:
        raise unknown_person(event.person)
    key = idempotency_key or event_key(event)
    row = ReceivedEvent(person_id=person_id, type=event.type, event_date=event.date,  # type: ignore[attr-defined]
                        payload=event_payload(event), source=source, received_on=received_on)
    original = session.scalar(select(ReceivedEvent).where(ReceivedEvent.idempotency_key == key))
    if original is None:
        row.idempotency_key = key
    else:
        for column, value in repeat_of(original.id, original.source, received_on).items():
            setattr(row, column, value)
    session.add(row)
    session.flush([row])
    return row


def register_people(session: Session, people: list[dict[str, Any]]) -> dict[str, int]:
    """Add many people at once (a scenario, the benchmark): the same checks and messages as
    `register_person`, in a few set-based queries. Returns each ref's person id."""
    checked, invalid = [], {}
    for spec in people:
        try:
            bsn = validate_bsn(spec["bsn"])
        except ValueError as exc:
            invalid[spec["ref"]] = f"person {spec['ref']}: bsn: {exc}"
            bsn = None
        checked.append({"ref": spec["ref"], "bsn": bsn, "name": spec["name"], "email": spec.get("email"),
                        "born": spec.get("born")})
    taken_bsn: set[str] = set()
    taken_ref: set[str] = set()
    for start in range(0, len(checked), _INSERT_CHUNK):
        chunk = checked[start:start + _INSERT_CHUNK]
        taken_bsn.update(session.scalars(select(Person.bsn).where(Person.bsn.in_([p["bsn"] for p in chunk
                                                                                  if p["bsn"]]))))
        taken_ref.update(session.scalars(select(Person.ref).where(Person.ref.in_([p["ref"] for p in chunk]))))
    for p in checked:  # in order, so the first person with a problem is named, as one by one
        if p["ref"] in invalid:
            raise InputError(invalid[p["ref"]])
        if p["bsn"] in taken_bsn:
            raise InputError(f"person {p['ref']}: bsn: another person in the case file already has this BSN")
        if p["ref"] in taken_ref:
            raise InputError(f"person {p['ref']}: a person with this reference already exists")
        taken_bsn.add(p["bsn"])
        taken_ref.add(p["ref"])
    ids: dict[str, int] = {}
    for start in range(0, len(checked), _INSERT_CHUNK):
        chunk = checked[start:start + _INSERT_CHUNK]
        new_ids = session.scalars(insert(Person).returning(Person.id, sort_by_parameter_order=True), chunk).all()
        ids.update(zip((p["ref"] for p in chunk), new_ids))
    return ids


_INSERT_CHUNK = 5000


def receive_many(session: Session, items: list[tuple[dict[str, Any] | Event, str, dt.date]]) -> int:
    """Put many events into the inbox at once, in order: (event, source, received_on) each,
    the event raw or already validated. The same outcome as `receive` one by one (ids in
    this order, duplicates kept as duplicates of the first), in set-based statements."""
    events = [item if isinstance(item, Event) else validate_event(item) for item, _, _ in items]
    refs = {e.person for e in events}
    person_ids: dict[str, int] = {}
    ref_list = list(refs)
    for start in range(0, len(ref_list), _INSERT_CHUNK):
        person_ids.update(session.execute(
            select(Person.ref, Person.id).where(Person.ref.in_(ref_list[start:start + _INSERT_CHUNK]))).all())
    keys = []
    for event in events:
        if event.person not in person_ids:
            raise unknown_person(event.person)
        keys.append(event_key(event))
    originals: dict[str, tuple[int, str]] = {}  # key -> (id, source) of the first delivery
    unique = list(set(keys))
    for start in range(0, len(unique), _INSERT_CHUNK):
        originals.update((k, (i, s)) for k, i, s in session.execute(
            select(ReceivedEvent.idempotency_key, ReceivedEvent.id, ReceivedEvent.source)
            .where(ReceivedEvent.idempotency_key.in_(unique[start:start + _INSERT_CHUNK]))).all())
    new_ids = allocate_ids(session.connection(), {INBOX: len(events)})[INBOX]  # in arrival order
    rows: list[dict] = []
    for event, key, new_id, (_, source, received_on) in zip(events, keys, new_ids, items):
        row = {"id": new_id, "person_id": person_ids[event.person], "type": event.type, "event_date": event.date,
               "payload": event_payload(event), "source": source, "received_on": received_on,
               "status": "pending", "idempotency_key": None, "duplicate_of": None, "processed_on": None,
               "reason": None}
        original = originals.get(key)
        if original is None:
            row["idempotency_key"] = key
            originals[key] = (new_id, source)
        else:
            row.update(repeat_of(original[0], original[1], received_on))
        rows.append(row)
    for start in range(0, len(rows), _INSERT_CHUNK):
        session.execute(insert(INBOX), rows[start:start + _INSERT_CHUNK])
    return len(events)


# ---- ingesting ------------------------------------------------------------------------------


@dataclass
class RunReport:
    """What an ingest or monitor run did: events applied (or refused), timers fired, what was
    sent (journal counts by kind and type), alerts raised, incidents parked."""

    as_of: dt.date | None = None
    applied: int = 0
    rejected: int = 0
    errors: int = 0
    fired: Counter = field(default_factory=Counter)
    journal: Counter = field(default_factory=Counter)
    alerts: list[dict] = field(default_factory=list)
    incidents: int = 0  # events and timers parked as incidents
    cases: set[int] = field(default_factory=set)  # the cases it changed (their pages are written)

    def add(self, other: RunReport) -> None:
        self.applied += other.applied
        self.rejected += other.rejected
        self.errors += other.errors
        self.fired.update(other.fired)
        self.journal.update(other.journal)
        self.alerts += other.alerts
        self.incidents += other.incidents
        self.cases |= other.cases

    def took(self, batch: Batch) -> None:
        self.journal.update(batch.journal)
        self.alerts += _alerts(batch)
        self.cases |= batch.written_cases


IngestReport = MonitorReport = RunReport  # the names the flows and tasks read


# ---- claims and partitions --------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    """A share of the people: those whose id modulo `count` is `index`. Every event touches one
    person's cases, so partitions can run side by side without meeting; `Partition()` is all."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise InputError(f"partition: {self.index} of {self.count} is not a partition; use 0..count-1")

    def values(self) -> dict[str, int]:
        return {"part": self.index, "parts": self.count}


ALL = Partition()


def _claimed(query: Select, person_id) -> Select:  # noqa: ANN001 - a column
    """The rows of one partition, and on PostgreSQL the claim: each row's person is locked for
    this transaction, and rows of people another worker holds are skipped. So a worker applies
    a person's events and timers only while no other worker does, in order, and what it read
    stays pending for no one else. (On SQLite the transaction itself is the claim: BEGIN
    IMMEDIATE, see store/db.py.)"""
    query = query.where(person_id % bindparam("parts") == bindparam("part"))
    return query


def _claiming(session: Session, query: Select, params: dict, *, wait: bool = False) -> list:
    """The rows, their people claimed: on PostgreSQL those another worker holds are skipped, or
    with `wait` waited for (see `Worker._then_those_held`)."""
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Person.__table__, skip_locked=not wait)
    return session.execute(query, params).all()


# A test stops a worker between claiming and applying here, as a slow or paused worker would.
after_claim: Callable[[str], None] | None = None


def _paused(step: str) -> None:
    if after_claim is not None:
        after_claim(step)


def _alerts(batch: Batch) -> list[dict]:
    return [{"case": c.label, "process": c.process, "type": t, **d} for c, t, d in batch.alerts]


@lru_cache(maxsize=64)  # built once per set of held types: building it cost more than running it
def _holds_with_work(held: frozenset[str], alert_overdue: bool):
    """The people with a held letter that can go now (its type is no longer held) or is overdue."""
    can_go = HeldLetter.type.not_in(sorted(held)) if "*" not in held else false()
    overdue = and_(HeldLetter.due_by < bindparam("as_of"), HeldLetter.alerted_on.is_(None)) if alert_overdue \
        else false()
    people_with_work = (select(Case.person_id).join(HeldLetter, HeldLetter.case_id == Case.id)
                        .where(HeldLetter.state == "held", or_(can_go, overdue)))
    return _claimed(select(Person.id).where(Person.id.in_(people_with_work)), Person.id)


class Worker:
    """Ingests and monitors for one partition of the people.

    Each batch is a transaction that claims its people. With `keep_loaded` (a replay, the
    benchmark: one writer) what a batch loads stays loaded and parsed for the whole run, and
    `day` does a simulated day in one transaction; in production every batch loads afresh
    (other workers change people between runs)."""

    def __init__(self, case_file: CaseFile | None, *, partition: Partition = ALL, keep_loaded: bool = False,
                 keep_people: int = 10_000):
        self.case_file = case_file
        self.partition = partition
        self.keep_loaded = keep_loaded
        self.keep_people = keep_people  # at most this many people stay loaded between transactions
        self._batch: Batch | None = None

    # ---- the runs ---------------------------------------------------------------------------

    def ingest(self, as_of: dt.date, *, batch_size: int = DEFAULT_BATCH) -> RunReport:
        """Bring every person with events pending up to `as_of`: their events dated on or before
        it, in arrival order, then their timers due by then (see `_bring_up_to_date`)."""
        report = RunReport(as_of)
        self._in_transaction(lambda session: self._release_holds(session, as_of, report, alert_overdue=False))
        while True:
            rows = self._in_transaction(lambda session: self._ingest_batch(session, as_of, batch_size, report))
            if len(rows) < batch_size:  # that was the last of them: applying events receives none
                break
        self._then_those_held(lambda session: self._ingest_batch(session, as_of, 1, report, wait=True))
        return report

    def run_monitor(self, as_of: dt.date, *, batch_size: int = DEFAULT_BATCH) -> RunReport:
        """Bring every person with a timer due up to `as_of` (see `_bring_up_to_date`). Running a
        day twice changes nothing. Held letters released are sent and held letters past their
        day alerted first."""
        report = RunReport(as_of)
        self._in_transaction(lambda session: self._release_holds(session, as_of, report, alert_overdue=True))
        for _ in range(MAX_ROUNDS):
            due = self._in_transaction(lambda session: self._monitor_batch(session, as_of, batch_size, report))
            if len(due) < batch_size:
                self._then_those_held(lambda session: self._monitor_batch(session, as_of, 1, report, wait=True))
                return report
        raise RuntimeError(f"deadline monitor did not settle for {as_of} after {MAX_ROUNDS} rounds")

    def day(self, as_of: dt.date, *, batch_size: int = DEFAULT_BATCH) -> RunReport:
        """A simulated day in one transaction: the ingest, then the monitor (replays), in the order
        of the `deadline-monitor` flow (held letters released, events, then overdue held letters
        alerted and timers fired), so both engines of a replay give one timeline."""
        report = RunReport(as_of)

        def whole_day(session: Session) -> None:
            self._release_holds(session, as_of, report, alert_overdue=False)
            while len(self._ingest_batch(session, as_of, batch_size, report)) == batch_size:
                pass
            self._release_holds(session, as_of, report, alert_overdue=True)
            for _ in range(MAX_ROUNDS):
                if len(self._monitor_batch(session, as_of, batch_size, report)) < batch_size:
                    return
            raise RuntimeError(f"deadline monitor did not settle for {as_of} after {MAX_ROUNDS} rounds")

        self._in_transaction(whole_day)
        return report

    def _then_those_held(self, one_person: Callable[[Session], list]) -> None:
        """The people the batches skipped because another worker held them (PostgreSQL), one at a
        time, waiting for each. Another worker may be bringing them up to an earlier day (a
        monitor of yesterday holds a person whose event of today an ingest of today skipped):
        skipping would leave this run's work undone when the run ends. A transaction waits
        holding no other claim, so two workers never wait for each other; when the holder is
        done the person is read afresh, and what it did is not done again."""
        if self.case_file is None or self.case_file.engine.dialect.name != "postgresql":
            return  # SQLite: the transaction is the claim, nothing was skipped
        for _ in range(MAX_ROUNDS * DEFAULT_BATCH):
            if not self._in_transaction(one_person):
                return
        raise RuntimeError("workers kept holding the people of this run")

    # ---- one transaction, one batch ------------------------------------------------------------

    def _in_transaction(self, work: Callable[[Session], Any]) -> Any:
        try:
            with self.case_file.transaction() as session:
                result = work(session)
        except BaseException:
            self._batch = None  # what it holds may be ahead of what was written
            raise
        if self._batch is not None:
            self._batch.evict_beyond(self.keep_people)
        return result

    def _batch_for(self, session: Session, as_of: dt.date) -> Batch:
        policy, held = _day_settings(session, as_of)
        if self._batch is not None:
            self._batch.rebind(session, as_of, policy, held)
            return self._batch
        batch = Batch(session, as_of, policy, held, remember_ids=self.keep_loaded)
        if self.keep_loaded:
            self._batch = batch
        return batch

    def _ingest_batch(self, session: Session, as_of: dt.date, batch_size: int, report: RunReport, *,
                      wait: bool = False) -> list:
        rows = _claiming(session, _PENDING_EVENTS, {"as_of": as_of, "limit": batch_size, **self.partition.values()},
                         wait=wait)
        if rows:
            _paused("ingest")
            self._bring_up_to_date(session, as_of, {person_id for _, person_id, _ in rows}, report)
        return rows

    def _monitor_batch(self, session: Session, as_of: dt.date, batch_size: int, report: RunReport, *,
                       wait: bool = False) -> list:
        due = _claiming(session, _DUE_DEADLINES, {"as_of": as_of, "limit": batch_size, **self.partition.values()},
                        wait=wait)
        if due:
            _paused("monitor")
            self._bring_up_to_date(session, as_of, {person_id for _, person_id in due}, report)
        return due

    def _release_holds(self, session: Session, as_of: dt.date, report: RunReport, *, alert_overdue: bool) -> None:
        """Send the letters that waited in a hold released by `as_of` and (the monitor) alert
        process owners of held letters past their day."""
        _, held = _day_settings(session, as_of)
        people = [pid for pid, in _claiming(session, _holds_with_work(held, alert_overdue),
                                            {"as_of": as_of, **self.partition.values()})]
        if people:
            report.took(self._release_holds_of(session, as_of, people, alert_overdue=alert_overdue))

    def _release_holds_of(self, session: Session, as_of: dt.date, people: list[int], *,
                          alert_overdue: bool = False) -> Batch:
        batch = self._batch_for(session, as_of)
        batch.load_people(people)
        batch.release_holds(people, alert_overdue=alert_overdue)
        batch.finish()
        return batch

    def _bring_up_to_date(self, session: Session, as_of: dt.date, people: set[int], report: RunReport) -> None:
        """One person's day, for every person claimed: their pending events dated up to `as_of`,
        in arrival order, then their timers due by then, oldest first, then the timers those
        opened that are due already, and so on. Ingest and monitor both do exactly this, so
        whichever worker gets to a person first, the result is what one worker leaves. A timer
        that raises, or comes due again without its due date moving forward (a loop), is parked as an incident on
        its case; an event that raises too; the rest of the batch goes on."""
        batch = self._batch_for(session, as_of)
        batch.load_people(people)
        for inbox_id, person_id, payload in session.execute(_PENDING_OF_PEOPLE,
                                                             {"as_of": as_of, "ids": sorted(people)}):
            _count(batch, inbox_id, batch.apply(person_id, payload, inbox_id), report)
        fired, parked = batch.fire_due(people)
        report.fired.update(fired)
        report.incidents += len(parked)
        batch.finish()
        for deadline, exc in parked:  # the deadline has its id now
            case = deadline.case
            open_incident(session, kind="timer", source="deadlines", source_id=deadline.id, case_id=case.id,
                          summary=f"the timer {deadline.kind} of case-{case.id} could not fire", on=as_of,
                          error=f"{type(exc).__name__}: {exc}")
        report.took(batch)


def apply_now(session: Session, raw: dict[str, Any], *, source: str, received_on: dt.date,
              idempotency_key: str | None = None) -> dict[str, Any]:
    """Receive one event (staff input) and apply it to its own person at once, in the caller's
    transaction: the person is claimed — waiting for a worker that holds them, not skipping
    them as an ingest does — then the event goes into the inbox and the person is brought up
    to date as an ingest would (released held letters, their pending events, their due timers).
    Returns the event's outcome: {"received", "status", "reason"}; the status is applied,
    rejected, duplicate or error, never pending."""
    event = validate_event(raw)
    person_id = session.scalar(_claim_person(session), {"ref": event.person})
    if person_id is None:
        raise unknown_person(event.person)
    row = receive(session, raw, source=source, received_on=received_on, idempotency_key=idempotency_key)
    if row.status == "pending" and row.event_date <= received_on:
        worker = Worker(None)
        worker._release_holds_of(session, received_on, [person_id])
        worker._bring_up_to_date(session, received_on, {person_id}, RunReport(received_on))
    status, reason = session.execute(select(ReceivedEvent.status, ReceivedEvent.reason)
                                     .where(ReceivedEvent.id == row.id)).one()
    return {"received": row.id, "status": status, "reason": reason}


def _claim_person(session: Session) -> Select:
    """The person by ref, locked for this transaction on PostgreSQL (waiting for another worker's
    claim to end); on SQLite the write transaction (BEGIN IMMEDIATE) is the claim."""
    query = select(Person.id).where(Person.ref == bindparam("ref"))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Person.__table__)
    return query


def _day_settings(session: Session, as_of: dt.date) -> tuple[Policy, frozenset[str]]:
    """The policy and the letter types on hold, read once a transaction (they do not change
    under a writer's claim; between transactions they may)."""
    key = ("day_settings", as_of)
    if key not in session.info:
        session.info[key] = (load_policy(session), held_letter_types(session, as_of))
    return session.info[key]


def ingest(case_file: CaseFile, as_of: dt.date, *, batch_size: int = DEFAULT_BATCH,
           partition: Partition = ALL) -> RunReport:
    """Apply every pending event dated on or before `as_of` (and the timers of those people then
    due), in batches, each claiming its people: safe with other ingests and monitors at once."""
    return Worker(case_file, partition=partition).ingest(as_of, batch_size=batch_size)


_PENDING_EVENTS = _claimed(
    select(ReceivedEvent.id, ReceivedEvent.person_id, ReceivedEvent.payload)
    .join(Person, Person.id == ReceivedEvent.person_id)
    .where(ReceivedEvent.status == "pending", ReceivedEvent.event_date <= bindparam("as_of"))
    .order_by(ReceivedEvent.event_date, ReceivedEvent.id)
    .limit(bindparam("limit")), ReceivedEvent.person_id)


def _count(batch: Batch, inbox_id: int, outcome: Outcome, report: RunReport) -> None:
    """An event's outcome in the run's report; an event that raised is parked as an incident."""
    if outcome.status == "applied":
        report.applied += 1
    elif outcome.status == "rejected":
        report.rejected += 1
    else:
        case_id = outcome.case.id if outcome.case is not None else None
        open_incident(batch.session, kind="event", source="received_events", source_id=inbox_id, case_id=case_id,
                      summary=f"{outcome.event_type} event {inbox_id} could not be applied"
                              + (f" to case-{case_id}" if case_id else ""),
                      on=batch.as_of, error=f"{type(outcome.error).__name__}: {outcome.error}")
        report.errors += 1
        report.incidents += 1


# ---- the deadline monitor ----------------------------------------------------------------------


def run_monitor(case_file: CaseFile, as_of: dt.date, *, batch_size: int = DEFAULT_BATCH,
                partition: Partition = ALL) -> RunReport:
    """Fire every open deadline due on or before `as_of` (the people's pending events first), in
    batches, each claiming its people. A timer that raises or loops is parked as an incident."""
    return Worker(case_file, partition=partition).run_monitor(as_of, batch_size=batch_size)


# The pending events of people this batch has claimed (their rows are theirs already).
_PENDING_OF_PEOPLE = (select(ReceivedEvent.id, ReceivedEvent.person_id, ReceivedEvent.payload)
                      .where(ReceivedEvent.status == "pending", ReceivedEvent.event_date <= bindparam("as_of"),
                             ReceivedEvent.person_id.in_(bindparam("ids", expanding=True)))
                      .order_by(ReceivedEvent.event_date, ReceivedEvent.id))

_DUE_DEADLINES = _claimed(
    select(Deadline.id, Case.person_id)
    .join(Case, Case.id == Deadline.case_id)
    .join(Person, Person.id == Case.person_id)
    .where(Deadline.state == "open", Deadline.due_on <= bindparam("as_of"))
    .order_by(Deadline.due_on, Deadline.id)
    .limit(bindparam("limit")), Case.person_id)


def next_due_date(session: Session) -> dt.date | None:
    return session.scalar(select(func.min(Deadline.due_on)).where(Deadline.state == "open"))


# ---- holds -------------------------------------------------------------------------------------


def check_letter_type(letter_type: str) -> str:
    """A letter type to hold or release: one of the templates, or '*' for all."""
    from inburgering.letters.render import LETTER_TYPES

    if letter_type != "*" and letter_type not in LETTER_TYPES:
        raise InputError.at("letter_type", f"{quote(letter_type)} is not a letter type; use * for all, or one of: "
                                           f"{', '.join(LETTER_TYPES)}")
    return letter_type


def hold_letters(session: Session, letter_type: str, *, from_day: dt.date, reason: str) -> LetterHold:
    hold = LetterHold(letter_type=check_letter_type(letter_type), held_from=from_day, reason=reason)
    session.add(hold)
    session.flush([hold])
    return hold


def release_letters(session: Session, letter_type: str, *, on_day: dt.date) -> list[LetterHold]:
    """End the holds on a type (not the holds on other types: releasing '*' ends a hold on '*').
    Returns the holds released; their letters go with the next ingest or monitor run."""
    holds = session.scalars(select(LetterHold).where(LetterHold.letter_type == check_letter_type(letter_type),
                                                     LetterHold.released_on.is_(None))).all()
    for hold in holds:
        hold.released_on = on_day
    return list(holds)


def active_holds(session: Session, day: dt.date) -> list[dict]:
    """The holds in force on `day`, oldest first, with the letters of their type waiting in them."""
    waiting = dict(session.execute(select(HeldLetter.type, func.count()).where(HeldLetter.state == "held")
                                   .group_by(HeldLetter.type)).all())
    holds = session.scalars(select(LetterHold).where(
        LetterHold.held_from <= day, or_(LetterHold.released_on.is_(None), LetterHold.released_on > day))
        .order_by(LetterHold.held_from, LetterHold.id)).all()
    return [{"letter_type": h.letter_type, "held_from": h.held_from.isoformat(), "reason": h.reason,
             "letters_waiting": sum(waiting.values()) if h.letter_type == "*" else waiting.get(h.letter_type, 0)}
            for h in holds]
