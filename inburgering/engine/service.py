"""The engine's entry points: register people, receive events, ingest, run the monitor.

Every function takes the day being processed (`as_of`); none reads the clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

from inburgering.domain.bsn import quote, validate_bsn
from inburgering.domain.events import EVENT_TYPES, Event, event_payload, parse_event
from inburgering.domain.process import EventRejected, Timer
from inburgering.domain.registry import process_for, process_named
from inburgering.engine.batch import INBOX, Batch, allocate_ids, held_letter_types
from inburgering.engine.errors import InputError, describe_validation_error
from inburgering.store.db import CaseFile, load_policy
from inburgering.store.models import Case, Deadline, LetterHold, Person, ReceivedEvent

log = logging.getLogger(__name__)

DEFAULT_BATCH = 2000


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


def validate_event(raw: dict[str, Any]) -> Event:
    """Check an event's type and fields; InputError names what is wrong."""
    if not isinstance(raw, dict):
        raise InputError("an event must be a mapping of fields")
    event_type = raw.get("type")
    if event_type is None:
        raise InputError("type: is required but missing")
    if not isinstance(event_type, str):
        raise InputError(f"type: must be the name of one event type, not {quote(event_type)}")
    if event_type not in EVENT_TYPES:
        raise InputError(f"type: unknown event type {quote(event_type)}; known types: {', '.join(sorted(EVENT_TYPES))}")
    try:
        return parse_event(raw)
    except ValidationError as exc:
        raise InputError(describe_validation_error(exc)) from None


