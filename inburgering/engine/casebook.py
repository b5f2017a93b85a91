"""The casebook: people's cases in memory, and the one way anything is applied to them.

An event, a timer, a fact between processes and a hold's release are applied here and
nowhere else — by the engine's batches (engine/batch.py loads people into a casebook from
SQL and writes what changed), by the tests and by the benchmark, which use a casebook on
its own (`Casebook.settle` numbers the new rows in memory). No SQL in this module: what a
transition does is kept as records (cases, deadlines, held letters) and new rows (status
history, journal, letters, outbox, ledger) named by their table, for a flusher to write.

A rejected event or a failed timer leaves no trace: the casebook keeps each record as it
was before the event or timer changed it (`savepoint`) and puts it back.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from inburgering.domain.bsn import redact_bsn
from inburgering.domain.events import Event, parse_event
from inburgering.domain.invoicing_ledger import LedgerEntry
from inburgering.domain.policy import Policy
from inburgering.domain.process import (
    Alert,
    CancelDeadline,
    Communicate,
    Context,
    EndJourney,
    EventRejected,
    Fact,
    OpenDeadline,
    Payment,
    PersonFacts,
    Process,
    State,
    Timer,
    Transition,
    Withdraw,
)
from inburgering.domain.registry import fact_takers, process_for, process_named
from inburgering.engine.jsonable import jsonable
from inburgering.letters.versions import current_version as template_version

log = logging.getLogger(__name__)

CHANNEL_BY_KIND = {"letter": "post", "email": "email", "notice": "school"}
MAX_FACT_DEPTH = 8  # facts answered by facts: a cycle would never end
MAX_PASSES = 100  # timers opening timers due the same day, for one person's day


def ordered_key() -> str:
    """A message's idempotency key: unique (also across case files, for the gateway) and in
    the order written, so the unique index grows at its end (a uuid4 scatters it)."""
    return f"{time.time_ns():016x}{secrets.token_hex(4)}"


def cents(amount: Decimal) -> int:
    return int(amount.scaleb(2).to_integral_exact())


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


# ---- records: what the casebook holds -------------------------------------------------------


@dataclass(eq=False)
class CaseRecord:
    """A case: the row's columns, and its state parsed on first use."""

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
    stored_state: str | None  # the state's JSON as read; None for a case opened since the last flush
    state: State | None = None
    changed: bool = False

    @property
    def label(self) -> str:
        return f"case-{self.id}"


CASE_COLUMNS = ("id", "person_id", "process", "key", "status", "waiting_for", "waiting_since", "late_since",
                "opened_on", "updated_on", "closed_on", "version")


@dataclass(eq=False)
class DeadlineRecord:
    id: int | None
    case: CaseRecord
    kind: str
    due_on: dt.date
    data: dict
    state: str  # open | fired | cancelled | incident
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
    """A row to insert, in the table named `table`. A value that is a CaseRecord or another
    NewRow stands for that row's id, known only once ids are given; `id` is this row's own."""

    table: str
    values: dict[str, Any]
    id: int | None = None

    def resolved(self) -> dict[str, Any]:
        values = {k: (v.id if isinstance(v, (NewRow, CaseRecord)) else v) for k, v in self.values.items()}
        values["id"] = self.id
        return values


@dataclass
class PersonView:
    facts: PersonFacts
    cases: list[CaseRecord] = field(default_factory=list)
    deadlines: list[DeadlineRecord] = field(default_factory=list)  # open (and closed since the last flush)
    held: list[HeldRecord] = field(default_factory=list)  # waiting in a hold (and released since the last flush)


@dataclass
class Outcome:
    """What became of an event: applied (to `case`), rejected (`reason`), or an error (`error`)."""

    status: str
    case: CaseRecord | None = None
    reason: str | None = None
    error: Exception | None = None
    event_type: str = "an"


class TimerLoop(RuntimeError):
    pass


class _CaseStates(Mapping):
    """A person's cases by (process, key) for `Context.cases`, each state parsed only when read."""

    def __init__(self, book: Casebook, records: list[CaseRecord]):
        self._book = book
        self._records = {(r.process, r.key): r for r in records}

    def __getitem__(self, key: tuple[str, str]) -> State:
        return self._book.state_of(self._records[key])

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)


