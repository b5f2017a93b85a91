"""A unit of work over a batch of events or timers: the only place transitions meet SQL.

The batch loads, in a few set-based queries, everything the pure processes need for
the people involved (their cases and open deadlines) as plain records, runs the
transitions in memory, and writes what they did in set-based statements at the end
(`finish`): one multi-row INSERT per table for the new rows, one executemany UPDATE
for the changed cases (version-checked), deadlines and inbox rows. The caller commits
once per batch. No ORM objects on this path: at 10^5 journeys the unit of work's
per-object bookkeeping cost more than the rules themselves (bench/README.md).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import singledispatchmethod
from typing import Any

from sqlalchemy import Connection, Table, Text, bindparam, cast, func, insert, or_, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from inburgering.domain.bsn import redact_bsn
from inburgering.domain.events import Event
from inburgering.domain.policy import Policy
from inburgering.domain.process import (
    Alert,
    CancelDeadline,
    Communicate,
    Context,
    EndJourney,
    Fact,
    OpenDeadline,
    Payment,
    PersonFacts,
    Process,
    State,
    Transition,
    Withdraw,
)
from inburgering.domain.registry import fact_takers, process_named
from inburgering.engine.jsonable import jsonable
from inburgering.letters.versions import current_version as template_version
from inburgering.store.models import (
    Base,
    Case,
    CaseStatus,
    Deadline,
    HeldLetter,
    JournalEntry,
    Letter,
    LetterHold,
    OutboxMessage,
    Person,
    ReceivedEvent,
)

CHANNEL_BY_KIND = {"letter": "post", "email": "email", "notice": "school"}

CASES: Table = Case.__table__  # type: ignore[assignment]
DEADLINES: Table = Deadline.__table__  # type: ignore[assignment]
INBOX: Table = ReceivedEvent.__table__  # type: ignore[assignment]
HELD: Table = HeldLetter.__table__  # type: ignore[assignment]

ActionHandler = Callable[["Batch", "CaseRecord", Any], None]
MAX_FACT_DEPTH = 8  # facts answered by facts: a cycle would never end


def register_action(action_type: type, handler: ActionHandler) -> None:
    """Further action types (e.g. the loan ledger's) say how they are carried out."""
    Batch.carry_out.register(action_type)(lambda batch, action, case: handler(batch, case, action))


def ordered_key() -> str:
    """A message's idempotency key: unique (also across case files, for the gateway) and in
    the order written, so the unique index grows at its end (a uuid4 scatters it)."""
    return f"{time.time_ns():016x}{secrets.token_hex(4)}"


def is_held(letter_type: str, held_types: frozenset[str]) -> bool:
    return letter_type in held_types or "*" in held_types


# What a case shows while some of its letters wait in a hold; `without_holds` is its inverse.
_ON_HOLD = " — on hold: "
_ONLY_ON_HOLD = "letters on hold: "


def with_holds(waiting_for: str | None, held_types: Iterable[str]) -> str | None:
    listed = ", ".join(sorted(set(held_types)))
    if not listed:
        return waiting_for
    return f"{waiting_for}{_ON_HOLD}{listed}" if waiting_for else f"{_ONLY_ON_HOLD}{listed}"


def without_holds(waiting_for: str | None) -> str | None:
    if waiting_for is None or waiting_for.startswith(_ONLY_ON_HOLD):
        return None
    return waiting_for.split(_ON_HOLD)[0]


def held_letter_types(session: Session, day: dt.date) -> frozenset[str]:
    return frozenset(session.connection().scalars(_HELD_LETTER_TYPES, {"day": day}))


_HELD_LETTER_TYPES = select(LetterHold.letter_type).where(
    LetterHold.held_from <= bindparam("day"),
    or_(LetterHold.released_on.is_(None), LetterHold.released_on > bindparam("day")),
)


# ---- records: what the batch holds in memory -----------------------------------------------


@dataclass(eq=False)
class CaseRecord:
    """A case as the batch sees it: the row's columns, and its state parsed on first use."""

    id: int | None
    person_id: int
    process: str
    key: str
    status: str
    waiting_for: str | None
    waiting_since: dt.date | None
    late_since: dt.date | None
    opened_on: dt.date
    updated_on: dt.date
    closed_on: dt.date | None
    version: int
    stored_state: str | None  # the state's JSON as read; None for a case opened in this batch
    state: State | None = None
    changed: bool = False

    @property
    def label(self) -> str:
        return f"case-{self.id}"


_CASE_COLUMNS = ("id", "person_id", "process", "key", "status", "waiting_for", "waiting_since", "late_since",
                 "opened_on", "updated_on", "closed_on", "version")


@dataclass(eq=False)
class DeadlineRecord:
    id: int | None
    case: CaseRecord
    kind: str
    due_on: dt.date
    data: dict
    state: str  # open | fired | cancelled
    opened_on: dt.date
    closed_on: dt.date | None = None
    new: bool = False
    changed: bool = False


@dataclass(eq=False)
class HeldRecord:
    """A communication kept in a hold with its case (table held_letters)."""

    id: int | None
    case: CaseRecord
    kind: str
    type: str
    recipient: str
    data: dict
    key: str | None
    held_on: dt.date
    due_by: dt.date | None
    overdue_alert: str | None
    overdue_data: dict | None
    alerted_on: dt.date | None
    closes_case: bool
    state: str  # held | sent | withdrawn
    closed_on: dt.date | None = None
    new: bool = False
    changed: bool = False

    @property
    def late_from(self) -> dt.date | None:
        """The first late day, once process owners were told it is overdue."""
        return self.due_by + dt.timedelta(days=1) if self.alerted_on and self.due_by else None


@dataclass(eq=False)
class NewRow:
    """A row to insert in `finish`. A value that is a CaseRecord or another NewRow stands for
    that row's id, known only then; `id` is this row's own, given in `finish`."""

    table: Table
    values: dict[str, Any]
    id: int | None = None


@dataclass
class _PersonView:
    facts: PersonFacts
    cases: list[CaseRecord] = field(default_factory=list)
    deadlines: list[DeadlineRecord] = field(default_factory=list)  # open (and closed in this batch)
    held: list[HeldRecord] = field(default_factory=list)  # waiting in a hold (and released in this batch)


class _CaseStates(Mapping):
    """A person's cases by (process, key) for `Context.cases`, each state parsed only when read."""

    def __init__(self, batch: Batch, records: list[CaseRecord]):
        self._batch = batch
        self._records = {(r.process, r.key): r for r in records}

    def __getitem__(self, key: tuple[str, str]) -> State:
        return self._batch.state_of(self._records[key])

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)


