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
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, Text, bindparam, cast, func, insert, or_, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from inburgering.domain.bsn import conceal_bsns
from inburgering.domain.events import Event
from inburgering.domain.policy import Policy
from inburgering.domain.process import (
    Alert,
    CancelDeadline,
    Communicate,
    Context,
    OpenDeadline,
    Payment,
    PersonFacts,
    Process,
    State,
    Transition,
)
from inburgering.domain.registry import process_named
from inburgering.engine.jsonable import jsonable
from inburgering.letters.render import render
from inburgering.store.models import (
    Base,
    Case,
    CaseStatus,
    Deadline,
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

# Further action types register how they are carried out (see register_action).
ActionHandler = Callable[["Batch", "CaseRecord", Any], None]
_ACTION_HANDLERS: dict[type, ActionHandler] = {}


def register_action(action_type: type, handler: ActionHandler) -> None:
    _ACTION_HANDLERS[action_type] = handler


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
    def __init__(self, session: Session, as_of: dt.date, policy: Policy, held: frozenset[str]):
        self.session = session
        self.connection: Connection = session.connection()
        self.as_of = as_of
        self.policy = policy
        self.held = held
        self.people: dict[int, _PersonView] = {}
        self.cases: dict[tuple[int, str, str], CaseRecord] = {}
        self.case_by_id: dict[int, CaseRecord] = {}
        self.open_deadlines: dict[tuple[int, str], list[DeadlineRecord]] = {}  # (id(case), kind)
        self.deadlines: list[DeadlineRecord] = []  # loaded and new: written in `finish`
        self.journal: Counter[tuple[str, str]] = Counter()
        self.alerts: list[tuple[CaseRecord, str, dict]] = []
        self.new_cases: list[CaseRecord] = []
        self.new_rows: dict[Table, list[NewRow]] = {}
        self.inbox_outcomes: list[tuple[int, str, str | None, CaseRecord | None]] = []
        self._after_ids: list[Callable[[], None]] = []

    # ---- loading ------------------------------------------------------------------------

    def load_people(self, person_ids: Iterable[int]) -> None:
        ids = [i for i in set(person_ids) if i not in self.people]
        if not ids:
            return
        for pid, ref, name, born in self.connection.execute(_LOAD_PEOPLE, {"ids": ids}):
            self.people[pid] = _PersonView(PersonFacts(ref=ref, name=name, born=born))
        for *values, state in self.connection.execute(_LOAD_CASES, {"ids": ids}):
            self._index_case(CaseRecord(*values, stored_state=state))
        for did, case_id, kind, due_on, data, opened_on in self.connection.execute(_LOAD_OPEN_DEADLINES, {"ids": ids}):
            case = self.case_by_id[case_id]
            deadline = DeadlineRecord(did, case, kind, due_on, data, "open", opened_on)
            self.deadlines.append(deadline)
            self.open_deadlines.setdefault((id(case), kind), []).append(deadline)

    def _index_case(self, case: CaseRecord) -> None:
        self.cases[(case.person_id, case.process, case.key)] = case
        self.people[case.person_id].cases.append(case)
        if case.id is not None:
            self.case_by_id[case.id] = case

    def state_of(self, case: CaseRecord) -> State:
        if case.state is None:
            case.state = process_named(case.process).state_model.model_validate_json(case.stored_state)
        return case.state

    def context(self, person_id: int) -> Context:
        person = self.people[person_id]
        return Context(today=self.as_of, policy=self.policy, person=person.facts,
                       cases=_CaseStates(self, person.cases), held_letters=self.held)

    # ---- transitions --------------------------------------------------------------------

    def new_case(self, person_id: int, process: Process, key: str, event: Event, ctx: Context) -> tuple[CaseRecord, State]:
        state = process.new_state(event, ctx)
        case = CaseRecord(id=None, person_id=person_id, process=process.name, key=key, status="new",
                          waiting_for=None, waiting_since=None, late_since=None, opened_on=self.as_of,
                          updated_on=self.as_of, closed_on=None, version=1, stored_state=None)
        return case, state

    def commit_transition(self, case: CaseRecord, transition: Transition, cause: str) -> None:
        """Keep the transition's state and carry out its actions (written in `finish`)."""
        case.state = transition.state
        case.waiting_for = transition.waiting_for
        case.waiting_since = transition.waiting_since
        case.late_since = transition.late_since
        case.updated_on = self.as_of
        if transition.closed and case.closed_on is None:
            case.closed_on = self.as_of
        status_changed = case.status != transition.status
        case.status = transition.status
        if case.stored_state is None and not case.changed:  # opened in this batch
            self.new_cases.append(case)
            self._index_case(case)
        case.changed = True
        if status_changed:
            self.add_row(CaseStatus, {"case_id": case, "status": case.status, "on_date": self.as_of, "cause": cause})
        for action in transition.actions:
            self._carry_out(case, action)

    def _carry_out(self, case: CaseRecord, action: Any) -> None:
        if isinstance(action, Communicate):
            self._communicate(case, action)
        elif isinstance(action, Alert):
            data = jsonable(action.data)
            self._journal(case, "alert", action.type, data)
            self.alerts.append((case, action.type, data))
        elif isinstance(action, Payment):
            self._journal(case, "payment", action.type, jsonable(action.data))
        elif isinstance(action, OpenDeadline):
            self._cancel_deadlines(case, action.kind)
            deadline = DeadlineRecord(None, case, action.kind, action.due, jsonable(action.data), "open", self.as_of,
                                      new=True)
            self.deadlines.append(deadline)
            self.open_deadlines.setdefault((id(case), action.kind), []).append(deadline)
        elif isinstance(action, CancelDeadline):
            self._cancel_deadlines(case, action.kind)
        elif type(action) in _ACTION_HANDLERS:
            _ACTION_HANDLERS[type(action)](self, case, action)
        else:
            raise TypeError(f"no handler for action {action!r}")

    def _cancel_deadlines(self, case: CaseRecord, kind: str) -> None:
        for deadline in self.open_deadlines.pop((id(case), kind), []):
            self._close(deadline, "cancelled")

    def _close(self, deadline: DeadlineRecord, state: str) -> None:
        deadline.state = state
        deadline.closed_on = self.as_of
        deadline.changed = True

    def take_deadline(self, case: CaseRecord, deadline: DeadlineRecord) -> None:
        """Mark a due deadline fired so the transition it causes sees it closed."""
        self._close(deadline, "fired")
        open_list = self.open_deadlines.get((id(case), deadline.kind), [])
        if deadline in open_list:
            open_list.remove(deadline)

    def opened_deadlines_due_by(self, day: dt.date) -> bool:
        return any(d.new and d.state == "open" and d.due_on <= day for d in self.deadlines)

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
        self.inbox_outcomes.append((inbox_id, status, conceal_bsns(reason) if reason else reason, case))

    def _journal(self, case: CaseRecord, kind: str, type_: str, data: dict) -> NewRow:
        self.journal[(kind, type_)] += 1
        return self.add_row(JournalEntry, {"case_id": case, "person_id": case.person_id, "on_date": self.as_of,
                                           "kind": kind, "type": type_, "data": data})

    def _communicate(self, case: CaseRecord, action: Communicate) -> None:
        data = jsonable(action.data)
        entry = self._journal(case, action.kind, action.type, data)
        recipient = self.people[case.person_id].facts.name if action.to == "person" else str(data.get("school", "school"))
        letter = self.add_row(Letter, {"journal_id": entry, "case_id": case, "recipient": action.to,
                                       "kind": action.kind, "type": action.type, "on_date": self.as_of})
        self.add_row(OutboxMessage, {"case_id": case, "letter_id": letter, "channel": CHANNEL_BY_KIND[action.kind],
                                     "payload": {}, "idempotency_key": uuid.uuid4().hex, "status": "pending",
                                     "attempts": 0, "created_on": self.as_of})

        def fill_in() -> None:  # the letter names its case, so it is rendered once the case has its id
            rendered = render(action.type, kind=action.kind, recipient_name=recipient, case_label=case.label,
                              on_date=self.as_of, data=data)
            letter.values["subject"], letter.values["body"] = rendered.subject, rendered.body

        self.after_ids(fill_in)

    # ---- writing --------------------------------------------------------------------------

    def finish(self) -> None:
        """Write everything the batch did: ids first, then inserts, then version-checked updates."""
        new_deadlines = [(d, self.add_row(Deadline, {
            "case_id": d.case, "kind": d.kind, "due_on": d.due_on, "data": d.data, "state": d.state,
            "opened_on": d.opened_on, "closed_on": d.closed_on})) for d in self.deadlines if d.new]
        ids = allocate_ids(self.connection, {CASES: len(self.new_cases)}
                           | {table: len(rows) for table, rows in self.new_rows.items()})
        for case, new_id in zip(self.new_cases, ids[CASES]):
            case.id = new_id
            self.case_by_id[new_id] = case
        for table, rows in self.new_rows.items():
            for row, new_id in zip(rows, ids[table]):
                row.id = new_id
        for deadline, row in new_deadlines:
            deadline.id = row.id
        for fill_in in self._after_ids:
            fill_in()
        self._after_ids = []

        if self.new_cases:
            self.connection.execute(insert(CASES), [self._case_values(c) | {"version": 1} for c in self.new_cases])
        for table in (*_INSERT_ORDER[1:], *(t for t in self.new_rows if t not in _INSERT_ORDER)):
            by_columns: dict[frozenset[str], list[dict[str, Any]]] = {}  # one statement needs one set of columns
            for row in self.new_rows.get(table, ()):
                by_columns.setdefault(frozenset(row.values), []).append(_resolved(row))
            for rows in by_columns.values():
                self.connection.execute(insert(table), rows)
        changed = [c for c in self.case_by_id.values() if c.changed and c.stored_state is not None]
        if changed:
            result = self.connection.execute(_UPDATE_CASE, [
                {name: values[name] for name in _CASE_FIELDS} | {"b_id": c.id, "b_version": c.version}
                for c in changed for values in (self._case_values(c),)])
            if result.rowcount != len(changed):
                raise StaleDataError(f"{len(changed) - result.rowcount} of {len(changed)} cases were changed by "
                                     "another worker meanwhile; the batch is rolled back")
            for case in changed:
                case.version += 1
        closed = [{"b_id": d.id, "state": d.state, "closed_on": d.closed_on}
                  for d in self.deadlines if d.changed and not d.new]
        if closed:
            self.connection.execute(_CLOSE_DEADLINE, closed)
        if self.inbox_outcomes:
            self.connection.execute(_RECORD_OUTCOME, [
                {"b_id": inbox_id, "status": status, "reason": reason,
                 "case_id": case.id if case is not None else None, "processed_on": self.as_of}
                for inbox_id, status, reason, case in self.inbox_outcomes])
        for case in self.new_cases:
            case.stored_state = ""  # written: a later transition in this batch object updates it
        self.new_cases, self.new_rows, self.inbox_outcomes = [], {}, []
        self.deadlines = [d for d in self.deadlines if d.state == "open"]
        for deadline in self.deadlines:
            deadline.new = deadline.changed = False
        for case in self.case_by_id.values():
            case.changed = False

    def _case_values(self, case: CaseRecord) -> dict[str, Any]:
        return {"id": case.id, "person_id": case.person_id, "process": case.process, "key": case.key,
                "status": case.status, "waiting_for": case.waiting_for, "waiting_since": case.waiting_since,
                "late_since": case.late_since, "state": case.state.model_dump(mode="json"),  # type: ignore[union-attr]
                "opened_on": case.opened_on, "updated_on": case.updated_on, "closed_on": case.closed_on}

def allocate_ids(connection: Connection, counts: dict[Table, int]) -> dict[Table, list[int]]:
    """Ids for new rows, `counts[table]` of each table, so rows can refer to each other
    before they are inserted and every table's rows go in one statement.

    PostgreSQL hands them out from each column's sequence. SQLite has none: the rows are
    numbered as SQLite would (the highest id + 1; one query for all tables). Should another
    worker insert rows of a table meanwhile, the INSERT fails on the primary key and the
    whole transaction rolls back (its task is retried): an id is never taken twice and
    nothing is overwritten."""
    wanted = [table for table, count in counts.items() if count]
    ids: dict[Table, list[int]] = {table: [] for table in counts}
    if not wanted:
        return ids
    if connection.dialect.name == "sqlite":
        lasts = connection.execute(select(*(_LAST_ID[table] for table in wanted))).one()
        for table, last in zip(wanted, lasts):
            ids[table] = list(range((last or 0) + 1, (last or 0) + counts[table] + 1))
    else:
        for table in wanted:
            ids[table] = list(connection.scalars(_NEXT_IDS, {"table": table.name, "count": counts[table]}))
    return ids


def _resolved(row: NewRow) -> dict[str, Any]:
    values = {k: (v.id if isinstance(v, (NewRow, CaseRecord)) else v) for k, v in row.values.items()}
    values["id"] = row.id
    return values


# The statements of the hot path, built once (building one costs more than running it).
_LOAD_PEOPLE = (select(Person.id, Person.ref, Person.name, Person.born)
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
_LAST_ID = {table: select(func.max(table.c.id)).scalar_subquery() for table in Base.metadata.tables.values()
            if "id" in table.c}
_NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)")

_CASE_FIELDS = ("status", "waiting_for", "waiting_since", "late_since", "state", "updated_on", "closed_on")
# Optimistic locking: the UPDATE names the version the batch read, so two workers changing one
# case at once cannot both win; the loser's batch rolls back (and its task is retried).
_UPDATE_CASE = (update(CASES)
                .where(CASES.c.id == bindparam("b_id"), CASES.c.version == bindparam("b_version"))
                .values({name: bindparam(name) for name in _CASE_FIELDS} | {"version": CASES.c.version + 1}))
_CLOSE_DEADLINE = (update(DEADLINES).where(DEADLINES.c.id == bindparam("b_id"))
                   .values(state=bindparam("state"), closed_on=bindparam("closed_on")))
_RECORD_OUTCOME = (update(INBOX).where(INBOX.c.id == bindparam("b_id"))
                   .values({name: bindparam(name) for name in ("status", "reason", "case_id", "processed_on")}))


# Modules that add action types register their handlers when imported.
from inburgering.engine import ledger as _ledger  # noqa: E402,F401
