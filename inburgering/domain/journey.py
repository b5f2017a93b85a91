"""The journey: one person's civic-integration obligation, owned in one place.

Whether a person is obligated, since when, under which law, whether and when the
obligation was met, and whether the journey ended, is one fact every process reads
(`Context.journey`), never re-derived by each (architecture.md §10). It lives in the
person's `journey` case, which changes only through this module:

- **Facts** from the other processes: intake tells who is obligated from when
  (`ObligationKnown`, computed by `obligation()` below when the residence permit is
  registered); exams tell the diploma (`DiplomaObtained`); the exemption tells an AGI
  exemption granted (`ExemptionGranted`). The journey answers with `ObligationMet`,
  which the term and the loan take.
- **Events**: `participation_statement_signed` (the municipality; Wi2013 obligations
  from `wi2013_pvt_required_from` need it before the diploma meets the obligation) and
  `journey_ended` (emigrated | died | naturalised | permit_withdrawn): every open case of
  the person closes, their deadlines are cancelled, nothing more is sent, and the engine
  rejects every later event of the person with the reason.

Who is obligated (domain.md §1; Wi2013 art. 3, Wi2021 art. 3):
- the regime follows the day the obligation began: before 2013-01-01 the old regime (the
  municipality, not DUO), 2013–2021 Wi2013, from 2022-01-01 Wi2021; `voluntary: true`
  is voluntary integration (no obligation, no term, no fine);
- only people from 18 to state-pension (AOW) age on the day the obligation would start
  (`aow_age_months`, by year): past AOW age there is no obligation (a voluntary route
  stays possible); ⚠ a minor becomes obligated on their 18th birthday, which is then the
  start of the obligation (and decides the regime);
- ⚠ without a birth date the person is taken to be obligated.

Met: a diploma (with, where required, the participation statement: met on the later of
the two days), or an exemption granted — the AGI, or one of the forms' exemptions (medical,
integrated, vrijstelling: domain/form_exemption.py), also when granted on objection.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from inburgering.domain import calendar
from inburgering.domain.events import Event, JourneyEnded, ParticipationStatementSigned
from inburgering.domain.policy import Policy
from inburgering.domain.process import (
    Context,
    EndJourney,
    EventRejected,
    Fact,
    Process,
    State,
    Transition,
)

WI2013_FROM = dt.date(2013, 1, 1)
WI2021_FROM = dt.date(2022, 1, 1)
ADULT_YEARS = 18
OBLIGATED_REGIMES = ("wi2013", "wi2021")

MET_BY_WORDS = {"diploma": "with the diploma", "agi_exemption": "by the AGI exemption",
                "medical": "by the exemption on medical grounds", "integrated": "by the exemption as sufficiently "
                "integrated", "vrijstelling": "by the vrijstelling (a Dutch diploma)"}
ENDED_WORDS = {"emigrated": "emigrated", "died": "died", "naturalised": "naturalised",
               "permit_withdrawn": "residence permit withdrawn"}


# ---- who is obligated: plain rules ------------------------------------------------------------


def regime_for(obligation_start: dt.date, voluntary: bool = False) -> str:
    """The law that applies, from the day the obligation began."""
    if voluntary:
        return "voluntary"
    if obligation_start < WI2013_FROM:
        return "old"
    if obligation_start < WI2021_FROM:
        return "wi2013"
    return "wi2021"


def has_aow_age(born: dt.date | None, on: dt.date, policy: Policy) -> bool:
    """Whether a person born on `born` has reached state-pension (AOW) age on `on`."""
    if born is None:
        return False
    return calendar.add_months(born, policy.value("aow_age_months", on)) <= on


def adult_on(born: dt.date) -> dt.date:
    """The 18th birthday (29 February counts on 28 February in a common year)."""
    return calendar.add_years(born, ADULT_YEARS)


@dataclass(frozen=True)
class Obligation:
    """What the start of a person's obligation comes to."""

    regime: str  # wi2013 | wi2021 | voluntary | old
    start: dt.date  # the day the obligation starts (a minor's 18th birthday)
    obligated: bool
    reason: str | None = None  # why there is no obligation: voluntary | state_pension_age


def obligation(permit_start: dt.date, voluntary: bool, born: dt.date | None, policy: Policy) -> Obligation:
    """The obligation that starts with a residence permit (or its stated obligation start)."""
    if voluntary:
        return Obligation("voluntary", permit_start, obligated=False, reason="voluntary")
    start = permit_start
    if born is not None and adult_on(born) > start:
        start = adult_on(born)  # ⚠ a minor: obligated from the 18th birthday
    regime = regime_for(start)
    if born is not None and has_aow_age(born, start, policy):
        return Obligation(regime, start, obligated=False, reason="state_pension_age")
    return Obligation(regime, start, obligated=regime in OBLIGATED_REGIMES)


# ---- facts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObligationKnown(Fact):
    """Intake, when the residence permit is registered: the obligation as `obligation()` found it."""

    regime: str
    start: dt.date
    obligated: bool
    reason: str | None


@dataclass(frozen=True)
class DiplomaObtained(Fact):
    on: dt.date


@dataclass(frozen=True)
class ExemptionGranted(Fact):
    """An exemption granted (also on objection): the AGI, or one of the forms' exemptions."""

    on: dt.date
    by: str = "agi_exemption"  # agi_exemption | medical | integrated | vrijstelling