class Casebook:
    """People's cases in memory, on one day at a time (`on_day`). Everything it keeps is indexed
    by person, and what changes is tracked as it changes, so the cost of a day follows the
    people worked on, not the people loaded."""

    def __init__(self, as_of: dt.date, policy: Policy, held: frozenset[str] = frozenset()):
        self.people: dict[int, PersonView] = {}
        self.cases: dict[tuple[int, str, str], CaseRecord] = {}
        self.case_by_id: dict[int, CaseRecord] = {}
        self.open_deadlines: dict[tuple[int, str], list[DeadlineRecord]] = {}  # (id(case), kind)
        # What a flush writes: new rows, and rows that changed (each listed once).
        self.new_cases: list[CaseRecord] = []
        self.dirty_cases: list[CaseRecord] = []
        self.new_deadlines: list[DeadlineRecord] = []
        self.dirty_deadlines: list[DeadlineRecord] = []
        self.new_held: list[HeldRecord] = []
        self.dirty_held: list[HeldRecord] = []
        self.new_rows: dict[str, list[NewRow]] = {}
        self.inbox_outcomes: list[tuple[int, str, str | None, CaseRecord | None]] = []
        self._after_ids: list[Callable[[], None]] = []
        self._fact_depth = 0
        self._undo: dict[int, tuple[Any, dict]] | None = None  # the current savepoint's records
        self._recent: dict[int, None] = {}  # people, least recently used first
        self.on_day(as_of, policy, held)

    def on_day(self, as_of: dt.date, policy: Policy, held: frozenset[str] = frozenset()) -> None:
        """Work on `as_of`, under its policy and its holds (letter types held that day)."""
        self.as_of = as_of
        self.policy = policy
        self.held_types = held
        self.journal: Counter[tuple[str, str]] = Counter()
        self.alerts: list[tuple[CaseRecord, str, dict]] = []
        self.written_cases: set[int] = set()  # the ids of the cases flushed since (their pages are due)

    # ---- people ---------------------------------------------------------------------------

    def add_person(self, person_id: int, facts: PersonFacts) -> None:
        self.people[person_id] = PersonView(facts)

    def used(self, person_ids: Iterable[int]) -> list[int]:
        """Mark these people used now (see `evict_beyond`); returns those not held yet."""
        missing = []
        for pid in person_ids:  # most recently used last
            self._recent.pop(pid, None)
            self._recent[pid] = None
            if pid not in self.people:
                missing.append(pid)
        return missing

    def index_case(self, case: CaseRecord) -> None:
        self.cases[(case.person_id, case.process, case.key)] = case
        self.people[case.person_id].cases.append(case)
        if case.id is not None:
            self.case_by_id[case.id] = case

    def add_deadline(self, deadline: DeadlineRecord) -> None:
        self.people[deadline.case.person_id].deadlines.append(deadline)
        self.open_deadlines.setdefault((id(deadline.case), deadline.kind), []).append(deadline)

    def state_of(self, case: CaseRecord) -> State:
        if case.state is None:
            case.state = process_named(case.process).state_model.model_validate_json(case.stored_state)
            case.stored_state = ""  # parsed: the text is not needed again (not None: it is stored)
        return case.state

    def evict_beyond(self, keep: int) -> None:
        """Forget the people used least recently beyond `keep` (when nothing waits to be
        written): memory stays bounded in a long run; a person forgotten is loaded again."""
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

    def next_due(self) -> dt.date | None:
        """The first day a deadline or a held letter's overdue alert is due, of the people held."""
        days = [d.due_on for p in self.people.values() for d in p.deadlines if d.state == "open"]
        days += [h.due_by + dt.timedelta(days=1) for p in self.people.values() for h in p.held
                 if h.state == "held" and h.due_by is not None and h.alerted_on is None]
        return min(days, default=None)

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

    # ---- applying: events, timers, facts ------------------------------------------------------

    def transition(self, call: Callable[..., Transition], state: State, *args: Any) -> Transition:
        """A process's transition (`on_event`, `on_timer`, `on_fact`); a test checks here that none
        changes the state it was given (tests/test_state_discipline.py)."""
        return call(state, *args)

    def apply(self, person_id: int, event: Event | dict, inbox_id: int | None = None) -> Outcome:
        """Apply one event to the person's cases: the case it is for (opened if the event opens
        one), its transition and actions. A rejected event changes nothing; an event that
        raises changes nothing either and is reported as an error. With `inbox_id`, the
        outcome is kept for the flush (the received event's row)."""
        restore = self.savepoint(person_id)
        process = None
        event_type = str(event.get("type", "an"))[:60] if isinstance(event, dict) else event.type  # type: ignore[attr-defined]
        try:
            if isinstance(event, dict):
                event = parse_event(event)  # a row stored by an older version may not parse any more
            ctx = self.context(person_id)
            process = process_for(event, ctx)
            if process is None:
                raise EventRejected(f"no process handles {event_type} events yet")
            if ctx.journey.ended_on is not None:
                raise EventRejected(f"{ctx.journey.ended_words()}: no further events are taken for this person")
            key = process.case_key(event, ctx)
            case = self.cases.get((person_id, process.name, key))
            if case is not None and case.closed_on is not None and not process.opens_case(event):
                case = None
            if case is None:
                if not process.opens_case(event):
                    raise EventRejected(process.no_case_reason(event))
                case, state = self.new_case(person_id, process, key), process.new_state(event, ctx)
            else:
                state = self.state_of(case)
            self.commit_transition(case, self.transition(process.on_event, state, event, ctx), cause=event_type)
        except EventRejected as rejected:
            restore()
            outcome = Outcome("rejected", reason=rejected.reason, event_type=event_type)
        except Exception as exc:  # a bug must not block the inbox: the caller parks it as an incident
            restore()
            log.exception("event %s could not be applied", inbox_id)
            outcome = Outcome("error", case=self._case_of(person_id, process), error=exc,
                              reason="the event could not be applied (an error in the engine); it is parked as an "
                                     "incident for staff to retry", event_type=event_type)
        else:
            outcome = Outcome("applied", case=case, event_type=event_type)
        if inbox_id is not None:
            self.record_outcome(inbox_id, outcome.status, outcome.reason,
                                case=outcome.case if outcome.status == "applied" else None)
        return outcome

    def _case_of(self, person_id: int, process: Process | None) -> CaseRecord | None:
        """The case an event that failed was for, if it can be told without running it again."""
        if process is None:
            return None
        cases = [c for c in self.people[person_id].cases if c.process == process.name and c.id is not None]
        return cases[-1] if len(cases) == 1 else None

    def fire_due(self, people: Iterable[int]) -> tuple[Counter, list[tuple[DeadlineRecord, Exception]]]:
        """Fire these people's timers due by `as_of`, oldest first, then the timers those opened
        that are due already, and so on. A timer that raises, or comes due again without its due
        date moving forward (a loop), is parked (returned with its error); the rest go on. Due
        again for a later date is a catch-up (no monitor ran for a while): it fires."""
        people = list(people)
        fired: Counter = Counter()
        # (case, kind) -> the due date it last fired for: due again for the same or an earlier date loops
        once: dict[tuple[int, str], dt.date] = {}
        parked: list[tuple[DeadlineRecord, Exception]] = []
        for _ in range(MAX_PASSES):
            due = self.due_deadlines(people)
            if not due:
                return fired, parked
            for deadline in due:
                if deadline.state != "open":  # an earlier timer of this pass may have closed it
                    continue
                error = self.fire(deadline, once)
                if error is None:
                    fired[deadline.kind] += 1
                else:
                    parked.append((deadline, error))
        raise RuntimeError(f"timers kept opening timers due on {self.as_of} after {MAX_PASSES} passes")

    def fire(self, deadline: DeadlineRecord, once: dict[tuple[int, str], dt.date]) -> Exception | None:
        """Fire one timer; on failure nothing of it stays and the timer is parked (returned error)."""
        case = deadline.case
        restore = self.savepoint(case.person_id)
        try:
            last_due = once.get((id(case), deadline.kind))
            if last_due is not None and deadline.due_on <= last_due:
                raise TimerLoop(f"the timer {deadline.kind} came due again on {self.as_of} for {deadline.due_on}, a "
                                f"due date not after the one it fired for ({last_due}): the policy or the process "
                                "makes it loop (e.g. an interval of 0 days)")
            once[(id(case), deadline.kind)] = deadline.due_on
            self.take_deadline(case, deadline)
            timer = Timer(deadline.kind, deadline.due_on, deadline.data)
            transition = self.transition(process_named(case.process).on_timer, self.state_of(case), timer,
                                         self.context(case.person_id))
            self.commit_transition(case, transition, cause=f"timer:{deadline.kind}")
        except Exception as exc:
            restore()
            if not isinstance(exc, TimerLoop):
                log.exception("timer %s of case-%s could not fire", deadline.kind, case.id)
            self.park_deadline(deadline)
            return exc
        return None

    def new_case(self, person_id: int, process: Process, key: str) -> CaseRecord:
        """A case record for a new case; it joins the casebook when its first transition is committed."""
        return CaseRecord(id=None, person_id=person_id, process=process.name, key=key, status="new",
                          waiting_for=None, waiting_since=None, late_since=None, opened_on=self.as_of,
                          updated_on=self.as_of, closed_on=None, version=1, stored_state=None)

    def commit_transition(self, case: CaseRecord, transition: Transition, cause: str) -> None:
        """Keep the transition's state and carry out its actions (written at the flush)."""
        self._remember(case)
        case.state = transition.state
        case.waiting_for = transition.waiting_for
        case.waiting_since = transition.waiting_since
        # Late by the process's own rule, or by a letter still held past its day: a transition
        # that does not end the hold does not end that lateness (issue 24).
        case.late_since = _earliest(transition.late_since, self._late_from_holds(case))
        case.updated_on = self.as_of
        status_changed = case.status != transition.status
        case.status = transition.status
        if case.stored_state is None and not case.changed:  # opened since the last flush
            self.new_cases.append(case)
            self.index_case(case)
        self._touch(case)
        if status_changed:
            self.add_row("case_status_history", {"case_id": case, "status": case.status, "on_date": self.as_of,
                                                 "cause": cause})
        for action in transition.actions:
            handler = _ACTIONS.get(type(action)) or _handler_of(action)
            handler(self, action, case)
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

    def _withdraw(self, action: Withdraw, case: CaseRecord) -> None:
        for letter in self._held_of(case):
            if letter.key == action.key:
                self._end_hold(letter, "withdrawn")

    def _alert(self, action: Alert, case: CaseRecord) -> None:
        data = jsonable(action.data)
        self._journal(case, "alert", action.type, data)
        self.alerts.append((case, action.type, data))

    def _payment(self, action: Payment, case: CaseRecord) -> None:
        self._journal(case, "payment", action.type, jsonable(action.data))

    def _open_deadline(self, action: OpenDeadline, case: CaseRecord) -> None:
        self._cancel_deadlines(case, action.kind)
        deadline = DeadlineRecord(None, case, action.kind, action.due, jsonable(action.data), "open", self.as_of,
                                  new=True)
        self.new_deadlines.append(deadline)
        self.add_deadline(deadline)

    def _cancel_deadline(self, action: CancelDeadline, case: CaseRecord) -> None:
        self._cancel_deadlines(case, action.kind)

    def _fact(self, action: Fact, case: CaseRecord) -> None:
        """Deliver a fact to every process of the person that takes it, now (one transaction)."""
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
                self.commit_transition(target, self.transition(process.on_fact, state, action, ctx),
                                       cause=f"fact:{type(action).__name__}")
        finally:
            self._fact_depth -= 1

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
            self.add_row("case_status_history", {"case_id": other, "status": other.status, "on_date": self.as_of,
                                                 "cause": f"journey_ended: {action.reason}"})

    def _ledger_entry(self, action: LedgerEntry, case: CaseRecord) -> None:
        """A row in the loan ledger and, for a payment, the payment order in the outbox. The
        order's idempotency key names the invoice case and the quarter, so the payment gateway
        pays an invoice at most once per quarter, however often it is sent."""
        self.add_row("loan_ledger", {
            "person_id": case.person_id, "case_id": case, "on_date": self.as_of, "entry": action.entry,
            "amount_cents": cents(action.amount), "loan_left_cents": cents(action.loan_left),
            "quarter": action.quarter, "invoice_number": action.invoice_number, "school": action.school,
        })
        if action.entry != "school_paid":
            return
        order = self.add_row("outbox", {
            "case_id": case, "letter_id": None, "channel": "payment", "created_on": self.as_of, "status": "pending",
            "attempts": 0, "idempotency_key": None,
            "payload": jsonable({"type": "school_paid", "school": action.school,
                                 "invoice_number": action.invoice_number, "amount": action.amount,
                                 "quarter": action.quarter}),
        })

        def fill_in() -> None:  # the key names the case, known once it has its id
            order.values["idempotency_key"] = f"school_paid:case-{case.id}:{action.quarter}"

        self.after_ids(fill_in)

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
        if not held and case.waiting_for is not None and _ON_HOLD not in case.waiting_for \
                and not case.waiting_for.startswith(_ONLY_ON_HOLD):
            return  # nothing held and nothing shown as held (most cases): as it is
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

    def _late_from_holds(self, case: CaseRecord) -> dt.date | None:
        """The first late day of the case's letters still held past their day, if any."""
        return min((h.late_from for h in self._held_of(case) if h.late_from), default=None)

    def _release(self, letter: HeldRecord) -> None:
        case = letter.case
        late_from_holds = self._late_from_holds(case)
        self._send(case, letter.kind, letter.type, letter.recipient, letter.data)
        self._end_hold(letter, "sent")
        remaining = self._held_of(case)
        if case.late_since is not None and case.late_since == late_from_holds:  # late only because held
            case.late_since = self._late_from_holds(case)
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
        """What the casebook holds for one person now; the function returned puts it back, so an
        event or timer that fails half-way leaves no trace and the rest goes on."""
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

    def add_row(self, table: str, values: dict[str, Any]) -> NewRow:
        """A row for `table`, inserted at the flush (see NewRow for references)."""
        row = NewRow(table, values)
        self.new_rows.setdefault(table, []).append(row)
        return row

    def after_ids(self, fill_in: Callable[[], None]) -> None:
        """Run `fill_in` at the flush, once every case and new row has its id."""
        self._after_ids.append(fill_in)

    def record_outcome(self, inbox_id: int, status: str, reason: str | None = None,
                       case: CaseRecord | None = None) -> None:
        """What became of a received event (applied, rejected, error), written at the flush.
        A reason may quote the event (an invoice number, a part): any BSN in it is masked."""
        self.inbox_outcomes.append((inbox_id, status, redact_bsn(reason) if reason else reason, case))

    def _journal(self, case: CaseRecord, kind: str, type_: str, data: dict) -> NewRow:
        self.journal[(kind, type_)] += 1
        return self.add_row("journal", {"case_id": case, "person_id": case.person_id, "on_date": self.as_of,
                                        "kind": kind, "type": type_, "data": data})

    def _send(self, case: CaseRecord, kind: str, type_: str, to: str, data: dict) -> None:
        """A letter, e-mail or notice goes out today: journal, letter and outbox row."""
        person = self.people[case.person_id].facts
        if kind == "email" and to == "person" and not person.email_known:
            kind = "letter"  # no e-mail address known: the same message goes by post
        entry = self._journal(case, kind, type_, data)
        recipient = person.name if to == "person" else str(data.get("school", "school"))
        # Kept as template and data (the journal entry's), rendered when sent (letters/stored.py).
        letter = self.add_row("letters", {"journal_id": entry, "case_id": case, "recipient": to, "kind": kind,
                                          "type": type_, "on_date": self.as_of,
                                          "template_version": template_version(), "recipient_name": recipient,
                                          "subject": "", "body": ""})
        self.add_row("outbox", {"case_id": case, "letter_id": letter, "channel": CHANNEL_BY_KIND[kind],
                                "payload": {}, "idempotency_key": ordered_key(), "status": "pending",
                                "attempts": 0, "created_on": self.as_of})

    # ---- the flush ------------------------------------------------------------------------------

    def give_ids(self, allocate: Callable[[dict[str, int]], dict[str, list[int]]]) -> None:
        """Every new case and row gets its id (`allocate` hands out `counts[table]` ids a table),
        then what waited for ids is filled in. New deadlines and held letters become rows."""
        new_deadlines = [(d, self.add_row("deadlines", {
            "case_id": d.case, "kind": d.kind, "due_on": d.due_on, "data": d.data, "state": d.state,
            "opened_on": d.opened_on, "closed_on": d.closed_on})) for d in self.new_deadlines]
        new_held = [(h, self.add_row("held_letters", {
            "case_id": h.case, "kind": h.kind, "type": h.type, "recipient": h.recipient, "data": h.data,
            "key": h.key, "held_on": h.held_on, "due_by": h.due_by, "overdue_alert": h.overdue_alert,
            "overdue_data": h.overdue_data, "alerted_on": h.alerted_on, "closes_case": h.closes_case,
            "state": h.state, "closed_on": h.closed_on})) for h in self.new_held]
        ids = allocate({"cases": len(self.new_cases)} | {table: len(rows) for table, rows in self.new_rows.items()})
        for case, new_id in zip(self.new_cases, ids.get("cases", ())):
            case.id = new_id
            self.case_by_id[new_id] = case
        for table, rows in self.new_rows.items():
            for row, new_id in zip(rows, ids.get(table, ())):
                row.id = new_id
        for record, row in (*new_deadlines, *new_held):
            record.id = row.id
        for fill_in in self._after_ids:
            fill_in()

    def case_values(self, case: CaseRecord) -> dict[str, Any]:
        return {"id": case.id, "person_id": case.person_id, "process": case.process, "key": case.key,
                "status": case.status, "waiting_for": case.waiting_for, "waiting_since": case.waiting_since,
                "late_since": case.late_since,
                # defaults left out: parsing gives them back (the cases table 17 % smaller)
                "state": self.state_of(case).model_dump(mode="json", exclude_defaults=True),
                "opened_on": case.opened_on, "updated_on": case.updated_on, "closed_on": case.closed_on}

    def written(self) -> None:
        """After a flush: what was written is now as stored; keep only what is still open."""
        for case in self.new_cases:
            case.stored_state = ""  # written: a later transition updates it
        for case in (*self.new_cases, *self.dirty_cases):
            case.changed = False
            self.written_cases.add(case.id)
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

    def settle(self, keep: dict[str, list[dict[str, Any]]] | None = None) -> None:
        """The flush of a casebook used on its own (tests, the benchmark): ids handed out in
        memory, the new rows added to `keep` by table (resolved: ids, not records), if given."""
        self.give_ids(self._count_ids)
        if keep is not None:
            for table, rows in self.new_rows.items():
                keep.setdefault(table, []).extend(row.resolved() for row in rows)
        self.written()

    def _count_ids(self, counts: dict[str, int]) -> dict[str, list[int]]:
        last = self.__dict__.setdefault("_last_ids", {})
        ids = {}
        for table, count in counts.items():
            first = last.get(table, 0) + 1
            ids[table] = list(range(first, first + count))
            last[table] = first + count - 1
        return ids


