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
- **Who the person is** (`category`: asylum | family | other, from the residence permit;
  absent: unknown, treated as other — domain.md §1): it decides the loan (invoicing) and
  what follows a missed term (the Keren rule, term.py).
- **Events** from the municipality: `participation_statement_signed` (the PVT: Wi2013
  obligations from `wi2013_pvt_required_from` need it before the diploma; every Wi2021
  obligation), `map_completed` (Wi2021) and `route_completed` (Wi2021 onderwijs- or Z-route,
  only the route the PIP sets); and `journey_ended` (emigrated | died | naturalised |
  permit_withdrawn): every open case of the person closes, their deadlines are cancelled,
  nothing more is sent, and the engine rejects every later event of the person with the reason.
- **Facts** also from intake (`RouteSet`: the PIP's route, set again or not) and the term
  (`ObligationEnded`: state-pension age reached during the term).

Who is obligated (domain.md §1; Wi2013 art. 3, Wi2021 art. 3):
- the regime follows the day the obligation began: before 2013-01-01 the old regime (the
  municipality, not DUO), 2013–2021 Wi2013, from 2022-01-01 Wi2021; `voluntary: true`
  is voluntary integration (no obligation, no term, no fine);
- only people from 18 to state-pension (AOW) age on the day the obligation would start
  (`aow_age_months`, by year): past AOW age there is no obligation (a voluntary route
  stays possible); ⚠ a minor becomes obligated on their 18th birthday, which is then the
  start of the obligation (and decides the regime);
- ⚠ without a birth date the person is taken to be obligated.

Met (on the day the last piece arrives), or an exemption granted — the AGI, or one of the
forms' exemptions (medical, integrated, vrijstelling: domain/form_exemption.py), also when
granted on objection. A Wi2021 obligation met by a piece other than the diploma gets letter
`obligation_met` (met_on, route):
- Wi2013: the exam parts (the diploma), with, where required, the participation statement;
- Wi2021 (law: Wi2021 art. 7; domain.md §2), by route: B1-route — the exams, the PVT and
  the MAP; onderwijsroute — the route completed and the PVT; Z-route — the route completed,
  the PVT and the MAP. Which routes need the MAP is policy `wi2021_map_routes` (⚠ b1, z:
  the onderwijsroute's MAP is not needed). The PVT and the MAP count whenever they arrive,
  also before a PIP set again; a PIP set again does not move the term (art. 11 lid 3).
State-pension (AOW) age ends the obligation (Wi2013/Wi2021 art. 5): `aow_day` is the first
day the person's age is at least the AOW age policy `aow_age_months` gives for that day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from inburgering.domain import calendar
from inburgering.domain.events import (Event, JourneyEnded, MapCompleted, ParticipationStatementSigned,
                                       RouteCompleted)
from inburgering.domain.policy import Policy
from inburgering.domain.process import (
    Communicate,
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


def aow_day(born: dt.date, policy: Policy) -> dt.date:
    """The first day a person born on `born` has reached the AOW age the policy gives for that
    day. It is either the day the age is reached under some value of `aow_age_months`, or a
    day a new value takes effect: the earliest of those candidates that qualifies."""
    history = policy.history("aow_age_months")
    candidates = {calendar.add_months(born, months) for _, months in history}
    candidates |= {since for since, _ in history if since > born}
    return min(day for day in candidates if has_aow_age(born, day, policy))


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
    category: str | None = None  # asylum | family | other; None: not known


@dataclass(frozen=True)
class RouteSet(Fact):
    """Intake: a PIP set (again) the Wi2021 route."""

    route: str


@dataclass(frozen=True)
class DiplomaObtained(Fact):
    """Exams: every required exam part passed on `on` (a Wi2013 diploma waiting for the PVT too)."""

    on: dt.date


@dataclass(frozen=True)
class ObligationEnded(Fact):
    """The term: the obligation ended during the term (reason aow_age); nothing of it follows."""

    on: dt.date
    reason: str


@dataclass(frozen=True)
class SanctionsWaived(Fact):
    """The term, under the Keren rule: an asylum status holder's term passed; the loan is
    forgiven, never recovered (domain.md §1)."""

    on: dt.date


@dataclass(frozen=True)
class ExemptionGranted(Fact):
    """An exemption granted (also on objection): the AGI, or one of the forms' exemptions."""

    on: dt.date
    by: str = "agi_exemption"  # agi_exemption | medical | integrated | vrijstelling


@dataclass(frozen=True)
class ObligationMet(Fact):
    on: dt.date
    by: str  # diploma | agi_exemption | medical | integrated | vrijstelling | route_completed


PIECE_WORDS = {"exams": "the exams", "participation_statement": "the participation statement (PVT)",
               "map": "the MAP (Module Arbeidsmarkt & Participatie)", "route_completed": "the route completed",
               "pip": "the PIP (personal plan) with its route"}


# ---- the journey case -------------------------------------------------------------------------


class JourneyState(State):
    regime: str | None = None
    obligation_start: dt.date | None = None
    obligated: bool = False
    not_obligated_reason: str | None = None
    category: str | None = None  # asylum | family | other; None: not known (treated as other)
    route: str | None = None  # Wi2021: the route the (latest) PIP sets
    map_routes: list[str] = []  # Wi2021: the routes whose obligation needs the MAP (policy, at the start)
    pvt_required: bool = False
    pvt_signed_on: dt.date | None = None
    map_on: dt.date | None = None
    routes_completed: dict[str, dt.date] = {}
    diploma_on: dt.date | None = None
    met_on: dt.date | None = None
    met_by: str | None = None  # diploma | agi_exemption | medical | integrated | vrijstelling | route_completed
    obligation_ended_on: dt.date | None = None  # ended during the term (state-pension age)
    obligation_ended_reason: str | None = None
    ended_on: dt.date | None = None
    ended_reason: str | None = None

    @property
    def voluntary(self) -> bool:
        return self.regime == "voluntary"

    @property
    def asylum(self) -> bool:
        return self.category == "asylum"

    def missing(self, *, besides_exams: bool = False) -> list[str]:
        """The pieces the obligation still needs (PIECE_WORDS' keys), in the law's order."""
        if self.regime == "wi2021":
            if self.route is None:
                return ["pip"]
            needed = ["exams"] if self.route == "b1" else ["route_completed"]
            needed += ["participation_statement"] + (["map"] if self.route in self.map_routes else [])
        else:
            needed = ["exams"] + (["participation_statement"] if self.pvt_required else [])
        have = {"exams": self.diploma_on, "participation_statement": self.pvt_signed_on, "map": self.map_on,
                "route_completed": self.routes_completed.get(self.route or "")}
        return [piece for piece in needed if have[piece] is None and not (besides_exams and piece == "exams")]

    def diploma_meets_obligation(self) -> bool:
        """A diploma now would meet the obligation (no other piece outstanding)."""
        return self.obligated and self.obligation_ended_on is None and not self.missing(besides_exams=True)

    def met_words(self) -> str:
        how = f"by the {self.route}-route completed" if self.met_by == "route_completed" else MET_BY_WORDS.get(
            self.met_by or "", self.met_by)
        return f"the integration obligation was met on {self.met_on.isoformat()} ({how})" if self.met_on else ""

    def ended_words(self) -> str:
        reason = ENDED_WORDS.get(self.ended_reason or "", self.ended_reason)
        return f"the integration journey ended on {self.ended_on.isoformat()} ({reason})" if self.ended_on else ""


class JourneyProcess(Process):
    name = "journey"
    state_model = JourneyState
    event_types = ("participation_statement_signed", "map_completed", "route_completed", "journey_ended")
    facts = (ObligationKnown, RouteSet, DiplomaObtained, ExemptionGranted, ObligationEnded)

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
        if isinstance(event, ParticipationStatementSigned):
            if state.pvt_signed_on is not None:
                raise EventRejected(f"the participation statement was already signed on "
                                    f"{state.pvt_signed_on.isoformat()}")
            if not (state.pvt_required or (state.regime == "wi2021" and state.obligated)):
                raise EventRejected(_pvt_not_needed(state, ctx))
        elif isinstance(event, MapCompleted):
            _wi2021_only(state, "the MAP (Module Arbeidsmarkt & Participatie)")
        else:
            assert isinstance(event, RouteCompleted)
            _wi2021_only(state, f"a completed {event.route}-route")
        if state.met_on is not None:
            raise EventRejected(f"{state.met_words()}: nothing more is needed")
        if state.obligation_ended_on is not None:
            raise EventRejected(_ended_words(state))
        if isinstance(event, ParticipationStatementSigned):
            state.pvt_signed_on = event.date
        elif isinstance(event, MapCompleted):
            if state.map_on is not None:
                raise EventRejected(f"the MAP was already completed on {state.map_on.isoformat()}")
            state.map_on = event.date
        else:
            assert isinstance(event, RouteCompleted)
            if state.route is None:
                raise EventRejected(f"no PIP has set a route for this person yet, so the {event.route}-route cannot "
                                    "have been completed: the municipality sets the route in the PIP first")
            if event.route != state.route:
                raise EventRejected(f"the PIP sets the {state.route}-route for this person, not the "
                                    f"{event.route}-route: only the PIP's route can be completed (set the PIP again if the route changed)")
            if event.route in state.routes_completed:
                raise EventRejected(f"the {event.route}-route was already completed on "
                                    f"{state.routes_completed[event.route].isoformat()}")
            state.routes_completed[event.route] = event.date
        return self._settle(state, self._met_if_complete(state, ctx))

    # ---- facts ------------------------------------------------------------------------------

    def on_fact(self, state: JourneyState, fact: Fact, ctx: Context) -> Transition:
        state = state.copy_to_change()
        actions: list = []
        if isinstance(fact, ObligationKnown):
            state.regime, state.obligation_start = fact.regime, fact.start
            state.obligated, state.not_obligated_reason = fact.obligated, fact.reason
            state.category = fact.category
            state.pvt_required = fact.regime == "wi2013" and fact.start >= ctx.policy.value(
                "wi2013_pvt_required_from", fact.start)
            if fact.regime == "wi2021":
                routes = str(ctx.policy.value("wi2021_map_routes", fact.start))
                state.map_routes = [route for route in routes.split(",") if route]
        elif isinstance(fact, RouteSet):
            state.route = fact.route
            actions = self._met_if_complete(state, ctx)
        elif isinstance(fact, DiplomaObtained):
            state.diploma_on = fact.on
            actions = self._met_if_complete(state, ctx)
        elif isinstance(fact, ObligationEnded):
            state.obligation_ended_on, state.obligation_ended_reason = fact.on, fact.reason
        elif isinstance(fact, ExemptionGranted) and state.obligated and state.met_on is None:
            state.met_on, state.met_by = fact.on, fact.by
            actions = [ObligationMet(fact.on, fact.by)]
        return self._settle(state, actions)

    @staticmethod
    def _met_if_complete(state: JourneyState, ctx: Context) -> list:
        """Met on the day the last piece arrives."""
        if state.met_on is not None or not state.obligated or state.obligation_ended_on is not None:
            return []
        if state.missing():
            return []
        by = "route_completed" if state.regime == "wi2021" and state.route != "b1" else "diploma"
        state.met_on, state.met_by = ctx.today, by
        actions: list = [ObligationMet(ctx.today, by)]
        if state.regime == "wi2021" and state.diploma_on != ctx.today:  # (a diploma of today says so itself)
            actions.append(Communicate("obligation_met", {"met_on": ctx.today, "route": state.route, "by": by}))
        return actions

    @staticmethod
    def _settle(state: JourneyState, actions: list) -> Transition:
        if state.ended_on is not None:
            return Transition(state, f"ended: {state.ended_reason}", None, None, actions, closed=True)
        if state.met_on is not None:
            return Transition(state, "obligation_met", actions=actions)
        if state.obligation_ended_on is not None:
            return Transition(state, f"obligation_ended: {state.obligation_ended_reason}", actions=actions)
        if state.obligated and state.regime == "wi2013" and state.diploma_on is not None:
            return Transition(state, "waiting_for_participation_statement",
                              "the participation statement (PVT) from the municipality", state.diploma_on, actions)
        if state.obligated:
            return Transition(state, "obligated", actions=actions)
        return Transition(state, state.not_obligated_reason or "not_obligated", actions=actions)


def _wi2021_only(state: JourneyState, what: str) -> None:
    if state.regime is None:
        raise EventRejected(f"no obligation is known for this person yet (no residence permit registered), so "
                            f"{what} cannot be taken")
    if state.regime != "wi2021" or not state.obligated:
        how = f"integrates under {state.regime}" if state.obligated else f"has no obligation ({state.regime})"
        raise EventRejected(f"{what} is part of a Wi2021 obligation only; this person {how}")


def _ended_words(state: JourneyState) -> str:
    why = {"aow_age": "the person reached state-pension (AOW) age"}.get(state.obligation_ended_reason or "",
                                                                        state.obligation_ended_reason)
    return (f"the integration obligation ended on {state.obligation_ended_on.isoformat()} ({why}): nothing more is "
            "needed")


def _pvt_not_needed(state: JourneyState, ctx: Context) -> str:
    if state.regime is None:
        return "no obligation is known for this person yet (no residence permit registered), so no participation " \
               "statement is needed"
    if state.regime not in OBLIGATED_REGIMES or not state.obligated:
        return f"a participation statement is part of an obligation; this person has none ({state.regime})"
    required_from = ctx.policy.value("wi2013_pvt_required_from", state.obligation_start)
    return (f"a participation statement is needed only when the obligation started on or after "
            f"{required_from.isoformat()}; this person's started on {state.obligation_start.isoformat()}")


def refusal_after_journey(journey: JourneyState, what: str) -> str | None:
    """Why `what` (e.g. "an exam registration") is refused because the obligation was met;
    None when it was not."""
    if journey.met_on is not None:
        return f"{journey.met_words()}: {what} is no longer possible"
    return None
