"""The exemptions of the forms (seed 000; domain.md §9): medical or psychological reasons,
sufficiently integrated (aantoonbaar voldoende ingeburgerd), and vrijstelling (a Dutch diploma
or certificate at the required level). Each is a decision with the Awb's life
(domain/decision.py) — the mechanism the AGI uses too.

One case per application (key `exemption-<n>`); a person has at most one open. For both
regimes, without the AGI's 2.5-year condition; it needs an obligation that is neither met
nor ended (refused at once with the reason otherwise).

- `exemption_application_received` (ground, complete): the term of `exemption_decision_weeks`
  (8, Awb 4:13) runs from receipt. `complete: false` → `completion_request` at once (Awb 4:5,
  respond_by = receipt + `completion_days` ⚠ 28), the term suspended until
  `application_completed` (case exemption); not completed by respond_by → `not_considered`.
- medical: DUO's medical adviser examines the person; `medical_advice_received` (exempt)
  decides: exempt → granted, not exempt → refused (`not_exempt_medical`). While the advice is
  still to come `decision_postponement_notice_days` (⚠ 7) before the term ends, DUO postpones
  once (Awb 4:14, `decision_postponed`).
- integrated, vrijstelling: staff decide on the evidence ⚠ (`staff_decision`, case exemption;
  refused → `staff_assessment`); the case waits for them as a wait run.
- `exemption_decision` (decision, reasons, ground, objection_until); granted → the obligation
  is met (`ExemptionGranted` with met_by = the ground) and the term closes.
- `decision_overdue` the day after the term; a notice of default (case exemption) after it
  starts the Awb 4:17 penalty, paid with the decision.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from inburgering.domain import decision
from inburgering.domain.decision import DecisionLife
from inburgering.domain.events import (
    ApplicationCompleted,
    Event,
    ExemptionApplicationReceived,
    MedicalAdviceReceived,
    NoticeOfDefaultReceived,
    StaffDecision,
)
from inburgering.domain.journey import ExemptionGranted, refusal_after_journey
from inburgering.domain.process import (
    CancelDeadline,
    Communicate,
    Context,
    EventRejected,
    Overdue,
    Process,
    State,
    Timer,
    Transition,
)

COMPLETION_DUE = decision.COMPLETION_DUE
NOT_EXEMPT = "not_exempt_medical"
STAFF_ASSESSMENT = "staff_assessment"
GROUND_WORDS = {"medical": "exemption on medical or psychological grounds",
                "integrated": "exemption as sufficiently integrated (aantoonbaar voldoende ingeburgerd)",
                "vrijstelling": "vrijstelling (a Dutch diploma or certificate)"}
MISSING = {"medical": "the medical form (Verklaring medische/psychische beperking) completed and signed",
           "integrated": "the evidence that you are sufficiently integrated (diplomas, certificates, work)",
           "vrijstelling": "a copy of the Dutch diploma or certificate"}


class FormExemptionState(State):
    ground: Literal["medical", "integrated", "vrijstelling"]
    opened_on: dt.date
    life: DecisionLife
    received: bool = False  # the application was taken (a second one to the open case is refused)
    respond_by: dt.date | None = None
    completed_on: dt.date | None = None
    advice_on: dt.date | None = None
    decision: Literal["granted", "refused", "not_considered"] | None = None
    reasons: list[str] = []
    decided_by: Literal["rules", "medical_adviser", "staff"] | None = None
    staff_reason: str | None = None
    closed_on: dt.date | None = None

    @property
    def complete(self) -> bool:
        return self.respond_by is None or self.completed_on is not None


class FormExemptionProcess(Process):
    name = "form_exemption"
    state_model = FormExemptionState
    event_types = ("exemption_application_received", "medical_advice_received", "application_completed",
                   "staff_decision", "notice_of_default_received")

    def handles(self, event: Event) -> bool:
        if isinstance(event, (StaffDecision, ApplicationCompleted, NoticeOfDefaultReceived)):
            return event.case == "exemption"
        return super().handles(event)

    def opens_case(self, event: Event) -> bool:
        return isinstance(event, ExemptionApplicationReceived)

    def no_case_reason(self, event: Event) -> str:
        return (f"there is no open exemption application (medical, integrated or vrijstelling) for this person that "
                f"a {event.type} event could belong to: the application must come first, and a decided one takes "  # type: ignore[attr-defined]
                "no more events")

    def case_key(self, event: Event, ctx: Context) -> str:
        mine = ctx.cases_of(self.name)
        open_keys = sorted(key for key, state in mine.items() if state.closed_on is None)
        if open_keys:
            return open_keys[-1]
        if isinstance(event, ExemptionApplicationReceived):
            return f"exemption-{len(mine) + 1}"
        return max(mine, default="exemption-1")

    def new_state(self, event: Event, ctx: Context) -> FormExemptionState:
        assert isinstance(event, ExemptionApplicationReceived)
        weeks = ctx.policy.value("exemption_decision_weeks", event.date)
        return FormExemptionState(ground=event.ground, opened_on=event.date,
                                  life=decision.open_life("exemption", "exemption_decision", event.date, weeks))

    # ---- events -----------------------------------------------------------------------------------

    def on_event(self, state: FormExemptionState, event: Event, ctx: Context) -> Transition:
        fresh = isinstance(event, ExemptionApplicationReceived)
        state = state.copy_to_change()
        actions: list = []
        if fresh:
            if state.received:
                raise EventRejected(f"an exemption application received on {state.opened_on.isoformat()} is still "
                                    "being handled; a new one can be made once it has been decided")
            self._check_scope(ctx)
            state.received = True
            if not event.complete:
                state.respond_by, asked = decision.completion_request(state.life, event.date, MISSING[state.ground],
                                                                      ctx.policy)
                actions += asked
        elif isinstance(event, ApplicationCompleted):
            if state.respond_by is None or state.completed_on is not None:
                raise EventRejected("this exemption application is complete; nothing was asked to complete it")
            if event.date > state.respond_by:
                self._not_completed(state, ctx)
            else:
                state.completed_on = event.date
                state.life.resume(decision.COMPLETION_REQUEST, event.date)
                actions.append(CancelDeadline(COMPLETION_DUE))
        elif isinstance(event, MedicalAdviceReceived):
            if state.ground != "medical":
                raise EventRejected(f"this application asks for the {GROUND_WORDS[state.ground]}: staff decide it "
                                    "(staff_decision, case exemption), not a medical adviser")
            self._before_decision(state)
            state.advice_on = event.date
            self._decide(state, "granted" if event.exempt else "refused", [] if event.exempt else [NOT_EXEMPT],
                         "medical_adviser")
        elif isinstance(event, StaffDecision):
            if state.ground == "medical":
                raise EventRejected("a medical exemption is decided by the medical adviser's advice "
                                    "(medical_advice_received), not by staff")
            self._before_decision(state)
            reason = (event.reason or "").strip() or None
            self._decide(state, event.decision, [] if event.decision == "granted" else [STAFF_ASSESSMENT], "staff",
                         staff_reason=reason)
        elif isinstance(event, NoticeOfDefaultReceived):
            state.life.notice_of_default(event.date, ctx.policy)
        return self._settle(state, ctx, actions)

    @staticmethod
    def _check_scope(ctx: Context) -> None:
        journey = ctx.journey
        if not journey.obligated:
            raise EventRejected("DUO has no civic-integration obligation on file for this person (no residence permit, "
                                "voluntary integration, or state-pension age), so there is nothing to exempt from")
        refusal = refusal_after_journey(journey, "an exemption")
        if refusal:
            raise EventRejected(refusal)

    @staticmethod
    def _before_decision(state: FormExemptionState) -> None:
        if not state.complete:
            raise EventRejected(f"the application is not complete yet: waiting for {MISSING[state.ground]} "
                                f"(asked for until {state.respond_by.isoformat()})")

    def _not_completed(self, state: FormExemptionState, ctx: Context) -> None:
        assert state.respond_by is not None
        self._decide(state, *decision.not_completed(state.life, state.respond_by), "rules")

    @staticmethod
    def _decide(state: FormExemptionState, outcome: str, reasons: list[str], by: str,
                staff_reason: str | None = None) -> None:
        state.decision, state.reasons, state.decided_by = outcome, reasons, by  # type: ignore[assignment]
        state.staff_reason = staff_reason

    # ---- timers -------------------------------------------------------------------------------------

    def on_timer(self, state: FormExemptionState, timer: Timer, ctx: Context) -> Transition:
        state = state.copy_to_change()
        actions: list = []
        if state.closed_on is not None or state.decision is not None:
            pass
        elif timer.kind == COMPLETION_DUE and not state.complete:
            self._not_completed(state, ctx)
        elif timer.kind in decision.TIMERS:
            medical_to_come = state.ground == "medical" and state.complete
            actions += state.life.on_timer(timer.kind, ctx.today, ctx.policy,
                                           {"ground": state.ground, "waiting_for": _waiting_for(state)[1]},
                                           postpone_reason="medical_advice" if medical_to_come else None)
        return self._settle(state, ctx, actions)

    # ---- where the case stands ----------------------------------------------------------------------

    def _settle(self, state: FormExemptionState, ctx: Context, actions: list) -> Transition:
        life = state.life
        if state.decision is not None and not life.decided:
            due = life.due(ctx.today)
            overdue = Overdue(due, decision.OVERDUE, {"ground": state.ground, "decision_due": due}) \
                if ctx.today <= due else None
            actions.append(Communicate("exemption_decision", {
                "decision": state.decision, "reasons": state.reasons, "ground": state.ground,
                "received_on": state.opened_on, "decided_by": state.decided_by, "staff_reason": state.staff_reason,
                "objection_until": decision.objection_window_end(ctx.today, ctx.policy)}, overdue=overdue))
            actions += life.decide(state.decision, state.reasons, ctx.today, ctx.policy)
            actions.append(CancelDeadline(COMPLETION_DUE))
            if state.decision == "granted":
                actions.append(ExemptionGranted(ctx.today, by=state.ground))
            state.closed_on = ctx.today
        actions += life.timer_actions(ctx.today, ctx.policy)
        if state.closed_on is not None:
            return Transition(state, state.decision or "closed", None, None, actions, closed=True)
        status, waiting_for, since = _waiting_for(state)
        return Transition(state, status, waiting_for, since, actions, late_since=life.late_since(ctx.today))


def _waiting_for(state: FormExemptionState) -> tuple[str, str, dt.date]:
    if not state.complete:
        return "waiting_for_completion", f"{MISSING[state.ground]} (completion request)", state.opened_on
    since = state.completed_on or state.opened_on
    if state.ground == "medical":
        return "waiting_for_medical_advice", "the medical adviser's advice (medical_advice_received)", since
    return "waiting_for_staff_decision", "staff decision (staff_decision, case exemption)", since
