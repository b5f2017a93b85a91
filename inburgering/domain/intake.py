"""Intake: the start letter once BSN, residence permit and municipal registration are in.

Rules (shared/domain.md §1):
- the three prerequisites arrive in any order; the letter goes out once the last is in;
- the regime follows the start of the obligation: before 2013 → old regime (referred to
  the municipality), 2013–2021 → Wi2013, from 2022 → Wi2021; voluntary integration has
  no obligation and no term;
- the start date is the start of the obligation (the permit date unless given), not the
  letter date; Wi2013 term: 3 years from the start; Wi2021: 3 years from the day after
  the first PIP;
- the letter may take up to 8 weeks after the last prerequisite: past that a process
  owner sees `start_letter_overdue` (it fires when letters are on hold).
"""

from __future__ import annotations

import datetime as dt

from inburgering.domain import calendar
from inburgering.domain.events import (
    BsnRegistered,
    Event,
    MunicipalityRegistered,
    PipEstablished,
    ResidencePermitGranted,
)
from inburgering.domain.process import (
    Alert,
    CancelDeadline,
    Communicate,
    Context,
    EventRejected,
    OpenDeadline,
    Process,
    State,
    Timer,
    Transition,
)

WI2013_FROM = dt.date(2013, 1, 1)
WI2021_FROM = dt.date(2022, 1, 1)

PREREQUISITES = {
    "residence_permit": "residence permit",
    "bsn": "BSN",
    "municipal_registration": "municipal registration (BRP)",
}


def regime_for(obligation_start: dt.date, voluntary: bool = False) -> str:
    """The law that applies, from the day the obligation began."""
    if voluntary:
        return "voluntary"
    if obligation_start < WI2013_FROM:
        return "old"
    if obligation_start < WI2021_FROM:
        return "wi2013"
    return "wi2021"


class IntakeState(State):
    opened_on: dt.date
    received: dict[str, dt.date] = {}  # prerequisite -> day it was registered
    obligation_start: dt.date | None = None
    voluntary: bool = False
    municipality: str | None = None
    complete_on: dt.date | None = None
    regime: str | None = None
    start_date: dt.date | None = None
    term_end: dt.date | None = None
    start_letter_on: dt.date | None = None
    letter_held_since: dt.date | None = None
    overdue_alerted_on: dt.date | None = None
    pip_on: dt.date | None = None
    route: str | None = None

    def missing(self) -> list[str]:
        return [p for p in PREREQUISITES if p not in self.received]


def wi2013_term_end(start: dt.date, ctx: Context) -> dt.date:
    years = ctx.policy.value("wi2013_term_years", start)
    return calendar.statutory_term_end(calendar.add_years(start, years))


def wi2021_term_end(pip_on: dt.date, ctx: Context) -> dt.date:
    years = ctx.policy.value("wi2021_term_years", pip_on)
    return calendar.statutory_term_end(calendar.add_years(pip_on + dt.timedelta(days=1), years))


def start_letter_due_by(state: IntakeState, ctx: Context) -> dt.date:
    """The last day the start letter is on time: 8 weeks after the last prerequisite."""
    assert state.complete_on is not None
    return state.complete_on + dt.timedelta(days=ctx.policy.value("start_letter_max_days", state.complete_on))


