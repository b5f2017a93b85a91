"""Objection (bezwaar) against a decision: a process of its own (Awb 6:4-6:11, 7:10; domain.md §8).

One case per objection (key `objection-<n>`), opened by `objection_received` (against: the
decision's letter type agi_decision | extension_decision | exemption_decision | fine;
decision_date: that letter's date; grounds). The decision objected to is found among the
person's decisions (`decisions_of`); an objection to a decision the person does not have, to
one already objected to, or to a decision that granted what was asked, is rejected with the reason.

- Late (after the window of `objection_weeks`, 6, from the day after the decision was sent,
  ending on a working day by the Atw): not considered at once, without staff
  (`objection_decision`, decision not_considered, reasons [late]) ⚠ excusable lateness is left
  to staff re-opening.
- In time: `objection_receipt` (against, decide_by); the objection's decision term is
  `objection_weeks` after the window ended (Awb 7:10 lid 1; Atw), the Awb life of
  domain/decision.py. Staff decide (`staff_decision`, case objection: granted = the objection
  is granted and the decision revised, refused = the decision is upheld) in a wait run whose
  form shows the decision objected to and the grounds. Still undecided
  `decision_postponement_notice_days` (⚠ 7) before the term ends: postponed once by
  `objection_postponement_weeks` (6, Awb 7:10 lid 3) with `decision_postponed` (case
  objection) ⚠ automatic. Then `decision_overdue`; a notice of default (case objection) starts
  the Awb 4:17 penalty.
- `objection_decision` (against, decision granted | upheld | not_considered, reasons).
  Granted revises the decision with every effect: an AGI or form exemption granted
  (`ExemptionGranted`: the obligation met, the term closes); an extension granted or a fine
  annulled (`DecisionRevised` to the term: the term moves, or the fine is refunded if paid and
  its cycle no longer counts). ⚠ An objection granted against a decision not to consider an
  application revises it to granted, like a refusal.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

from inburgering.domain import decision
from inburgering.domain.decision import DecisionLife, DecisionRevised
from inburgering.domain.events import Event, NoticeOfDefaultReceived, ObjectionReceived, StaffDecision
from inburgering.domain.journey import ExemptionGranted
from inburgering.domain.process import (
    Communicate,
    Context,
    EventRejected,
    Overdue,
    Payment,
    Process,
    State,
    Timer,
    Transition,
)

LATE = "late"
UPHELD = "upheld_on_review"


class DecisionRef(BaseModel):
    """A decision as an objection sees it: its letter, the day it was sent, what it decided."""

    letter: str  # agi_decision | extension_decision | exemption_decision | fine
    sent_on: dt.date
    outcome: str  # granted | refused | not_considered | imposed
    process: str
    key: str
    ground: str | None = None  # an exemption's ground
    amount: str | None = None  # a fine's amount


def decisions_of(ctx: Context) -> list[DecisionRef]:
    """Every decision letter the person was sent, from the cases that decide."""
    found: list[DecisionRef] = []
    for key, state in ctx.cases_of("exemption").items():
        if state.variant == "exemption" and state.outcome_letter_on is not None and state.decision is not None:
            found.append(DecisionRef(letter="agi_decision", sent_on=state.outcome_letter_on, outcome=state.decision,
                                     process="exemption", key=key))
    for key, state in ctx.cases_of("form_exemption").items():
        if state.life.sent_on is not None:
            found.append(DecisionRef(letter="exemption_decision", sent_on=state.life.sent_on,
                                     outcome=state.life.outcome, process="form_exemption", key=key,
                                     ground=state.ground))
    for key, state in ctx.cases_of("term").items():
        for request in state.extensions:
            if request.decided_on is not None and request.decision is not None:
                found.append(DecisionRef(letter="extension_decision", sent_on=request.decided_on,
                                         outcome=request.decision, process="term", key=key))
        for fine in state.fines:
            found.append(DecisionRef(letter="fine", sent_on=fine.on, outcome="imposed", process="term", key=key,
                                     amount=f"{fine.amount:.2f}"))
    return found


class ObjectionState(State):
    opened_on: dt.date
    against: str
    decision_date: dt.date
    grounds: str
    target: DecisionRef | None = None
    window_end: dt.date | None = None
    life: DecisionLife | None = None
    decision: Literal["granted", "upheld", "not_considered"] | None = None
    reasons: list[str] = []
    staff_reason: str | None = None
    closed_on: dt.date | None = None


class ObjectionProcess(Process):
    name = "objection"
    state_model = ObjectionState
    event_types = ("objection_received", "staff_decision", "notice_of_default_received")

    def handles(self, event: Event) -> bool:
        if isinstance(event, (StaffDecision, NoticeOfDefaultReceived)):
            return event.case == "objection"
        return super().handles(event)

    def opens_case(self, event: Event) -> bool:
        return isinstance(event, ObjectionReceived)

    def no_case_reason(self, event: Event) -> str:
        return (f"there is no open objection of this person that a {event.type} event could belong to: an "  # type: ignore[attr-defined]
                "objection must come first, and a decided one takes no more events")

    def case_key(self, event: Event, ctx: Context) -> str:
        mine = ctx.cases_of(self.name)
        if isinstance(event, ObjectionReceived):
            return f"objection-{len(mine) + 1}"
        waiting = sorted((state.opened_on, _sequence(key), key) for key, state in mine.items()
                         if state.closed_on is None)
        return waiting[0][2] if waiting else "objection-0"  # the oldest open one (scenarios.md)

    def new_state(self, event: Event, ctx: Context) -> ObjectionState:
        assert isinstance(event, ObjectionReceived)
        return ObjectionState(opened_on=event.date, against=event.against, decision_date=event.decision_date,
                              grounds=event.grounds)

    # ---- events -------------------------------------------------------------------------------------

    def on_event(self, state: ObjectionState, event: Event, ctx: Context) -> Transition:
        state = state.copy_to_change()
        actions: list = []
        if isinstance(event, ObjectionReceived):
            actions = self._receive(state, event, ctx)
        elif isinstance(event, StaffDecision):
            if state.life is None or state.decision is not None:
                raise EventRejected("this objection was already decided")
            reason = (event.reason or "").strip() or None
            state.staff_reason = reason
            if event.decision == "granted":
                state.decision, state.reasons = "granted", []
                actions = self._revise(state, ctx)
            else:
                state.decision, state.reasons = "upheld", [UPHELD]
        elif isinstance(event, NoticeOfDefaultReceived):
            assert state.life is not None
            state.life.notice_of_default(event.date, ctx.policy)
        return self._settle(state, ctx, actions)

    def _receive(self, state: ObjectionState, event: ObjectionReceived, ctx: Context) -> list:
        mine = [ref for ref in decisions_of(ctx) if ref.letter == event.against]
        target = next((ref for ref in mine if ref.sent_on == event.decision_date), None)
        if target is None:
            have = ", ".join(sorted(ref.sent_on.isoformat() for ref in mine)) or "none"
            raise EventRejected(f"this person has no {event.against} letter dated {event.decision_date.isoformat()} "
                                f"to object to (their {event.against} letters: {have})")
        if target.outcome == "granted":
            raise EventRejected(f"the {event.against} of {target.sent_on.isoformat()} granted what was asked: there "
                                "is nothing to revise on objection")
        for key, other in ctx.cases_of(self.name).items():
            if other.target == target and other.decision != "not_considered":
                raise EventRejected(f"an objection against the {event.against} of {target.sent_on.isoformat()} was "
                                    f"already received on {other.opened_on.isoformat()}")
        state.target = target
        state.window_end = decision.objection_window_end(target.sent_on, ctx.policy)
        if event.date > state.window_end:
            state.decision, state.reasons = "not_considered", [LATE]
            return []
        weeks = ctx.policy.value("objection_weeks", event.date)
        state.life = decision.open_life("objection", "objection_decision", event.date, weeks,
                                        term_from=state.window_end)
        return [Communicate("objection_receipt", {"against": state.against, "decision_date": state.decision_date,
                                                  "decide_by": state.life.due(event.date),
                                                  "received_on": event.date})]

    @staticmethod
    def _revise(state: ObjectionState, ctx: Context) -> list:
        target = state.target
        assert target is not None
        if target.letter == "agi_decision":
            return [ExemptionGranted(ctx.today, by="agi_exemption")]
        if target.letter == "exemption_decision":
            return [ExemptionGranted(ctx.today, by=target.ground or "exemption")]
        term = ctx.case("term")
        if term is not None and term.closed_reason is None:
            return [DecisionRevised(target.letter, target.sent_on, ctx.today)]
        # the term closed meanwhile (the obligation met, ended): nothing of it follows, but a fine
        # paid is still refunded
        fine = next((f for f in (term.fines if term else []) if f.on == target.sent_on), None)
        if fine is not None and fine.paid:
            return [Payment("fine_refunded", {"amount": fine.paid, "fine_on": fine.on})]
        return []

    # ---- timers -------------------------------------------------------------------------------------

    def on_timer(self, state: ObjectionState, timer: Timer, ctx: Context) -> Transition:
        state = state.copy_to_change()
        actions: list = []
        if state.life is not None and state.decision is None and timer.kind in decision.TIMERS:
            actions = state.life.on_timer(timer.kind, ctx.today, ctx.policy,
                                          {"against": state.against, "waiting_for": "staff decision"},
                                          postpone_reason="staff_review", weeks_key="objection_postponement_weeks")
        return self._settle(state, ctx, actions)

    # ---- where the case stands ----------------------------------------------------------------------

    def _settle(self, state: ObjectionState, ctx: Context, actions: list) -> Transition:
        life = state.life
        if state.decision is not None and state.closed_on is None:
            data = {"against": state.against, "decision_date": state.decision_date, "decision": state.decision,
                    "reasons": state.reasons, "staff_reason": state.staff_reason, "received_on": state.opened_on,
                    "window_end": state.window_end}
            overdue = None
            if life is not None:
                due = life.due(ctx.today)
                overdue = Overdue(due, decision.OVERDUE, {"against": state.against, "decision_due": due}) \
                    if ctx.today <= due else None
                actions += life.decide(state.decision, state.reasons, ctx.today, ctx.policy)
            actions.insert(0, Communicate("objection_decision", data, overdue=overdue))
            state.closed_on = ctx.today
        if life is not None:
            actions += life.timer_actions(ctx.today, ctx.policy)
        if state.closed_on is not None:
            return Transition(state, state.decision or "closed", None, None, actions, closed=True)
        assert life is not None
        return Transition(state, "waiting_for_staff_decision", _waiting_words(state), state.opened_on, actions,
                          late_since=life.late_since(ctx.today))


def _waiting_words(state: ObjectionState) -> str:
    return (f"staff decision on the objection against the {state.against} of {state.decision_date.isoformat()} "
            "(staff_decision, case objection)")


def _sequence(key: str) -> int:
    tail = key.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0
