"""A unit of work over a batch of events or timers: the only place transitions meet SQL.

The batch loads, in a few set-based queries, everything the pure processes need
for the people involved (their cases and open deadlines), runs the transitions in
memory, and turns the actions into rows. The caller commits once per batch.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

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
    Timer,
    Transition,
)
from inburgering.domain.registry import process_named
from inburgering.engine.jsonable import jsonable
from inburgering.letters.render import render
from inburgering.store.models import (
    Case,
    CaseStatus,
    Deadline,
    JournalEntry,
    Letter,
    LetterHold,
    OutboxMessage,
    Person,
)

CHANNEL_BY_KIND = {"letter": "post", "email": "email", "notice": "school"}

# Further action types register how they are carried out (see register_action).
ActionHandler = Callable[["Batch", Case, Any], None]
_ACTION_HANDLERS: dict[type, ActionHandler] = {}


def register_action(action_type: type, handler: ActionHandler) -> None:
    _ACTION_HANDLERS[action_type] = handler


def held_letter_types(session: Session, day: dt.date) -> frozenset[str]:
    rows = session.scalars(
        select(LetterHold.letter_type).where(
            LetterHold.held_from <= day,
            or_(LetterHold.released_on.is_(None), LetterHold.released_on > day),
        )
    ).all()
    return frozenset(rows)


class Batch:
    def __init__(self, session: Session, as_of: dt.date, policy: Policy, held: frozenset[str]):
        self.session = session
        self.as_of = as_of
        self.policy = policy
        self.held = held
        self.people: dict[int, Person] = {}
        self.cases: dict[tuple[int, str, str], Case] = {}
        self.cases_by_person: dict[int, list[Case]] = {}
        self.states: dict[int, State] = {}  # id(case) -> parsed state
        self.open_deadlines: dict[tuple[int, str], list[Deadline]] = {}  # (id(case), kind)
        self.journal: Counter[tuple[str, str]] = Counter()
        self.alerts: list[tuple[Case, str, dict]] = []
        # Cases opened in this batch get their ids in one flush at the end (`finish`);
        # what needs an id (a letter names its case) waits for it, in order.
        self.new_cases: list[Case] = []
        self._waiting_for_ids: list[Callable[[], None]] = []
        # On SQLite the batch numbers its new rows itself (see `new_id`).
        self._numbers_rows = session.get_bind().dialect.name == "sqlite"
        self._last_id: dict[type, int] = {}

    # ---- loading ------------------------------------------------------------------------

    def load_people(self, person_ids: Iterable[int]) -> None:
        ids = [i for i in set(person_ids) if i not in self.people]
        if not ids:
            return
        for person in self.session.scalars(select(Person).where(Person.id.in_(ids))):
            self.people[person.id] = person
            self.cases_by_person.setdefault(person.id, [])
        cases = self.session.scalars(select(Case).where(Case.person_id.in_(ids))).all()
        for case in cases:
            self._index_case(case)
        by_id = {case.id: case for case in cases}
        if by_id:
            for deadline in self.session.scalars(
                select(Deadline).where(Deadline.case_id.in_(list(by_id)), Deadline.state == "open")
            ):
                self.open_deadlines.setdefault((id(by_id[deadline.case_id]), deadline.kind), []).append(deadline)

    def _index_case(self, case: Case) -> None:
        self.cases[(case.person_id, case.process, case.key)] = case
        self.cases_by_person.setdefault(case.person_id, []).append(case)

    def state_of(self, case: Case) -> State:
        state = self.states.get(id(case))
        if state is None:
            state = process_named(case.process).state_model.model_validate(case.state)
            self.states[id(case)] = state
        return state

    def context(self, person_id: int) -> Context:
        person = self.people[person_id]
        cases = {(c.process, c.key): self.state_of(c) for c in self.cases_by_person.get(person_id, [])}
        return Context(
            today=self.as_of,
            policy=self.policy,
            person=PersonFacts(ref=person.ref, name=person.name, born=person.born),
            cases=cases,
            held_letters=self.held,
        )

    # ---- transitions --------------------------------------------------------------------

    def new_case(self, person_id: int, process: Process, key: str, event: Event, ctx: Context) -> tuple[Case, State]:
        state = process.new_state(event, ctx)
        case = Case(person_id=person_id, process=process.name, key=key, status="new", state={},
                    opened_on=self.as_of, updated_on=self.as_of)
        return case, state

    def commit_transition(self, case: Case, transition: Transition, cause: str) -> None:
        """Store the transition's state and carry out its actions."""
        is_new = case.id is None
        case.state = transition.state.model_dump(mode="json")
        case.waiting_for = transition.waiting_for
        case.waiting_since = transition.waiting_since
        case.late_since = transition.late_since
        case.updated_on = self.as_of
        if transition.closed and case.closed_on is None:
            case.closed_on = self.as_of
        status_changed = case.status != transition.status
        case.status = transition.status
        if is_new:
            case.id = self.new_id(Case)
            self.session.add(case)
            if case.id is None:
                self.new_cases.append(case)  # its id comes in `finish`; rows below refer to the object
            self._index_case(case)
        self.states[id(case)] = transition.state
        if status_changed:
            self.session.add(CaseStatus(id=self.new_id(CaseStatus), case=case, status=case.status, on_date=self.as_of, cause=cause))
        for action in transition.actions:
            self._carry_out(case, action)

    def _carry_out(self, case: Case, action: Any) -> None:
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
            deadline = Deadline(id=self.new_id(Deadline), case=case, kind=action.kind, due_on=action.due, data=jsonable(action.data),
                                state="open", opened_on=self.as_of)
            self.session.add(deadline)
            self.open_deadlines.setdefault((id(case), action.kind), []).append(deadline)
        elif isinstance(action, CancelDeadline):
            self._cancel_deadlines(case, action.kind)
        elif type(action) in _ACTION_HANDLERS:
            _ACTION_HANDLERS[type(action)](self, case, action)
        else:
            raise TypeError(f"no handler for action {action!r}")

    def _cancel_deadlines(self, case: Case, kind: str) -> None:
        for deadline in self.open_deadlines.pop((id(case), kind), []):
            deadline.state = "cancelled"
            deadline.closed_on = self.as_of

    def new_id(self, model: type) -> int | None:
        """The id of a new row of `model`, or None to let the database choose it at the flush.

        SQLAlchemy cannot send many INSERT ... RETURNING rows to SQLite in one statement and
        still know which id belongs to which row, so it inserts rows one by one. On SQLite
        the batch numbers them itself, as SQLite would (the highest id + 1), and they go in
        one executemany per table. That is safe: SQLite lets one transaction write at a time,
        and a transaction whose snapshot another writer changed cannot start writing
        (SQLITE_BUSY_SNAPSHOT), so no other connection can take these ids meanwhile."""
        if not self._numbers_rows:
            return None
        last = self._last_id.get(model)
        if last is None:
            with self.session.no_autoflush:  # rows the batch made so far are numbered already
                last = self.session.scalar(select(func.max(model.id))) or 0
        self._last_id[model] = last + 1
        return last + 1

    def with_id(self, case: Case, fill_in: Callable[[], None]) -> None:
        """Run `fill_in` once `case` has its id: now, or in `finish` for a case opened in this batch."""
        if case.id is not None and not self._waiting_for_ids:
            fill_in()
        else:
            self._waiting_for_ids.append(fill_in)

    def finish(self) -> None:
        """Give the cases opened in this batch their ids (one flush) and fill in what waited for them."""
        if self.new_cases:
            self.session.flush(self.new_cases)
            self.new_cases = []
        waiting, self._waiting_for_ids = self._waiting_for_ids, []
        for fill_in in waiting:
            fill_in()

    def take_deadline(self, case: Case, deadline: Deadline) -> None:
        """Mark a due deadline fired so the transition it causes sees it closed."""
        deadline.state = "fired"
        deadline.closed_on = self.as_of
        open_list = self.open_deadlines.get((id(case), deadline.kind), [])
        if deadline in open_list:
            open_list.remove(deadline)

    def _journal(self, case: Case, kind: str, type_: str, data: dict) -> JournalEntry:
        entry = JournalEntry(id=self.new_id(JournalEntry), case=case, person_id=case.person_id, on_date=self.as_of, kind=kind, type=type_,
                             data=data)
        self.session.add(entry)
        self.journal[(kind, type_)] += 1
        return entry

    def _communicate(self, case: Case, action: Communicate) -> None:
        data = jsonable(action.data)
        entry = self._journal(case, action.kind, action.type, data)
        recipient = self.people[case.person_id].name if action.to == "person" else str(data.get("school", "school"))
        letter = Letter(id=self.new_id(Letter), journal=entry, recipient=action.to, kind=action.kind, type=action.type, on_date=self.as_of)
        outbox = OutboxMessage(id=self.new_id(OutboxMessage), letter=letter, channel=CHANNEL_BY_KIND[action.kind], idempotency_key=uuid.uuid4().hex,
                               created_on=self.as_of)

        def fill_in() -> None:  # the letter names its case, so it is rendered once the case has its id
            rendered = render(action.type, kind=action.kind, recipient_name=recipient, case_label=f"case-{case.id}",
                              on_date=self.as_of, data=data)
            letter.case_id = outbox.case_id = case.id
            letter.subject, letter.body = rendered.subject, rendered.body

        self.with_id(case, fill_in)
        self.session.add(letter)
        self.session.add(outbox)


# Modules that add action types register their handlers when imported.
from inburgering.engine import ledger as _ledger  # noqa: E402,F401