# Tables in the order their new rows are inserted: a row only refers to rows of tables before it.
_INSERT_ORDER: tuple[Table, ...] = tuple(m.__table__ for m in (Case, CaseStatus, Deadline, JournalEntry, Letter,  # type: ignore[misc]
                                                             OutboxMessage))


class Batch:
    """One unit of work. A batch lives for one transaction, or, rebound to each new transaction
    (`rebind`), for a whole run of days: what it loaded stays loaded and parsed (a replay, the
    benchmark: one writer). Everything it keeps is indexed by person, and what it writes is
    tracked as it changes, so the cost of a batch follows the people it works on, not the
    people it has loaded."""

    def __init__(self, session: Session, as_of: dt.date, policy: Policy, held: frozenset[str],
                 *, remember_ids: bool = False):
        self.people: dict[int, _PersonView] = {}
        self.cases: dict[tuple[int, str, str], CaseRecord] = {}
        self.case_by_id: dict[int, CaseRecord] = {}
        self.open_deadlines: dict[tuple[int, str], list[DeadlineRecord]] = {}  # (id(case), kind)
        # What `finish` writes: new rows, and loaded rows that changed (each listed once).
        self.new_cases: list[CaseRecord] = []
        self.dirty_cases: list[CaseRecord] = []
        self.new_deadlines: list[DeadlineRecord] = []
        self.dirty_deadlines: list[DeadlineRecord] = []
        self.new_held: list[HeldRecord] = []
        self.dirty_held: list[HeldRecord] = []
        self.new_rows: dict[Table, list[NewRow]] = {}
        self.inbox_outcomes: list[tuple[int, str, str | None, CaseRecord | None]] = []
        self._after_ids: list[Callable[[], None]] = []
        self._fact_depth = 0
        self._undo: dict[int, tuple[Any, dict]] | None = None  # the current savepoint's records
        self._recent: dict[int, None] = {}  # loaded people, least recently used first
        # Ids handed out so far, by table: a single writer need not ask the database again.
        self._next_ids: dict[Table, int] | None = {} if remember_ids else None
        self.rebind(session, as_of, policy, held)

    def rebind(self, session: Session, as_of: dt.date, policy: Policy, held: frozenset[str]) -> None:
        """Work on in a new transaction, for a day: what is loaded stays loaded."""
        self.session = session
        self.connection: Connection = session.connection()
        self.as_of = as_of
        self.policy = policy
        self.held_types = held  # letter types on hold on `as_of`
        self.journal: Counter[tuple[str, str]] = Counter()
        self.alerts: list[tuple[CaseRecord, str, dict]] = []

    # ---- loading ------------------------------------------------------------------------

    def load_people(self, person_ids: Iterable[int]) -> None:
        wanted = set(person_ids)
        for pid in wanted:  # most recently used last (see evict_beyond)
            self._recent.pop(pid, None)
            self._recent[pid] = None
        ids = [i for i in wanted if i not in self.people]
        if not ids:
            return
        for pid, ref, name, born, email in self.connection.execute(_LOAD_PEOPLE, {"ids": ids}):
            self.people[pid] = _PersonView(PersonFacts(ref=ref, name=name, born=born, email_known=email is not None))
        for *values, state in self.connection.execute(_LOAD_CASES, {"ids": ids}):
            self._index_case(CaseRecord(*values, stored_state=state))
        for did, case_id, kind, due_on, data, opened_on in self.connection.execute(_LOAD_OPEN_DEADLINES, {"ids": ids}):
            self._add_deadline(DeadlineRecord(did, self.case_by_id[case_id], kind, due_on, data, "open", opened_on))
        for hid, case_id, *values in self.connection.execute(_LOAD_HELD, {"ids": ids}):
            self.people[self.case_by_id[case_id].person_id].held.append(
                HeldRecord(hid, self.case_by_id[case_id], *values, state="held"))

    def _index_case(self, case: CaseRecord) -> None:
        self.cases[(case.person_id, case.process, case.key)] = case
        self.people[case.person_id].cases.append(case)
        if case.id is not None:
            self.case_by_id[case.id] = case

    def _add_deadline(self, deadline: DeadlineRecord) -> None:
        self.people[deadline.case.person_id].deadlines.append(deadline)
        self.open_deadlines.setdefault((id(deadline.case), deadline.kind), []).append(deadline)

    def state_of(self, case: CaseRecord) -> State:
        if case.state is None:
            case.state = process_named(case.process).state_model.model_validate_json(case.stored_state)
            case.stored_state = ""  # parsed: the text is not needed again (not None: it is stored)
        return case.state

    def evict_beyond(self, keep: int) -> None:
        """Forget the people used least recently beyond `keep` (between transactions, when
        nothing is waiting to be written): memory stays bounded in a long run; a person
        forgotten is loaded again when next needed."""
        while len(self._recent) > keep:
            pid = next(iter(self._recent))
            del self._recent[pid]
            person = self.people.pop(pid, None)
            if person is None:
                continue
            for case in person.cases:
                del self.cases[(case.person_id, case.process, case.key)]
                self.case_by_id.pop(case.id, None)
            for deadline in person.deadlines:
                self.open_deadlines.pop((id(deadline.case), deadline.kind), None)

    def context(self, person_id: int) -> Context:
        person = self.people[person_id]
        return Context(today=self.as_of, policy=self.policy, person=person.facts,
                       cases=_CaseStates(self, person.cases),
                       held_keys=frozenset(h.key for h in person.held if h.state == "held" and h.key))

    def due_deadlines(self, people: Iterable[int]) -> list[DeadlineRecord]:
        """The open deadlines of these people due by `as_of`, oldest first (loaded ones in the
        order of their ids, then those opened since, in order)."""
        due = [d for pid in people for d in self.people[pid].deadlines if d.state == "open" and d.due_on <= self.as_of]
        return sorted(due, key=lambda d: d.due_on)

    # ---- what changes -------------------------------------------------------------------------

    def _touch(self, case: CaseRecord) -> None:
        if not case.changed:
            case.changed = True
            if case.stored_state is not None:
                self.dirty_cases.append(case)

    def _touch_deadline(self, deadline: DeadlineRecord) -> None:
        if not deadline.changed:
            deadline.changed = True
            if not deadline.new:
                self.dirty_deadlines.append(deadline)

    def _touch_held(self, letter: HeldRecord) -> None:
        if not letter.changed:
            letter.changed = True
            if not letter.new:
                self.dirty_held.append(letter)

    # ---- transitions --------------------------------------------------------------------

    def new_case(self, person_id: int, process: Process, key: str) -> CaseRecord:
        """A case record for a new case; it joins the batch when its first transition is committed."""
        return CaseRecord(id=None, person_id=person_id, process=process.name, key=key, status="new",
                          waiting_for=None, waiting_since=None, late_since=None, opened_on=self.as_of,
                          updated_on=self.as_of, closed_on=None, version=1, stored_state=None)

    def commit_transition(self, case: CaseRecord, transition: Transition, cause: str) -> None:
        """Keep the transition's state and carry out its actions (written in `finish`)."""
        self._remember(case)
        case.state = transition.state
        case.waiting_for = transition.waiting_for
        case.waiting_since = transition.waiting_since
        case.late_since = transition.late_since
        case.updated_on = self.as_of
        status_changed = case.status != transition.status
        case.status = transition.status
        if case.stored_state is None and not case.changed:  # opened in this batch
            self.new_cases.append(case)
            self._index_case(case)
        self._touch(case)
        if status_changed:
            self.add_row(CaseStatus, {"case_id": case, "status": case.status, "on_date": self.as_of, "cause": cause})
        for action in transition.actions:
            self.carry_out(action, case)
        if transition.closed and case.closed_on is None:
            self._close_case(case)
        self._show_holds(case)

    def _close_case(self, case: CaseRecord) -> None:
        """Close a case, unless letters of it wait in a hold: then it closes once they are sent."""
        held = self._held_of(case)
        for letter in held:
            self._remember(letter)
            letter.closes_case = True
            self._touch_held(letter)
        if not held:
            case.closed_on = self.as_of

    # ---- actions ------------------------------------------------------------------------

    @singledispatchmethod
    def carry_out(self, action: Any, case: CaseRecord) -> None:
        raise TypeError(f"no handler for action {action!r}")

    @carry_out.register
    def _communicate(self, action: Communicate, case: CaseRecord) -> None:
        data = jsonable(action.data)
        if not is_held(action.type, self.held_types):
            self._send(case, action.kind, action.type, action.to, data)
            return
        overdue = action.overdue
        letter = HeldRecord(None, case, action.kind, action.type, action.to, data, action.key, self.as_of,
                            overdue.due_by if overdue else None, overdue.alert if overdue else None,
                            jsonable(overdue.data) if overdue else None, None, False, "held", new=True)
        self.new_held.append(letter)
        self.people[case.person_id].held.append(letter)

    @carry_out.register
    def _withdraw(self, action: Withdraw, case: CaseRecord) -> None:
        for letter in self._held_of(case):
            if letter.key == action.key:
                self._end_hold(letter, "withdrawn")

    @carry_out.register
    def _alert(self, action: Alert, case: CaseRecord) -> None:
        data = jsonable(action.data)
        self._journal(case, "alert", action.type, data)
        self.alerts.append((case, action.type, data))

    @carry_out.register
    def _payment(self, action: Payment, case: CaseRecord) -> None:
        self._journal(case, "payment", action.type, jsonable(action.data))

    @carry_out.register
    def _open_deadline(self, action: OpenDeadline, case: CaseRecord) -> None:
        self._cancel_deadlines(case, action.kind)
        deadline = DeadlineRecord(None, case, action.kind, action.due, jsonable(action.data), "open", self.as_of,
                                  new=True)
        self.new_deadlines.append(deadline)
        self._add_deadline(deadline)

    @carry_out.register
    def _cancel_deadline(self, action: CancelDeadline, case: CaseRecord) -> None:
        self._cancel_deadlines(case, action.kind)

    @carry_out.register
    def _fact(self, action: Fact, case: CaseRecord) -> None:
        """Deliver a fact to every process of the person that takes it, in this transaction."""
        if self._fact_depth >= MAX_FACT_DEPTH:
            raise RuntimeError(f"facts keep answering each other ({type(action).__name__}): a cycle between processes")
        self._fact_depth += 1
        try:
            for process in fact_takers(type(action)):
                ctx = self.context(case.person_id)
                key = process.fact_case_key(action, ctx)
                if key is None:
                    continue
                target = self.cases.get((case.person_id, process.name, key))
                if target is not None and target.closed_on is not None:
                    continue
                if target is None:
                    state = process.new_state_for_fact(action, ctx)
                    if state is None:
                        continue
                    target = self.new_case(case.person_id, process, key)
                else:
                    state = self.state_of(target)
                self.commit_transition(target, process.on_fact(state, action, ctx),
                                       cause=f"fact:{type(action).__name__}")
        finally:
            self._fact_depth -= 1

    @carry_out.register
    def _end_journey(self, action: EndJourney, case: CaseRecord) -> None:
        """Every other open case of the person closes; deadlines and held letters end with it."""
        person = self.people[case.person_id]
        for other in person.cases:
            if other is case or other.closed_on is not None:
                continue
            for kind in {d.kind for d in person.deadlines if d.case is other and d.state == "open"}:
                self._cancel_deadlines(other, kind)
            for letter in self._held_of(other):
                self._end_hold(letter, "withdrawn")
            self._remember(other)
            other.waiting_for = other.waiting_since = other.late_since = None
            other.closed_on = other.updated_on = self.as_of
            other.status = "journey_ended"
            self._touch(other)
            self.add_row(CaseStatus, {"case_id": other, "status": other.status, "on_date": self.as_of,
                                      "cause": f"journey_ended: {action.reason}"})

    # ---- letters on hold ------------------------------------------------------------------

    def _held_of(self, case: CaseRecord) -> list[HeldRecord]:
        return [h for h in self.people[case.person_id].held if h.case is case and h.state == "held"]

    def _end_hold(self, letter: HeldRecord, state: str) -> None:
        self._remember(letter)
        letter.state, letter.closed_on = state, self.as_of
        self._touch_held(letter)

    def _show_holds(self, case: CaseRecord) -> None:
        """What the case waits for, with the letters of it that wait in a hold."""
        held = self._held_of(case)
        own = without_holds(case.waiting_for)
        if own is None:
            case.waiting_since = min((h.held_on for h in held), default=None)
        case.waiting_for = with_holds(own, (h.type for h in held))

    def release_holds(self, people: Iterable[int], *, alert_overdue: bool) -> None:
        """For these people: send what waits in a hold that has been released, and (the daily
        monitor) tell process owners of held letters past their day (`Overdue`)."""
        for person in (self.people[pid] for pid in people):
            for letter in [h for h in person.held if h.state == "held"]:
                case = letter.case
                if not is_held(letter.type, self.held_types):
                    self._release(letter)
                elif (alert_overdue and letter.due_by is not None and letter.due_by < self.as_of
                      and letter.alerted_on is None):
                    self._alert_overdue(letter)
                else:
                    continue
                case.updated_on = self.as_of
                self._touch(case)

    def _release(self, letter: HeldRecord) -> None:
        case = letter.case
        late_from_holds = min((h.late_from for h in self._held_of(case) if h.late_from), default=None)
        self._send(case, letter.kind, letter.type, letter.recipient, letter.data)
        self._end_hold(letter, "sent")
        remaining = self._held_of(case)
        if case.late_since is not None and case.late_since == late_from_holds:  # late only because held
            case.late_since = min((h.late_from for h in remaining if h.late_from), default=None)
        if not remaining and letter.closes_case:
            case.closed_on = self.as_of
            case.waiting_for = case.waiting_since = None
        self._show_holds(case)

    def _alert_overdue(self, letter: HeldRecord) -> None:
        assert letter.due_by is not None and letter.overdue_alert is not None
        letter.alerted_on = self.as_of
        self._touch_held(letter)
        case = letter.case
        self._alert(Alert(letter.overdue_alert, {
            **(letter.overdue_data or {}), "due_by": letter.due_by, "days_late": (self.as_of - letter.due_by).days,
            "waiting_for": f"{letter.type} ({_ONLY_ON_HOLD.strip(': ')})"}), case)
        if case.late_since is None or letter.late_from < case.late_since:
            case.late_since = letter.late_from

    # ---- deadlines --------------------------------------------------------------------------

    def _cancel_deadlines(self, case: CaseRecord, kind: str) -> None:
        for deadline in self.open_deadlines.pop((id(case), kind), []):
            self._close(deadline, "cancelled")

    def _close(self, deadline: DeadlineRecord, state: str) -> None:
        self._remember(deadline)
        deadline.state = state
        deadline.closed_on = self.as_of
        self._touch_deadline(deadline)

    def take_deadline(self, case: CaseRecord, deadline: DeadlineRecord) -> None:
        """Mark a due deadline fired so the transition it causes sees it closed."""
        self._close(deadline, "fired")
        open_list = self.open_deadlines.get((id(case), deadline.kind), [])
        if deadline in open_list:
            open_list.remove(deadline)

    def park_deadline(self, deadline: DeadlineRecord) -> None:
        """A timer that failed waits as an incident: not open (it does not fire again by itself)."""
        self._close(deadline, "incident")
        deadline.closed_on = None
        open_list = self.open_deadlines.get((id(deadline.case), deadline.kind), [])
        if deadline in open_list:
            open_list.remove(deadline)

    # ---- one person's changes, undone when something fails ------------------------------------

    def savepoint(self, person_id: int) -> Callable[[], None]:
        """What the batch holds for one person now; the function returned puts it back, so an
        event or timer that fails half-way leaves no trace and the rest of the batch goes on."""
        person = self.people[person_id]
        undo = self._undo = {}  # each record changed from now on, as it was (see _remember)
        kept = (list(person.cases), list(person.deadlines), list(person.held))
        lists = (self.new_cases, self.dirty_cases, self.new_deadlines, self.dirty_deadlines, self.new_held,
                 self.dirty_held, self.alerts, self.inbox_outcomes, self._after_ids)
        lengths = [len(items) for items in lists]
        rows = {table: len(rows) for table, rows in self.new_rows.items()}
        journal = dict(self.journal)

        def restore() -> None:
            for case in person.cases[len(kept[0]):]:  # opened since: forget them
                self.cases.pop((case.person_id, case.process, case.key), None)
            for deadline in {(id(d.case), d.kind) for d in person.deadlines}:
                self.open_deadlines.pop(deadline, None)
            for record, values in undo.values():
                record.__dict__.update(values)
            person.cases[:], person.deadlines[:], person.held[:] = kept
            for deadline in person.deadlines:  # the open ones, as they were
                if deadline.state == "open":
                    self.open_deadlines.setdefault((id(deadline.case), deadline.kind), []).append(deadline)
            for items, length in zip(lists, lengths):
                del items[length:]
            for table in list(self.new_rows):
                del self.new_rows[table][rows.get(table, 0):]
            self.journal.clear()
            self.journal.update(journal)
            self._fact_depth = 0

        return restore

    def _remember(self, record: Any) -> None:
        """Keep a record as it was before the current event or timer changes it (the savepoint)."""
        if self._undo is not None and id(record) not in self._undo:
            self._undo[id(record)] = (record, record.__dict__.copy())

    # ---- rows -------------------------------------------------------------------------------

    def add_row(self, model: type, values: dict[str, Any]) -> NewRow:
        """A row for `model`'s table, inserted in `finish` (see NewRow for references)."""
        row = NewRow(model.__table__, values)  # type: ignore[attr-defined]
        self.new_rows.setdefault(row.table, []).append(row)
        return row

    def after_ids(self, fill_in: Callable[[], None]) -> None:
        """Run `fill_in` in `finish`, once every case and new row has its id."""
        self._after_ids.append(fill_in)

    def record_outcome(self, inbox_id: int, status: str, reason: str | None = None,
                       case: CaseRecord | None = None) -> None:
        """What became of a received event (applied, rejected, error), written in `finish`.
        A reason may quote the event (an invoice number, a part): any BSN in it is masked."""
        self.inbox_outcomes.append((inbox_id, status, redact_bsn(reason) if reason else reason, case))

    def _journal(self, case: CaseRecord, kind: str, type_: str, data: dict) -> NewRow:
        self.journal[(kind, type_)] += 1
        return self.add_row(JournalEntry, {"case_id": case, "person_id": case.person_id, "on_date": self.as_of,
                                           "kind": kind, "type": type_, "data": data})

    def _send(self, case: CaseRecord, kind: str, type_: str, to: str, data: dict) -> None:
        """A letter, e-mail or notice goes out today: journal, letter and outbox row."""
        person = self.people[case.person_id].facts
        if kind == "email" and to == "person" and not person.email_known:
            kind = "letter"  # no e-mail address known: the same message goes by post
        entry = self._journal(case, kind, type_, data)
        recipient = person.name if to == "person" else str(data.get("school", "school"))
        # Kept as template and data (the journal entry's), rendered when sent (letters/stored.py).
        letter = self.add_row(Letter, {"journal_id": entry, "case_id": case, "recipient": to, "kind": kind,
                                       "type": type_, "on_date": self.as_of, "template_version": template_version(),
                                       "recipient_name": recipient, "subject": "", "body": ""})
        self.add_row(OutboxMessage, {"case_id": case, "letter_id": letter, "channel": CHANNEL_BY_KIND[kind],
                                     "payload": {}, "idempotency_key": ordered_key(), "status": "pending",
                                     "attempts": 0, "created_on": self.as_of})

    # ---- writing --------------------------------------------------------------------------

    def finish(self) -> None:
        """Write everything the batch did: ids first, then inserts, then version-checked updates."""
        new_deadlines = [(d, self.add_row(Deadline, {
            "case_id": d.case, "kind": d.kind, "due_on": d.due_on, "data": d.data, "state": d.state,
            "opened_on": d.opened_on, "closed_on": d.closed_on})) for d in self.new_deadlines]
        new_held = [(h, self.add_row(HeldLetter, {
            "case_id": h.case, "kind": h.kind, "type": h.type, "recipient": h.recipient, "data": h.data,
            "key": h.key, "held_on": h.held_on, "due_by": h.due_by, "overdue_alert": h.overdue_alert,
            "overdue_data": h.overdue_data, "alerted_on": h.alerted_on, "closes_case": h.closes_case,
            "state": h.state, "closed_on": h.closed_on})) for h in self.new_held]
        ids = allocate_ids(self.connection, {CASES: len(self.new_cases)}
                           | {table: len(rows) for table, rows in self.new_rows.items()}, self._next_ids)
        for case, new_id in zip(self.new_cases, ids[CASES]):
            case.id = new_id
            self.case_by_id[new_id] = case
        for table, rows in self.new_rows.items():
            for row, new_id in zip(rows, ids[table]):
                row.id = new_id
        for record, row in (*new_deadlines, *new_held):
            record.id = row.id
        for fill_in in self._after_ids:
            fill_in()

        if self.new_cases:
            self.connection.execute(insert(CASES), [self._case_values(c) | {"version": 1} for c in self.new_cases])
        for table in (*_INSERT_ORDER[1:], *(t for t in self.new_rows if t not in _INSERT_ORDER)):
            by_columns: dict[frozenset[str], list[dict[str, Any]]] = {}  # one statement needs one set of columns
            for row in self.new_rows.get(table, ()):
                by_columns.setdefault(frozenset(row.values), []).append(_resolved(row))
            for rows in by_columns.values():
                self.connection.execute(insert(table), rows)
        if self.dirty_cases:
            result = self.connection.execute(_UPDATE_CASE, [
                {name: values[name] for name in _CASE_FIELDS} | {"b_id": c.id, "b_version": c.version}
                for c in self.dirty_cases for values in (self._case_values(c),)])
            if result.rowcount != len(self.dirty_cases):
                raise StaleDataError(f"{len(self.dirty_cases) - result.rowcount} of {len(self.dirty_cases)} cases "
                                     "were changed by another worker meanwhile; the batch is rolled back")
            for case in self.dirty_cases:
                case.version += 1
        if self.dirty_deadlines:
            closed = [{"b_id": d.id, "state": d.state, "closed_on": d.closed_on} for d in self.dirty_deadlines]
            _expect(self.connection.execute(_CLOSE_DEADLINE, closed).rowcount, len(closed), "deadlines")
        if self.dirty_held:
            self.connection.execute(_UPDATE_HELD, [
                {"b_id": h.id, "state": h.state, "closed_on": h.closed_on, "alerted_on": h.alerted_on,
                 "closes_case": h.closes_case} for h in self.dirty_held])
        if self.inbox_outcomes:
            _expect(self.connection.execute(_RECORD_OUTCOME, [
                {"b_id": inbox_id, "status": status, "reason": reason,
                 "case_id": case.id if case is not None else None, "processed_on": self.as_of}
                for inbox_id, status, reason, case in self.inbox_outcomes]).rowcount,
                len(self.inbox_outcomes), "received events")
        self._written()

    def _written(self) -> None:
        """After `finish`: what was written is now as stored; keep only what is still open."""
        for case in self.new_cases:
            case.stored_state = ""  # written: a later transition updates it
        for case in (*self.new_cases, *self.dirty_cases):
            case.changed = False
        touched = {d.case.person_id for d in (*self.new_deadlines, *self.dirty_deadlines)}
        touched_held = {h.case.person_id for h in (*self.new_held, *self.dirty_held)}
        for record in (*self.new_deadlines, *self.dirty_deadlines, *self.new_held, *self.dirty_held):
            record.new = record.changed = False
        for pid in touched:
            self.people[pid].deadlines = [d for d in self.people[pid].deadlines if d.state == "open"]
        for pid in touched_held:
            self.people[pid].held = [h for h in self.people[pid].held if h.state == "held"]
        self.new_cases, self.dirty_cases, self.new_rows, self.inbox_outcomes = [], [], {}, []
        self.new_deadlines, self.dirty_deadlines, self.new_held, self.dirty_held = [], [], [], []
        self._after_ids = []
        self._undo = None

    def _case_values(self, case: CaseRecord) -> dict[str, Any]:
        return {"id": case.id, "person_id": case.person_id, "process": case.process, "key": case.key,
                "status": case.status, "waiting_for": case.waiting_for, "waiting_since": case.waiting_since,
                "late_since": case.late_since,
                # defaults left out: parsing gives them back (the cases table 17 % smaller)
                "state": self.state_of(case).model_dump(mode="json", exclude_defaults=True),
                "opened_on": case.opened_on, "updated_on": case.updated_on, "closed_on": case.closed_on}