def drive(book: Casebook, events: Iterable[tuple[int, Event]], first: dt.date, last: dt.date, *,
          keep: dict[str, list[dict[str, Any]]] | None = None) -> Counter:
    """A casebook on its own (tests, the benchmark) through the days from `first` to `last`
    that have something due, as the engine's day does it: the day's events in order, then the
    held letters overdue and the timers due, then the flush (`settle`, into `keep`). Skips the days with nothing due, like
    engine/driver.py. The people must be in the book. Returns the events' outcomes by status."""
    by_day: dict[dt.date, list[tuple[int, Event]]] = {}
    for person_id, event in events:
        by_day.setdefault(event.date, []).append((person_id, event))  # type: ignore[attr-defined]
    event_days = sorted(day for day in by_day if day >= first)
    outcomes: Counter = Counter()
    day: dt.date | None = first
    while day is not None and day <= last:
        book.on_day(day, book.policy, book.held_types)
        book.release_holds(book.people, alert_overdue=False)
        for person_id, event in by_day.get(day, ()):
            outcomes[book.apply(person_id, event).status] += 1
        book.release_holds(book.people, alert_overdue=True)
        book.fire_due(book.people)
        book.settle(keep)
        while event_days and event_days[0] <= day:
            event_days.pop(0)
        upcoming = [d for d in (event_days[0] if event_days else None, book.next_due()) if d is not None]
        day = max(min(upcoming), day + dt.timedelta(days=1)) if upcoming else None
    return outcomes


# How each kind of action is carried out: one table, the only registration there is.
_ACTIONS: dict[type, Callable[[Casebook, Any, CaseRecord], None]] = {
    Communicate: Casebook._communicate,
    Withdraw: Casebook._withdraw,
    Alert: Casebook._alert,
    Payment: Casebook._payment,
    OpenDeadline: Casebook._open_deadline,
    CancelDeadline: Casebook._cancel_deadline,
    Fact: Casebook._fact,
    EndJourney: Casebook._end_journey,
    LedgerEntry: Casebook._ledger_entry,
}


def _handler_of(action: Any) -> Callable[[Casebook, Any, CaseRecord], None]:
    """The handler of an action type not in the table itself: of its base (each Fact type)."""
    for base in type(action).__mro__[1:]:
        if base in _ACTIONS:
            _ACTIONS[type(action)] = _ACTIONS[base]
            return _ACTIONS[base]
    raise TypeError(f"no handler for action {action!r}")


def _earliest(*days: dt.date | None) -> dt.date | None:
    return min((day for day in days if day is not None), default=None)