@dataclass(frozen=True)
class ObligationMet(Fact):
    on: dt.date
    by: str  # diploma | agi_exemption | medical | integrated | vrijstelling


# ---- the journey case -------------------------------------------------------------------------


class JourneyState(State):
    regime: str | None = None
    obligation_start: dt.date | None = None
    obligated: bool = False
    not_obligated_reason: str | None = None
    pvt_required: bool = False
    pvt_signed_on: dt.date | None = None
    diploma_on: dt.date | None = None
    met_on: dt.date | None = None
    met_by: str | None = None  # diploma | agi_exemption | medical | integrated | vrijstelling
    ended_on: dt.date | None = None
    ended_reason: str | None = None

    @property
    def voluntary(self) -> bool:
        return self.regime == "voluntary"

    def diploma_meets_obligation(self) -> bool:
        """A diploma now would meet the obligation (no participation statement outstanding)."""
        return self.obligated and (not self.pvt_required or self.pvt_signed_on is not None)

    def met_words(self) -> str:
        how = MET_BY_WORDS.get(self.met_by or "", self.met_by)
        return f"the integration obligation was met on {self.met_on.isoformat()} ({how})" if self.met_on else ""

    def ended_words(self) -> str:
        reason = ENDED_WORDS.get(self.ended_reason or "", self.ended_reason)
        return f"the integration journey ended on {self.ended_on.isoformat()} ({reason})" if self.ended_on else ""


class JourneyProcess(Process):
    name = "journey"
    state_model = JourneyState
    event_types = ("participation_statement_signed", "journey_ended")
    facts = (ObligationKnown, DiplomaObtained, ExemptionGranted)

    def new_state(self, event: Event, ctx: Context) -> JourneyState:
        return JourneyState()

    def new_state_for_fact(self, fact: Fact, ctx: Context) -> JourneyState:
        return JourneyState()

    def fact_case_key(self, fact: Fact, ctx: Context) -> str:
        return ""

    # ---- events -----------------------------------------------------------------------------

    def on_event(self, state: JourneyState, event: Event, ctx: Context) -> Transition:
        state = state.copy_to_change()
        if isinstance(event, JourneyEnded):
            state.ended_on, state.ended_reason = event.date, event.reason
            return self._settle(state, [EndJourney(event.date, event.reason)])
        assert isinstance(event, ParticipationStatementSigned)
        if state.pvt_signed_on is not None:
            raise EventRejected(f"the participation statement was already signed on {state.pvt_signed_on.isoformat()}")
        if not state.pvt_required:
            raise EventRejected(_pvt_not_needed(state, ctx))
        state.pvt_signed_on = event.date
        return self._settle(state, self._met_if_complete(state, ctx))

    # ---- facts ------------------------------------------------------------------------------

    def on_fact(self, state: JourneyState, fact: Fact, ctx: Context) -> Transition:
        state = state.copy_to_change()
        actions: list = []
        if isinstance(fact, ObligationKnown):
            state.regime, state.obligation_start = fact.regime, fact.start
            state.obligated, state.not_obligated_reason = fact.obligated, fact.reason
            state.pvt_required = fact.regime == "wi2013" and fact.start >= ctx.policy.value(
                "wi2013_pvt_required_from", fact.start)
        elif isinstance(fact, DiplomaObtained):
            state.diploma_on = fact.on
            actions = self._met_if_complete(state, ctx)
        elif isinstance(fact, ExemptionGranted) and state.obligated and state.met_on is None:
            state.met_on, state.met_by = fact.on, fact.by
            actions = [ObligationMet(fact.on, fact.by)]
        return self._settle(state, actions)

    @staticmethod
    def _met_if_complete(state: JourneyState, ctx: Context) -> list:
        if state.met_on is None and state.diploma_on is not None and state.diploma_meets_obligation():
            state.met_on, state.met_by = ctx.today, "diploma"
            return [ObligationMet(ctx.today, "diploma")]
        return []

    @staticmethod
    def _settle(state: JourneyState, actions: list) -> Transition:
        if state.ended_on is not None:
            return Transition(state, f"ended: {state.ended_reason}", None, None, actions, closed=True)
        if state.met_on is not None:
            return Transition(state, "obligation_met", actions=actions)
        if state.obligated and state.diploma_on is not None:
            return Transition(state, "waiting_for_participation_statement",
                              "the participation statement (PVT) from the municipality", state.diploma_on, actions)
        if state.obligated:
            return Transition(state, "obligated", actions=actions)
        return Transition(state, state.not_obligated_reason or "not_obligated", actions=actions)


def _pvt_not_needed(state: JourneyState, ctx: Context) -> str:
    if state.regime is None:
        return "no obligation is known for this person yet (no residence permit registered), so no participation " \
               "statement is needed"
    if state.regime != "wi2013":
        return f"a participation statement is part of the Wi2013 only; this person integrates under {state.regime}"
    required_from = ctx.policy.value("wi2013_pvt_required_from", state.obligation_start)
    return (f"a participation statement is needed only when the obligation started on or after "
            f"{required_from.isoformat()}; this person's started on {state.obligation_start.isoformat()}")


def refusal_after_journey(journey: JourneyState, what: str) -> str | None:
    """Why `what` (e.g. "an exam registration") is refused because the obligation was met;
    None when it was not."""
    if journey.met_on is not None:
        return f"{journey.met_words()}: {what} is no longer possible"
    return None