def _expect(written: int, claimed: int, what: str) -> None:
    """An outcome is written only for a row this batch still holds: open (deadlines) or pending
    (received events). Anything else means another worker got there: roll the batch back."""
    if written != claimed:
        raise StaleDataError(f"{claimed - written} of {claimed} {what} were handled by another worker meanwhile; "
                             "the batch is rolled back and nothing of it is written")


def allocate_ids(connection: Connection, counts: dict[Table, int],
                 remembered: dict[Table, int] | None = None) -> dict[Table, list[int]]:
    """Ids for new rows, `counts[table]` of each table, so rows can refer to each other
    before they are inserted and every table's rows go in one statement.

    PostgreSQL hands them out from each column's sequence. SQLite has none: the rows are
    numbered as SQLite would (the highest id + 1; one query for all tables). Should another
    worker insert rows of a table meanwhile, the INSERT fails on the primary key and the
    whole transaction rolls back (its task is retried): an id is never taken twice and
    nothing is overwritten. A single writer (a replay) passes `remembered`: the last id
    given per table, so the database is asked once a table."""
    wanted = [table for table, count in counts.items() if count]
    ids: dict[Table, list[int]] = {table: [] for table in counts}
    if not wanted:
        return ids
    if connection.dialect.name == "sqlite":
        unknown = [table for table in wanted if remembered is None or table not in remembered]
        if unknown:
            lasts = connection.execute(select(*(_LAST_ID[table] for table in unknown))).one()
            known = dict(zip(unknown, (last or 0 for last in lasts)))
        else:
            known = {}
        for table in wanted:
            last = remembered[table] if remembered is not None and table in remembered else known[table]
            ids[table] = list(range(last + 1, last + counts[table] + 1))
            if remembered is not None:
                remembered[table] = last + counts[table]
    else:
        for table in wanted:
            ids[table] = list(connection.scalars(_NEXT_IDS, {"table": table.name, "count": counts[table]}))
    return ids