class IntakeProcess(Process):
    name = "intake"
    state_model = IntakeState
    event_types = ("residence_permit_granted", "bsn_registered", "municipality_registered", "pip_established")

    def opens_case(self, event: Event) -> bool:
        return not isinstance(event, PipEstablished)

    def no_case_reason(self, event: Event) -> str:
        return "a PIP can only be set for a person whose intake has started (no permit, BSN or registration yet)"

    def new_state(self, event: Event, ctx: Context) -> IntakeState:
        return IntakeState(opened_on=event.date)

    def on_event(self, state: IntakeState, event: Event, ctx: Context) -> Transition:
        state = state.copy_to_change()
        if isinstance(event, PipEstablished):
            return self._pip(state, event, ctx)
        if isinstance(event, ResidencePermitGranted):
            self._record(state, "residence_permit", event.date)
            start = event.obligation_start or event.date
            if regime_for(start, event.voluntary) == "old":
                raise EventRejected(
                    f"the obligation started on {start.isoformat()}, before 2013-01-01: the old regime "
                    "applies and the municipality handles this person, not DUO"
                )
            state.obligation_start = start
            state.voluntary = event.voluntary
        elif isinstance(event, BsnRegistered):
            self._record(state, "bsn", event.date)
        elif isinstance(event, MunicipalityRegistered):
            if "municipal_registration" in state.received:
                # A move to another municipality after registration: keep the first date.
                state.municipality = event.municipality
                return self._settle(state, ctx, [])
            self._record(state, "municipal_registration", event.date)
            state.municipality = event.municipality
        return self._settle(state, ctx, [])

    def on_timer(self, state: IntakeState, timer: Timer, ctx: Context) -> Transition:
        state = state.copy_to_change()
        actions = []
        if timer.kind == "start_letter_overdue" and state.start_letter_on is None:
            state.overdue_alerted_on = ctx.today
            actions.append(Alert("start_letter_overdue", {
                "complete_on": state.complete_on,
                "due_by": start_letter_due_by(state, ctx),
                "days_late": (ctx.today - start_letter_due_by(state, ctx)).days,
            }))
        # "send_start_letter" (a retry while letters were held) needs nothing but _settle.
        return self._settle(state, ctx, actions)

    # -- rules ------------------------------------------------------------------------

    @staticmethod
    def _record(state: IntakeState, prerequisite: str, day: dt.date) -> None:
        if prerequisite in state.received:
            raise EventRejected(
                f"the {PREREQUISITES[prerequisite]} was already registered on "
                f"{state.received[prerequisite].isoformat()}"
            )
        state.received[prerequisite] = day

    def _settle(self, state: IntakeState, ctx: Context, actions: list) -> Transition:
        """Bring the case to where its facts put it: complete, letter, waiting."""
        if state.missing():
            missing = ", ".join(PREREQUISITES[p] for p in state.missing())
            return Transition(state, "waiting_for_prerequisites", f"{missing}", state.opened_on, actions)

        if state.complete_on is None:
            state.complete_on = max(state.received.values())
            assert state.obligation_start is not None
            state.regime = regime_for(state.obligation_start, state.voluntary)
            state.start_date = state.obligation_start
            if state.regime == "wi2013":
                state.term_end = wi2013_term_end(state.start_date, ctx)

        if state.start_letter_on is None:
            if ctx.is_held("start_letter"):
                return self._hold_letter(state, ctx, actions)
            state.start_letter_on = ctx.today
            if state.letter_held_since is not None:
                actions += [CancelDeadline("start_letter_overdue"), CancelDeadline("send_start_letter")]
            actions.append(Communicate("start_letter", {
                "regime": state.regime,
                "start_date": state.start_date,
                "term_end": state.term_end,
                "municipality": state.municipality,
            }))

        if state.regime == "wi2021" and state.pip_on is None:
            return Transition(state, "waiting_for_pip", "PIP from the municipality", state.start_letter_on, actions)
        return Transition(state, "started", None, None, actions)

    def _hold_letter(self, state: IntakeState, ctx: Context, actions: list) -> Transition:
        """Letters are on hold: try again tomorrow; the 8-week clock keeps running."""
        due_by = start_letter_due_by(state, ctx)
        if state.letter_held_since is None:
            state.letter_held_since = ctx.today
            actions.append(OpenDeadline("start_letter_overdue", due_by + dt.timedelta(days=1)))
        actions.append(OpenDeadline("send_start_letter", ctx.today + dt.timedelta(days=1)))
        late_since = due_by + dt.timedelta(days=1) if ctx.today > due_by else None
        return Transition(state, "start_letter_held", "start letter (letters on hold)", state.complete_on,
                          actions, late_since=late_since)

    def _pip(self, state: IntakeState, event: PipEstablished, ctx: Context) -> Transition:
        if state.regime is not None and state.regime != "wi2021":
            raise EventRejected(f"a PIP is set only under Wi2021; this person integrates under {state.regime}")
        if state.regime is None:
            raise EventRejected("a PIP can be set once the start letter's prerequisites are all registered")
        actions = []
        if state.pip_on is None:
            state.pip_on = event.date
            state.term_end = wi2021_term_end(event.date, ctx)
            actions.append(Communicate("term_established", {
                "route": event.route, "pip_on": event.date, "term_end": state.term_end,
            }))
        state.route = event.route
        return self._settle(state, ctx, actions)
