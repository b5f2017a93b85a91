"""The shape every process has: a pure state machine.

    (case state, event or timer, policy, today) -> (new state, actions)

A process never does I/O and never reads the clock: `Context.today` is the day
being processed. It returns a `Transition` or raises `EventRejected` with a reason
a person can act on. Actions are data; the engine carries them out.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict

from inburgering.domain.events import Event
from inburgering.domain.policy import Policy


class EventRejected(Exception):
    """The event is refused; nothing changes. `reason` is shown to people."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ---- actions: what a transition asks the engine to do ---------------------------------


@dataclass(frozen=True)
class Overdue:
    """When a letter is late: if it is still on hold after `due_by`, process owners get the
    alert `alert` (with `data`) the next day, and the case counts as late until it goes."""

    due_by: dt.date
    alert: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Communicate:
    """Send a letter, e-mail or notice rendered from the template named `type`.

    Letters on hold are the engine's business, not the process's: a communication of a type
    a process owner holds is kept with the case and goes out with the first ingest or monitor
    run after the release (`overdue` says when that is too late). `key` names it, so a held
    one can be taken back (`Withdraw`) and a process can ask whether it still waits
    (`Context.letter_waiting`)."""

    type: str
    data: Mapping[str, Any]
    kind: str = "letter"  # letter | email | notice
    to: str = "person"  # person | school
    key: str | None = None
    overdue: Overdue | None = None


@dataclass(frozen=True)
class Withdraw:
    """Take back a communication that still waits in a hold (nothing happens if it went out)."""

    key: str


@dataclass(frozen=True)
class Alert:
    """Tell process owners something is late or needs attention."""

    type: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Payment:
    """Money moves (or is deferred): recorded in the ledger and on the timeline."""

    type: str  # school_paid | payment_deferred | ...
    data: Mapping[str, Any]


@dataclass(frozen=True)
class OpenDeadline:
    """A durable timer: fires on `due` (replaces an open deadline of the same kind)."""

    kind: str
    due: dt.date
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CancelDeadline:
    kind: str


class Fact:
    """Something a process tells the person's other processes (a diploma, the obligation met,
    a term opened). Facts are actions: the engine delivers each, in the same transaction, to
    every process that lists its type in `Process.facts` (see `Process.on_fact`)."""


@dataclass(frozen=True)
class EndJourney:
    """The person's journey ended: the engine closes every other open case of the person,
    cancels their deadlines and withdraws their held letters; nothing more is sent."""

    on: dt.date
    reason: str


Action = Communicate | Withdraw | Alert | Payment | OpenDeadline | CancelDeadline | Fact | EndJourney


# ---- inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonFacts:
    """What a process may know of a person. No BSN: rules never need it."""

    ref: str
    name: str
    born: dt.date | None
    email_known: bool = True  # without an e-mail address, what would be e-mailed goes by post


@dataclass(frozen=True)
class Timer:
    kind: str
    due: dt.date
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Context:
    today: dt.date
    policy: Policy
    person: PersonFacts
    # The person's other cases, by (process, key): read-only states.
    cases: Mapping[tuple[str, str], BaseModel] = field(default_factory=dict)
    # Keys of the person's communications that wait in a hold (see Communicate.key).
    held_keys: frozenset[str] = frozenset()

    def case(self, process: str, key: str = "") -> Any:
        return self.cases.get((process, key))

    def cases_of(self, process: str) -> dict[str, Any]:
        """The person's cases of one process by key (only those states are read)."""
        return {key: self.cases[(name, key)] for name, key in self.cases if name == process}

    @property
    def journey(self) -> Any:
        """The one fact every process reads: whether and since when the person is obligated,
        and whether the obligation was met or the journey ended (domain/journey.py)."""
        from inburgering.domain.journey import JourneyState

        return self.case("journey") or JourneyState()

    def letter_waiting(self, key: str) -> bool:
        """Whether the communication with this key waits in a hold (not sent yet)."""
        return key in self.held_keys


class State(BaseModel):
    # Stored states outlive the code that wrote them: a field a later version dropped is ignored.
    model_config = ConfigDict(extra="ignore")

    def copy_to_change(self) -> Self:
        """A deep copy the transition may change, leaving the state it was given as it was.
        Dumped and validated again: pydantic does that in Rust, 4–7× faster than `deepcopy`
        (`model_copy(deep=True)`) on our states — it was the largest cost of applying an event."""
        return self.model_validate(self.model_dump())


@dataclass
class Transition:
    state: State
    status: str
    # What the case waits for, in words a process owner reads, and since when.
    waiting_for: str | None = None
    waiting_since: dt.date | None = None
    actions: list[Action] = field(default_factory=list)
    # Set while the case is late by a rule (an SLA or a statutory term passed).
    late_since: dt.date | None = None
    closed: bool = False


class Process(ABC):
    """One kind of journey step. Subclasses are stateless; state lives in the case."""

    name: ClassVar[str]
    state_model: ClassVar[type[State]]
    event_types: ClassVar[tuple[str, ...]]

    def handles(self, event: Event) -> bool:
        return event.type in self.event_types  # type: ignore[attr-defined]

    def takes(self, event: Event, ctx: Context) -> bool:
        """Whether this process takes an event of a type it handles, given the person's cases
        (only asked when another process handles the type too; see registry.process_for)."""
        return True

    def case_key(self, event: Event, ctx: Context) -> str:
        """Which of the person's cases of this process the event belongs to.

        `ctx.cases` holds the person's open and closed cases, so an event that names
        only part of a key (an invoice number) can find its case."""
        return ""

    def opens_case(self, event: Event) -> bool:
        """Whether the event may start a new case when none is open."""
        return True

    def no_case_reason(self, event: Event) -> str:
        return f"there is no {self.name} case for this person that a {event.type} event could belong to"

    @abstractmethod
    def new_state(self, event: Event, ctx: Context) -> State: ...

    @abstractmethod
    def on_event(self, state: State, event: Event, ctx: Context) -> Transition: ...

    def on_timer(self, state: State, timer: Timer, ctx: Context) -> Transition:
        raise NotImplementedError(f"{self.name} has no timer {timer.kind}")

    # ---- facts from the person's other processes ------------------------------------------

    # The fact types this process takes (see `Fact`); the engine delivers nothing else.
    facts: ClassVar[tuple[type, ...]] = ()

    def fact_case_key(self, fact: Fact, ctx: Context) -> str | None:
        """The case a fact goes to; None: this person has no case of this process it concerns."""
        return "" if ctx.case(self.name) is not None else None

    def new_state_for_fact(self, fact: Fact, ctx: Context) -> State | None:
        """A new case a fact opens, or None (the fact is ignored without a case)."""
        return None

    def on_fact(self, state: State, fact: Fact, ctx: Context) -> Transition:
        raise NotImplementedError(f"{self.name} takes no fact {type(fact).__name__}")