def _resolved(row: NewRow) -> dict[str, Any]:
    values = {k: (v.id if isinstance(v, (NewRow, CaseRecord)) else v) for k, v in row.values.items()}
    values["id"] = row.id
    return values


# The statements of the hot path, built once (building one costs more than running it).
_LOAD_PEOPLE = (select(Person.id, Person.ref, Person.name, Person.born, Person.email)
                .where(Person.id.in_(bindparam("ids", expanding=True))))
# States come as JSON text and are parsed (by pydantic, from the text) only when a rule reads them.
_LOAD_CASES = (select(*(CASES.c[name] for name in _CASE_COLUMNS), cast(CASES.c.state, Text))
               .where(CASES.c.person_id.in_(bindparam("ids", expanding=True))).order_by(CASES.c.id))
_LOAD_OPEN_DEADLINES = (
    select(DEADLINES.c.id, DEADLINES.c.case_id, DEADLINES.c.kind, DEADLINES.c.due_on, DEADLINES.c.data,
           DEADLINES.c.opened_on)
    # By case ids, not a join: SQLite's planner would otherwise walk every open deadline.
    .where(DEADLINES.c.case_id.in_(select(CASES.c.id).where(CASES.c.person_id.in_(bindparam("ids", expanding=True)))),
           DEADLINES.c.state == "open")
    .order_by(DEADLINES.c.id))
