"""Exam registration by channel, invitation letters, results and the diploma (domain.md §3).

One exams case per person holds every part's registration, the parts passed, and, at
the end, the diploma, which it tells the journey (`DiplomaObtained`): whether that meets
the obligation is the journey's rule (domain/journey.py). Which parts a person needs, the
fees and the letter days are data in `exam_rules` (its docstring has the table).

Rules, and the choices made where the sources leave room (⚠):
- A registration needs a finished intake: the regime (the journey's) and, under Wi2021,
  the PIP's route decide the parts. Without an intake case, or before its three
  prerequisites are in, the registration is refused with a reason saying so. Once the
  obligation was met (diploma, AGI exemption), a registration is refused naming the day.
- Refused registrations: ONA through a school; a part the person's regime/route does
  not require; a part already passed; a part that already has an open registration
  (reschedule or cancel it instead); an exam date before the day of the registration.
- ⚠ "Register at least 6 weeks ahead": by default a later registration is accepted and
  marked `short_notice` on the registration (the online agenda and schools only offer
  dates they can run); policy `exam_registration_short_notice: reject` refuses it.
  The same date rules apply to a new date given by `exam_rescheduled`.
- The invitation (letter `exam_invitation`: part, exam_date, location, level, channel,
  fee, corrected) is a timer `exam_invitation:<part>` on the letter day that the deadline
  monitor fires: online 7 days before the exam, school 14 days before, form the next
  working day after `exam_fee_paid` (policy). A letter day already passed → at once.
- `exam_fee_paid` belongs to a form registration only (online the fee is paid when
  registering, through a school the school pays); a payment after the exam date is
  refused: the exam must be rescheduled first.
- `exam_rescheduled` before the letter: the timer moves to the new letter day. After the
  letter: a corrected invitation (`exam_invitation` with `corrected: true` and the
  previous date and place) goes out at once, so the person never holds a wrong letter.
- `exam_cancelled` before the letter: the timer is cancelled, nothing is sent. After the
  letter: letter `exam_cancellation` confirms it. ⚠ Refund rules are not modelled.
- `exam_result` needs a registered exam whose date has come; a fail closes that
  registration (register again), a pass records the part. When every required part is
  passed, the journey is told (`DiplomaObtained`) and letter `diploma` goes out (with
  `obligation_met_on` when it meets the obligation; a Wi2021 diploma lists under
  `still_needed` the PVT and the MAP the obligation still needs), `diploma_on` is set, and
  the case closes: every later exam event is refused. Under the Wi2013 the PVT is part of
  the exam (domain.md §1): while it is outstanding the case waits for it
  (`waiting_for_participation_statement`) and the diploma goes out the day the journey
  says the obligation is met (`ObligationMet`): on the later of the last part and the PVT.
- Letters on hold are the engine's (they wait with the case until the hold is lifted); an
  invitation still on hold is taken back (`Withdraw`) by a reschedule or cancellation.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from inburgering.domain import exam_rules
from inburgering.domain.events import (
    Event,
    ExamCancelled,
    ExamFeePaid,
    ExamRegistered,
    ExamRescheduled,
    ExamResult,
)
from inburgering.domain.exam_rules import INVITATIONS, Facts
from inburgering.domain.journey import OBLIGATED_REGIMES, DiplomaObtained, ObligationMet, refusal_after_journey
from inburgering.domain.process import (
    Action,
    CancelDeadline,
    Communicate,
    Context,
    EventRejected,
    Fact,
    OpenDeadline,
    Process,
    State,
    Timer,
    Transition,
    Withdraw,
)

INVITATION = "exam_invitation"
# The timer that retried held letters in stored cases from before holds were the engine's.
LEGACY_HELD_LETTERS = "send_held_letters"


def invitation_kind(part: str) -> str:
    return f"{INVITATION}:{part}"


class Registration(BaseModel):
    part: str
    channel: str
    exam_date: dt.date
    location: str
    registered_on: dt.date
    fee: Decimal
    level: str | None = None
    short_notice: bool = False
    fee_paid_on: dt.date | None = None
    invited_on: dt.date | None = None  # the day the invitation was issued (sent, or held)
    rescheduled: int = 0
    outcome: str | None = None  # passed | failed | cancelled | not_needed
    closed_on: dt.date | None = None

    def needs_fee(self) -> bool:
        return INVITATIONS[self.channel].needs_fee and self.fee_paid_on is None


class ExamsState(State):
    opened_on: dt.date
    open: dict[str, Registration] = {}  # part -> its one open registration
    history: list[Registration] = []  # closed registrations, oldest first
    passed: dict[str, dt.date] = {}  # part -> day the pass was recorded
    held_letters: list[dict[str, Any]] = []  # stored cases from before holds were the engine's
    parts_passed_on: dt.date | None = None  # every required part passed (Wi2013: the PVT may still be outstanding)
    diploma_on: dt.date | None = None


class ExamsProcess(Process):
    name = "exams"
    state_model = ExamsState
    event_types = ("exam_registered", "exam_fee_paid", "exam_rescheduled", "exam_cancelled", "exam_result")
    facts = (ObligationMet,)

    def opens_case(self, event: Event) -> bool:
        return isinstance(event, ExamRegistered)

    def no_case_reason(self, event: Event) -> str:
        return (f"this person has no open exams case for a {event.type} event: no exam has been "  # type: ignore[attr-defined]
                "registered yet, or the diploma was already issued")

    def new_state(self, event: Event, ctx: Context) -> ExamsState:
        return ExamsState(opened_on=event.date)

    def on_event(self, state: ExamsState, event: Event, ctx: Context) -> Transition:
        state = state.copy_to_change()
        if state.diploma_on is not None:
            raise EventRejected(f"the diploma was issued on {state.diploma_on.isoformat()}: no further exams are needed")
        if state.parts_passed_on is not None:
            raise EventRejected(f"every exam part was passed by {state.parts_passed_on.isoformat()}: no further exams "
                                "are needed (the diploma waits for the participation statement)")
        handler = {
            ExamRegistered: self._register,
            ExamFeePaid: self._fee_paid,
            ExamRescheduled: self._reschedule,
            ExamCancelled: self._cancel,
            ExamResult: self._result,
        }[type(event)]
        return self._settle(state, ctx, handler(state, event, ctx))

    def on_timer(self, state: ExamsState, timer: Timer, ctx: Context) -> Transition:
        state = state.copy_to_change()
        actions: list[Action] = []
        if timer.kind == LEGACY_HELD_LETTERS:
            actions = [self._send(letter["type"], letter["part"], letter["data"]) for letter in state.held_letters]
            state.held_letters = []
        elif timer.kind.startswith(INVITATION + ":"):
            registration = state.open.get(timer.data.get("part", timer.kind.split(":", 1)[1]))
            if registration is not None and registration.invited_on is None:  # else: stale timer
                actions = self._invite(state, registration, ctx)
        else:
            raise NotImplementedError(f"{self.name} has no timer {timer.kind}")
        return self._settle(state, ctx, actions)

    # ---- events -----------------------------------------------------------------------------

    def _register(self, state: ExamsState, event: ExamRegistered, ctx: Context) -> list[Action]:
        part = event.part
        refusal = refusal_after_journey(ctx.journey, "an exam registration")
        if refusal:
            raise EventRejected(refusal)
        if (part, event.channel) in exam_rules.CHANNEL_EXCLUDED:
            raise EventRejected(exam_rules.CHANNEL_EXCLUDED[(part, event.channel)])
        assessment = exam_rules.assess(_facts(ctx, event.date))[part]
        if not assessment.required:
            raise EventRejected(f"{part} is not required for this person: {assessment.reason}")
        if part in state.passed:
            raise EventRejected(f"{part} was already passed on {state.passed[part].isoformat()}")
        if part in state.open:
            current = state.open[part]
            raise EventRejected(f"{part} is already registered for {current.exam_date.isoformat()} "
                                f"({current.channel}): reschedule or cancel that exam instead")
        short_notice = _check_exam_date(event.exam_date, event.date, ctx)
        registration = Registration(
            part=part, channel=event.channel, exam_date=event.exam_date, location=event.location,
            registered_on=event.date, fee=exam_rules.exam_fee(part, event.date, ctx.policy),
            level=assessment.level, short_notice=short_notice,
        )
        state.open[part] = registration
        return self._plan_invitation(state, registration, ctx)

    def _fee_paid(self, state: ExamsState, event: ExamFeePaid, ctx: Context) -> list[Action]:
        registration = _open_registration(state, event.part)
        if not INVITATIONS[registration.channel].needs_fee:
            raise EventRejected(f"the {event.part} exam was registered {_channel_words(registration.channel)}: "
                                "only a registration by form waits for the fee")
        if registration.fee_paid_on is not None:
            raise EventRejected(f"the fee for the {event.part} exam was already paid on "
                                f"{registration.fee_paid_on.isoformat()}")
        if registration.exam_date < event.date:
            raise EventRejected(f"the {event.part} exam on {registration.exam_date.isoformat()} has passed before "
                                "the fee was paid: reschedule the exam first")
        registration.fee_paid_on = event.date
        return self._plan_invitation(state, registration, ctx)

    def _reschedule(self, state: ExamsState, event: ExamRescheduled, ctx: Context) -> list[Action]:
        registration = _open_registration(state, event.part)
        if (event.exam_date, event.location) == (registration.exam_date, registration.location):
            raise EventRejected(f"the {event.part} exam is already on {event.exam_date.isoformat()} "
                                f"at {event.location}")
        registration.short_notice = _check_exam_date(event.exam_date, event.date, ctx)
        previous = {"previous_exam_date": registration.exam_date, "previous_location": registration.location}
        letter_went_out, actions = self._withdraw_invitation(registration, ctx)
        registration.exam_date, registration.location = event.exam_date, event.location
        registration.rescheduled += 1
        if letter_went_out:
            return actions + self._invite(state, registration, ctx, previous)
        return actions + self._plan_invitation(state, registration, ctx)

    def _cancel(self, state: ExamsState, event: ExamCancelled, ctx: Context) -> list[Action]:
        registration = _open_registration(state, event.part)
        if registration.exam_date < event.date:
            raise EventRejected(f"the {event.part} exam on {registration.exam_date.isoformat()} has already taken "
                                "place; its result is awaited")
        letter_went_out, actions = self._withdraw_invitation(registration, ctx)
        actions += self._close(state, registration, "cancelled", ctx)
        if letter_went_out:
            actions.append(self._send("exam_cancellation", event.part, {
                "part": event.part, "exam_date": registration.exam_date, "location": registration.location,
            }))
        return actions

    def _result(self, state: ExamsState, event: ExamResult, ctx: Context) -> list[Action]:
        registration = _open_registration(state, event.part)
        if event.date < registration.exam_date:
            raise EventRejected(f"the {event.part} exam is on {registration.exam_date.isoformat()}: its result "
                                "cannot be recorded before that day")
        actions = self._withdraw_invitation(registration, ctx)[1]
        actions += self._close(state, registration, "passed" if event.passed else "failed", ctx)
        if event.passed:
            state.passed[event.part] = event.date
            actions += self._diploma_if_complete(state, ctx)
        return actions

    # ---- the invitation -------------------------------------------------------------------------

    def _plan_invitation(self, state: ExamsState, registration: Registration, ctx: Context) -> list[Action]:
        """Put the invitation on its letter day; a day already passed means: at once."""
        kind = invitation_kind(registration.part)
        day = INVITATIONS[registration.channel].day(registration.exam_date, registration.registered_on,
                                                    registration.fee_paid_on, ctx.policy)
        if day is None:  # waits for the fee
            return [CancelDeadline(kind)]
        if day <= ctx.today:
            return [CancelDeadline(kind), *self._invite(state, registration, ctx)]
        return [OpenDeadline(kind, day, {"part": registration.part})]

    def _invite(self, state: ExamsState, registration: Registration, ctx: Context,
                previous: dict[str, Any] | None = None) -> list[Action]:
        registration.invited_on = ctx.today
        return [self._send(INVITATION, registration.part, {
            "part": registration.part,
            "exam_date": registration.exam_date,
            "location": registration.location,
            "level": registration.level,
            "channel": registration.channel,
            "fee": registration.fee,
            "fee_paid_on": registration.fee_paid_on,
            "corrected": previous is not None,
            **(previous or {"previous_exam_date": None, "previous_location": None}),
        })]

    @staticmethod
    def _withdraw_invitation(registration: Registration, ctx: Context) -> tuple[bool, list[Action]]:
        """Take back an invitation still on hold: whether one already went out to the person,
        and the actions that take it back."""
        key = _letter_key(INVITATION, registration.part)
        if registration.invited_on is not None and ctx.letter_waiting(key):
            registration.invited_on = None
            return False, [Withdraw(key)]
        return registration.invited_on is not None, []

    # ---- closing and the diploma ------------------------------------------------------------------

    def _close(self, state: ExamsState, registration: Registration, outcome: str, ctx: Context) -> list[Action]:
        registration.outcome, registration.closed_on = outcome, ctx.today
        del state.open[registration.part]
        state.history.append(registration)
        return [CancelDeadline(invitation_kind(registration.part))]

    def _diploma_if_complete(self, state: ExamsState, ctx: Context) -> list[Action]:
        facts = _facts(ctx, ctx.today)
        required = exam_rules.required_parts(facts)
        if not required or any(part not in state.passed for part in required):
            return []
        state.parts_passed_on = ctx.today
        journey = ctx.journey
        obligated = facts.regime in OBLIGATED_REGIMES
        meets = obligated and journey.diploma_meets_obligation()
        actions: list[Action] = []
        for registration in list(state.open.values()):  # a part no longer required (e.g. AOW age reached)
            actions += self._withdraw_invitation(registration, ctx)[1]
            actions += self._close(state, registration, "not_needed", ctx)
        if facts.regime == "wi2013" and obligated and not meets and journey.obligation_ended_on is None:
            return actions + [DiplomaObtained(ctx.today)]  # the PVT is part of the Wi2013 exam: the diploma waits
        still_needed = journey.missing(besides_exams=True) if obligated and not meets else []
        return actions + [self._diploma(state, facts, required, ctx.today if meets else None, still_needed),
                          DiplomaObtained(ctx.today)]

    def _diploma(self, state: ExamsState, facts: Facts, required: list[str], met_on: dt.date | None,
                 still_needed: list[str]) -> Communicate:
        state.diploma_on = state.diploma_on or facts.on
        track = exam_rules.track_for(facts)
        return self._send("diploma", None, {
            "regime": facts.regime,
            "route": facts.route if facts.regime == "wi2021" else None,
            "track": track.label if track else facts.regime,
            "parts": [{"part": part, "passed_on": state.passed[part]} for part in required],
            "obligation_met_on": met_on,
            "participation_statement_outstanding": "participation_statement" in still_needed,
            "still_needed": still_needed,
        })

    # ---- facts ---------------------------------------------------------------------------------------

    def on_fact(self, state: ExamsState, fact: Fact, ctx: Context) -> Transition:
        """The obligation met: a Wi2013 diploma that waited for the participation statement goes out."""
        state = state.copy_to_change()
        actions: list[Action] = []
        if isinstance(fact, ObligationMet) and state.parts_passed_on is not None and state.diploma_on is None:
            facts = _facts(ctx, ctx.today)
            actions.append(self._diploma(state, facts, exam_rules.required_parts(facts), fact.on, []))
        return self._settle(state, ctx, actions)

    @staticmethod
    def _send(letter_type: str, part: str | None, data: dict[str, Any]) -> Communicate:
        return Communicate(letter_type, data, key=_letter_key(letter_type, part))

    # ---- where the case stands ------------------------------------------------------------------------

    def _settle(self, state: ExamsState, ctx: Context, actions: list[Action]) -> Transition:
        if state.diploma_on is not None:
            return Transition(state, "diploma", None, None, actions, closed=True)
        if state.parts_passed_on is not None:
            return Transition(state, "waiting_for_participation_statement",
                              "the participation statement (PVT) from the municipality: the diploma follows",
                              state.parts_passed_on, actions)
        registrations = sorted(state.open.values(), key=lambda r: (r.exam_date, r.part))
        unpaid = [r for r in registrations if r.needs_fee()]
        if unpaid:
            waiting = "exam fee (form): " + ", ".join(f"{r.part} {r.fee}" for r in unpaid)
            return Transition(state, "waiting_for_exam_fee", waiting, min(r.registered_on for r in unpaid), actions)
        if registrations:
            waiting = "exam results: " + ", ".join(f"{r.part} {r.exam_date.isoformat()}" for r in registrations)
            return Transition(state, "exams_planned", waiting, min(r.registered_on for r in registrations), actions)
        since = max((r.closed_on for r in state.history if r.closed_on), default=state.opened_on)
        return Transition(state, "waiting_for_registration", "a new exam registration", since, actions)


# ---- shared checks ---------------------------------------------------------------------------------------


def parts_taken(ctx: Context) -> dict[str, tuple[int, bool]]:
    """For the integration term (the fine, the effort extension): each exam part the person
    needs, how often it was taken (an exam that got a result) and whether it was passed."""
    try:
        required = exam_rules.required_parts(_facts(ctx, ctx.today))
    except EventRejected:  # the intake is not complete: no parts are known yet
        return {}
    exams: ExamsState | None = ctx.case("exams")
    taken = {part: 0 for part in required}
    for registration in exams.history if exams else []:
        if registration.outcome in ("passed", "failed") and registration.part in taken:
            taken[registration.part] += 1
    return {part: (count, exams is not None and part in exams.passed) for part, count in taken.items()}


def _letter_key(letter_type: str, part: str | None) -> str:
    return f"{letter_type}:{part}" if part else letter_type


def _facts(ctx: Context, on: dt.date) -> Facts:
    intake, journey = ctx.case("intake"), ctx.journey
    if intake is None or intake.complete_on is None or journey.regime is None:
        raise EventRejected(
            "the exam parts a person needs follow from their regime, which is known once the intake is complete "
            "(residence permit, BSN and municipal registration): register the exam after that"
        )
    return Facts(regime=journey.regime, route=intake.route, obligation_start=journey.obligation_start,
                 born=ctx.person.born, on=on, policy=ctx.policy)


def _check_exam_date(exam_date: dt.date, on: dt.date, ctx: Context) -> bool:
    """Refuse an exam date in the past; return whether the date is on short notice."""
    if exam_date < on:
        raise EventRejected(f"the exam date {exam_date.isoformat()} is in the past (before "
                            f"{on.isoformat()}): choose a date from today on")
    min_days = ctx.policy.value("exam_registration_min_days", on)
    short_notice = (exam_date - on).days < min_days
    if short_notice and ctx.policy.value("exam_registration_short_notice", on) == "reject":
        raise EventRejected(f"an exam must be booked at least {min_days} days ahead; "
                            f"{exam_date.isoformat()} is {(exam_date - on).days} days away: choose a later date")
    return short_notice


def _open_registration(state: ExamsState, part: str) -> Registration:
    if part not in state.open:
        raise EventRejected(f"no {part} exam is registered for this person (or its result is already in): "
                            f"register it first")
    return state.open[part]


def _channel_words(channel: str) -> str:
    return {"online": "online", "school": "through the school", "form": "by form"}[channel]