def event_key(event: Event) -> str:
    """The idempotency key of an event that came without one: a hash of its content."""
    canonical = json.dumps(event_payload(event), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def receive(session: Session, raw: dict[str, Any], *, source: str, received_on: dt.date,
            idempotency_key: str | None = None) -> ReceivedEvent:
    """Put a validated event into the inbox. A second delivery is kept as a duplicate."""
    event = validate_event(raw)
    person_id = session.scalar(select(Person.id).where(Person.ref == event.person))
    if person_id is None:
        raise InputError(f"person: no person {quote(event.person)} in the case file")
    key = idempotency_key or event_key(event)
    row = ReceivedEvent(person_id=person_id, type=event.type, event_date=event.date,  # type: ignore[attr-defined]
                        payload=event_payload(event), source=source, received_on=received_on)
    original = session.scalar(select(ReceivedEvent).where(ReceivedEvent.idempotency_key == key))
    if original is None:
        row.idempotency_key = key
    else:
        row.status = "duplicate"
        row.duplicate_of = original.id
        row.processed_on = received_on
        row.reason = f"duplicate: the same event was already received ({original.source})"
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
            raise InputError(f"person: no person {quote(event.person)} in the case file")
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
            row.update(status="duplicate", duplicate_of=original[0], processed_on=received_on,
                       reason=f"duplicate: the same event was already received ({original[1]})")
        rows.append(row)
    for start in range(0, len(rows), _INSERT_CHUNK):
        session.execute(insert(INBOX), rows[start:start + _INSERT_CHUNK])
    return len(events)


# ---- ingesting ------------------------------------------------------------------------------


@dataclass
class IngestReport:
    applied: int = 0
    rejected: int = 0
    errors: int = 0
    journal: Counter = field(default_factory=Counter)

    def add(self, other: IngestReport) -> None:
        self.applied += other.applied
        self.rejected += other.rejected
        self.errors += other.errors
        self.journal.update(other.journal)


def ingest(case_file: CaseFile, as_of: dt.date, *, batch_size: int = DEFAULT_BATCH) -> IngestReport:
    """Apply every pending event dated on or before `as_of`, in arrival order, in batches."""
    report = IngestReport()
    while True:
        with case_file.transaction() as session:
            rows = session.execute(_PENDING_EVENTS, {"as_of": as_of, "limit": batch_size}).all()
            if not rows:
                return report
            batch = Batch(session, as_of, load_policy(session), held_letter_types(session, as_of))
            batch.load_people(person_id for _, person_id, _ in rows)
            for inbox_id, person_id, payload in rows:
                _apply_event(batch, inbox_id, person_id, payload, report)
            batch.finish()
            report.journal.update(batch.journal)
        if len(rows) < batch_size:  # that was the last of them: applying events receives none
            return report


_PENDING_EVENTS = (select(ReceivedEvent.id, ReceivedEvent.person_id, ReceivedEvent.payload)
                   .where(ReceivedEvent.status == "pending", ReceivedEvent.event_date <= bindparam("as_of"))
                   .order_by(ReceivedEvent.event_date, ReceivedEvent.id)
                   .limit(bindparam("limit")))


def _apply_event(batch: Batch, inbox_id: int, person_id: int, payload: dict, report: IngestReport) -> None:
    event = parse_event(payload)
    process = process_for(event)
    try:
        if process is None:
            raise EventRejected(f"no process handles {event.type} events yet")  # type: ignore[attr-defined]
        ctx = batch.context(person_id)
        key = process.case_key(event, ctx)
        case = batch.cases.get((person_id, process.name, key))
        if case is not None and case.closed_on is not None and not process.opens_case(event):
            case = None
        if case is None:
            if not process.opens_case(event):
                raise EventRejected(process.no_case_reason(event))
            case, state = batch.new_case(person_id, process, key, event, ctx)
        else:
            state = batch.state_of(case)
        transition = process.on_event(state, event, ctx)
    except EventRejected as rejected:
        batch.record_outcome(inbox_id, "rejected", rejected.reason)
        report.rejected += 1
        return
    except Exception as exc:  # a bug must not block the inbox: park the event for staff
        log.exception("event %s could not be applied", inbox_id)
        batch.record_outcome(inbox_id, "error", f"{type(exc).__name__}: {exc}")
        report.errors += 1
        return
    batch.commit_transition(case, transition, cause=event.type)  # type: ignore[attr-defined]
    batch.record_outcome(inbox_id, "applied", case=case)
    report.applied += 1


# ---- the deadline monitor ----------------------------------------------------------------------


@dataclass
class MonitorReport:
    as_of: dt.date
    fired: Counter = field(default_factory=Counter)
    journal: Counter = field(default_factory=Counter)
    alerts: list[dict] = field(default_factory=list)


MAX_ROUNDS = 1000  # a process that keeps opening deadlines due today would loop forever


def run_monitor(case_file: CaseFile, as_of: dt.date, *, batch_size: int = DEFAULT_BATCH) -> MonitorReport:
    """Fire every open deadline due on or before `as_of`. Running a day twice changes nothing."""
    report = MonitorReport(as_of)
    for _ in range(MAX_ROUNDS):
        with case_file.transaction() as session:
            due = session.execute(_DUE_DEADLINES, {"as_of": as_of, "limit": batch_size}).all()
            if not due:
                return report
            batch = Batch(session, as_of, load_policy(session), held_letter_types(session, as_of))
            batch.load_people(person_id for _, person_id in due)
            open_by_id = {d.id: d for d in batch.deadlines}
            for deadline_id, _ in due:
                # The batch's own record: an earlier timer in this batch may have closed it.
                deadline = open_by_id[deadline_id]
                if deadline.state != "open":
                    continue
                case = deadline.case
                batch.take_deadline(case, deadline)
                timer = Timer(deadline.kind, deadline.due_on, deadline.data)
                transition = process_named(case.process).on_timer(batch.state_of(case), timer,
                                                                  batch.context(case.person_id))
                batch.commit_transition(case, transition, cause=f"timer:{deadline.kind}")
                report.fired[deadline.kind] += 1
            settled = len(due) < batch_size and not batch.opened_deadlines_due_by(as_of)
            batch.finish()
            report.journal.update(batch.journal)
            report.alerts += [{"case": c.label, "process": c.process, "type": t, **d} for c, t, d in batch.alerts]
            if settled:  # every due deadline was fired, and none opened that is due already
                return report
    raise RuntimeError(f"deadline monitor did not settle for {as_of} after {MAX_ROUNDS} rounds")


_DUE_DEADLINES = (select(Deadline.id, Case.person_id)
                  .join(Case, Case.id == Deadline.case_id)
                  .where(Deadline.state == "open", Deadline.due_on <= bindparam("as_of"))
                  .order_by(Deadline.due_on, Deadline.id)
                  .limit(bindparam("limit")))


def next_due_date(session: Session) -> dt.date | None:
    return session.scalar(select(func.min(Deadline.due_on)).where(Deadline.state == "open"))


# ---- holds -------------------------------------------------------------------------------------


def hold_letters(session: Session, letter_type: str, *, from_day: dt.date, reason: str) -> LetterHold:
    hold = LetterHold(letter_type=letter_type, held_from=from_day, reason=reason)
    session.add(hold)
    return hold


def release_letters(session: Session, letter_type: str, *, on_day: dt.date) -> int:
    holds = session.scalars(select(LetterHold).where(LetterHold.letter_type == letter_type,
                                                     LetterHold.released_on.is_(None))).all()
    for hold in holds:
        hold.released_on = on_day
    return len(holds)