_LOAD_HELD = (
    select(HELD.c.id, HELD.c.case_id, HELD.c.kind, HELD.c.type, HELD.c.recipient, HELD.c.data, HELD.c.key,
           HELD.c.held_on, HELD.c.due_by, HELD.c.overdue_alert, HELD.c.overdue_data, HELD.c.alerted_on,
           HELD.c.closes_case)
    .where(HELD.c.case_id.in_(select(CASES.c.id).where(CASES.c.person_id.in_(bindparam("ids", expanding=True)))),
           HELD.c.state == "held")
    .order_by(HELD.c.id))
_LAST_ID = {table: select(func.max(table.c.id)).scalar_subquery() for table in Base.metadata.tables.values()
            if "id" in table.c}
_NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)")

_CASE_FIELDS = ("status", "waiting_for", "waiting_since", "late_since", "state", "updated_on", "closed_on")
# Optimistic locking: the UPDATE names the version the batch read, so two workers changing one
# case at once cannot both win; the loser's batch rolls back (and its task is retried).
_UPDATE_CASE = (update(CASES)
                .where(CASES.c.id == bindparam("b_id"), CASES.c.version == bindparam("b_version"))
                .values({name: bindparam(name) for name in _CASE_FIELDS} | {"version": CASES.c.version + 1}))
_CLOSE_DEADLINE = (update(DEADLINES).where(DEADLINES.c.id == bindparam("b_id"), DEADLINES.c.state == "open")
                   .values(state=bindparam("state"), closed_on=bindparam("closed_on")))
_UPDATE_HELD = (update(HELD).where(HELD.c.id == bindparam("b_id"))
                .values({name: bindparam(name) for name in ("state", "closed_on", "alerted_on", "closes_case")}))
_RECORD_OUTCOME = (update(INBOX).where(INBOX.c.id == bindparam("b_id"), INBOX.c.status == "pending")
                   .values({name: bindparam(name) for name in ("status", "reason", "case_id", "processed_on")}))


# Modules that add action types register their handlers when imported.
from inburgering.engine import ledger as _ledger  # noqa: E402,F401
