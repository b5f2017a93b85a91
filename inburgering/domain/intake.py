"""Intake: the start letter once BSN, residence permit and municipal registration are in.

Rules (shared/domain.md §1):
- the three prerequisites arrive in any order; the letter goes out once the last is in;
- who is obligated, from when and under which law is the journey's rule
  (`journey.obligation`): intake applies it when the residence permit is registered and
  tells the journey (`ObligationKnown`). Before 2013 → old regime (referred to the
  municipality); voluntary integration has no obligation and no term; past state-pension
  age there is no obligation: the person gets the `not_obligated` letter ⚠ instead of a
  start letter; a minor's obligation starts on the 18th birthday: the start letter waits
  for that day;
- who the person is (`category` on the residence permit: asylum | family | other; absent:
  not known) goes to the journey with the obligation;
- the start date is the start of the obligation (the permit date unless given), not the
  letter date; Wi2013 term: 3 years from the start; Wi2021: 3 years from the day after
  the first PIP;
- the letter may take up to 8 weeks after the last prerequisite (or the start of a
  minor's obligation): held past that, process owners see `start_letter_overdue`.
"""

from __future__ import annotations

import datetime as dt

from inburgering.domain import calendar, journey
from inburgering.domain.events import (
    BsnRegistered,
    Event,
    MunicipalityRegistered,
    PipEstablished,
    ResidencePermitGranted,
)
from inburgering.domain.journey import ObligationKnown, RouteSet, regime_for
from inburgering.domain.term import TermStarted
from inburgering.domain.process import (
    Communicate,
    Context,
    EventRejected,
    OpenDeadline,
    Overdue,
    Process,
    State,
    Timer,
    Transition,
)

OBLIGATION_STARTS = "obligation_starts"  # timer: a minor's 18th birthday

PREREQUISITES = {
    "residence_permit": "residence permit",
    "bsn": "BSN",
    "municipal_registration": "municipal registration (BRP)",
}


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
    obligated: bool = True
    not_obligated_reason: str | None = None
    start_letter_on: dt.date | None = None
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
    """The last day the start letter is on time: 8 weeks after the last prerequisite (or
    after the start of a minor's obligation, when that comes later)."""
    assert state.complete_on is not None and state.obligation_start is not None
    since = max(state.complete_on, state.obligation_start)
    return since + dt.timedelta(days=ctx.policy.value("start_letter_max_days", since))


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
        actions: list = []
        if isinstance(event, ResidencePermitGranted):
            self._record(state, "residence_permit", event.date)
            start = event.obligation_start or event.date
            if regime_for(start, event.voluntary) == "old":
                raise EventRejected(
                    f"the obligation started on {start.isoformat()}, before 2013-01-01: the old regime "
                    "applies and the municipality handles this person, not DUO"
                )
            found = journey.obligation(start, event.voluntary, ctx.person.born, ctx.policy)
            state.obligation_start, state.voluntary, state.regime = found.start, event.voluntary, found.regime
            state.obligated, state.not_obligated_reason = found.obligated, found.reason
            actions.append(ObligationKnown(found.regime, found.start, found.obligated, found.reason, event.category))
        elif isinstance(event, BsnRegistered):
            self._record(state, "bsn", event.date)
        elif isinstance(event, MunicipalityRegistered):
            if "municipal_registration" in state.received:
                # A move to another municipality after registration: keep the first date.
                state.municipality = event.municipality
                return self._settle(state, ctx, actions)
            self._record(state, "municipal_registration", event.date)
            state.municipality = event.municipality
        return self._settle(state, ctx, actions)

    def on_timer(self, state: IntakeState, timer: Timer, ctx: Context) -> Transition:
        # OBLIGATION_STARTS (and the retries of stored cases from before holds were the
        # engine's: send_start_letter, start_letter_overdue) need nothing but _settle.
        return self._settle(state.copy_to_change(), ctx, [])

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
            state.start_date = state.obligation_start
            if not state.obligated and not state.voluntary:
                # ⚠ no obligation (past state-pension age): told so, no start letter and no term
                actions.append(Communicate("not_obligated", {
                    "reason": state.not_obligated_reason, "municipality": state.municipality}))
                return Transition(state, "not_obligated", None, None, actions, closed=True)
            if state.regime == "wi2013":
                state.term_end = wi2013_term_end(state.start_date, ctx)

        if state.start_letter_on is None:
            if state.obligation_start > ctx.today:  # a minor: the obligation starts on the 18th birthday
                actions.append(OpenDeadline(OBLIGATION_STARTS, state.obligation_start))
                return Transition(state, "waiting_for_obligation_start",
                                  f"the 18th birthday: the obligation starts on {state.obligation_start.isoformat()}",
                                  state.complete_on, actions)
            state.start_letter_on = ctx.today
            due_by = start_letter_due_by(state, ctx)
            actions.append(Communicate("start_letter", {
                "regime": state.regime,
                "start_date": state.start_date,
                "term_end": state.term_end,
                "municipality": state.municipality,
            }, overdue=Overdue(due_by, "start_letter_overdue", {"complete_on": state.complete_on})))
            if state.term_end is not None:  # Wi2013: the letter states the term
                actions.append(TermStarted(state.regime, state.start_date, state.term_end))

        if state.regime == "wi2021" and state.pip_on is None:
            return Transition(state, "waiting_for_pip", "PIP from the municipality", state.start_letter_on, actions)
        return Transition(state, "started", None, None, actions)

    def _pip(self, state: IntakeState, event: PipEstablished, ctx: Context) -> Transition:
        if state.regime is not None and state.regime != "wi2021":
            raise EventRejected(f"a PIP is set only under Wi2021; this person integrates under {state.regime}")
        if state.complete_on is None:
            raise EventRejected("a PIP can be set once the start letter's prerequisites are all registered")
        actions = []
        if state.pip_on is None:
            state.pip_on = event.date
            state.term_end = wi2021_term_end(event.date, ctx)
            actions.append(Communicate("term_established", {
                "route": event.route, "pip_on": event.date, "term_end": state.term_end,
            }))
            if state.obligated:
                actions.append(TermStarted(state.regime, event.date + dt.timedelta(days=1), state.term_end))
        state.route = event.route
        if state.obligated:  # the journey counts the pieces of this route; the term stays (Wi2021 art. 11 lid 3)
            actions.append(RouteSet(event.route))
        return self._settle(state, ctx, actions)
