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
class Communicate:
    """Send a letter, e-mail or notice rendered from the template named `type`."""

    type: str
    data: Mapping[str, Any]
    kind: str = "letter"  # letter | email | notice
    to: str = "person"  # person | school


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


Action = Communicate | Alert | Payment | OpenDeadline | CancelDeadline


# ---- inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonFacts:
    """What a process may know of a person. No BSN: rules never need it."""

    ref: str
    name: str
    born: dt.date | None


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
    # Letter types a process owner has put on hold today (e.g. mail gateway down).
    held_letters: frozenset[str] = frozenset()

    def case(self, process: str, key: str = "") -> Any:
        return self.cases.get((process, key))

    def is_held(self, letter_type: str) -> bool:
        return letter_type in self.held_letters or "*" in self.held_letters


class State(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
