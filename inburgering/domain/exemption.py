"""The AGI exemption: application, school declaration, alfa test, 8-week decision (domain.md §6, §8).

One case per application (key `agi-<n>`, or `advice-<n>` for the naturalisation advice).
A person has at most one open AGI case: follow-up events go to it.

Scope (checked when the application arrives; refused at once with a reason):
- the exemption needs an obligation: the journey (domain/journey.py) holds its start. No
  obligation on file, voluntary integration, or an obligation already met (diploma) →
  refused: there is nothing DUO could exempt from. (The naturalisation advice needs none.)
- an obligation that began on/after 2022-01-01 → refused, the person is referred to the
  municipality (Wi2021);
- less than `agi_min_term_years` (2.5) since the term started → refused, naming the
  first day an application can be made.

The file is complete when the school's declaration is in and, on the alfa route, the
test has been taken. The decision has the Awb's life (domain/decision.py): its term of
`agi_decision_weeks` (8) counts from receipt and never restarts. An application received
without the school's declaration gets a `completion_request` at once (Awb 4:5: what is
missing, respond_by = receipt + `completion_days` ⚠ 28); the term is suspended until the
declaration (or `application_completed`, case agi) arrives, and an application not
completed by respond_by is not considered (decision `not_considered`, the day after). The
unpaid alfa-test invoice is the applicant's own delay (Awb 4:15): the term is suspended
from the invoice until it is paid. Waiting for DUO's own test slot suspends nothing: when
the test is still to be taken `decision_postponement_notice_days` (⚠ 7) before the term
ends, DUO postpones once (Awb 4:14, `decision_postponed`, `decision_postponement_weeks` ⚠ 8).
A notice of default (case agi) after the term starts the Awb 4:17 penalty. On the alfa route the rules that need no test (hours, school
listed) are checked first: when one fails, the refusal comes at once and no test is
invoiced; otherwise DUO invoices the test (`alfa_test_fee`), reminds once after
`alfa_test_invoice_reminder_after_days` if unpaid, and invites only after payment. On
the course route the attempts are demanded only for the parts not passed, as the exams
case knows them when the file is complete.

Decision: with `agi_staff_review` off it is taken by the rules (`agi_rules`) the day the
file is complete; with it on, the case waits for a `staff_decision` event (case: agi)
and raises `decision_overdue` the day after the term (suspensions and postponement counted) ends. Letters on hold wait with the
case (the engine's); `decision_overdue` also fires when a held decision letter makes the
decision late. A granted exemption meets the obligation (`ExemptionGranted` to the journey). A refusal with enough hours in all is a hardship case: the letter
tells the person they can write to the Minister of SZW and the case closes as
`referred_to_minister_szw`. The naturalisation variant (`advice: true`) uses the same
rules (alfa hours: `agi_advice_min_alfa_hours`), has no scope check and no hardship
referral, and ends with an `agi_advice` letter instead of a decision.

Policy values are read as of the day the application arrived.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from inburgering.domain import agi_rules, calendar, decision
from inburgering.domain.agi_rules import AgiFile, Requirements
from inburgering.domain.decision import DecisionLife
from inburgering.domain.events import (
    AgiApplicationReceived,
    AlfaTestInvoicePaid,
    AlfaTestTaken,
    ApplicationCompleted,
    Event,
    NoticeOfDefaultReceived,
    SchoolDeclarationReceived,
    StaffDecision,
)
from inburgering.domain.journey import ExemptionGranted, refusal_after_journey
from inburgering.domain.process import (
    CancelDeadline,
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

STAFF_ASSESSMENT = "staff_assessment"  # the reason name when staff refuse although every rule is met

# Deadlines this process opens.
REMINDER = "alfa_test_invoice_reminder"
OVERDUE = decision.OVERDUE
COMPLETION_DUE = decision.COMPLETION_DUE
DECLARATION = "the school's declaration of course participation (Verklaring deelname cursus)"
LEGACY_RETRY = "send_held_letters"  # stored cases from before holds were the engine's


class ExemptionProcessState(State):
    variant: Literal["exemption", "advice"] = "exemption"
    opened_on: dt.date
    applied_on: dt.date | None = None
    file: AgiFile | None = None
    term_start: dt.date | None = None  # from the intake case (exemption variant)

    declaration_on: dt.date | None = None
    test_invoice_on: dt.date | None = None
    test_reminder_due_on: dt.date | None = None
    test_reminder_on: dt.date | None = None
    test_paid_on: dt.date | None = None
    test_invitation_on: dt.date | None = None
    test_taken_on: dt.date | None = None

    complete_on: dt.date | None = None
    decision_due: dt.date | None = None  # the term as it stood when last settled (the life has it)
    respond_by: dt.date | None = None  # of the completion request (Awb 4:5)
    life: DecisionLife | None = None
    rules_failed: list[str] = []  # what the rules say, also while staff decide
    decision: Literal["granted", "refused", "not_considered"] | None = None
    reasons: list[str] = []
    decided_on: dt.date | None = None
    decided_by: Literal["rules", "staff"] | None = None
    staff_reason: str | None = None
    hardship: bool = False
    referral: Literal["minister_szw"] | None = None
    outcome_letter_on: dt.date | None = None
    overdue_alerted_on: dt.date | None = None
    closed_on: dt.date | None = None

    @property
    def advice(self) -> bool:
        return self.variant == "advice"

    @property
    def alfa(self) -> bool:
        return self.file is not None and self.file.route == "alfa"


def _requirements(state: ExemptionProcessState, ctx: Context) -> Requirements:
    assert state.applied_on is not None
    return Requirements.from_policy(ctx.policy, state.applied_on, advice=state.advice)


def _policy(state: ExemptionProcessState, ctx: Context, key: str):
    assert state.applied_on is not None
    return ctx.policy.value(key, state.applied_on)


class ExemptionProcess(Process):
    name = "exemption"
    state_model = ExemptionProcessState
    event_types = ("agi_application_received", "school_declaration_received", "alfa_test_invoice_paid",
                   "alfa_test_taken", "staff_decision", "application_completed", "notice_of_default_received")

    # ---- routing ----------------------------------------------------------------------------

    def handles(self, event: Event) -> bool:
        if isinstance(event, (StaffDecision, ApplicationCompleted, NoticeOfDefaultReceived)):
            return event.case == "agi"
        return super().handles(event)

    def takes(self, event: Event, ctx: Context) -> bool:
        """A school's declaration with hours and no open AGI application is the term's (its hours
        count for the fine); every other one is the AGI's."""
        if isinstance(event, SchoolDeclarationReceived) and event.hours is not None:
            return any(state.closed_on is None for state in ctx.cases_of(self.name).values())
        return True

    def opens_case(self, event: Event) -> bool:
        return isinstance(event, AgiApplicationReceived)

    def no_case_reason(self, event: Event) -> str:
        kind = event.type  # type: ignore[attr-defined]
        return (f"there is no open AGI case for this person that a {kind} event could belong to: "
                "an AGI application must come first, and a case that has been decided takes no more events")

    def case_key(self, event: Event, ctx: Context) -> str:
        """The open AGI case, else (for an application) a new key, else the latest case."""
        mine = sorted(((key, state) for (process, key), state in ctx.cases.items() if process == self.name),
                      key=lambda item: (item[1].opened_on, _sequence(item[0])))
        open_keys = [key for key, state in mine if state.closed_on is None]
        if open_keys:
            return open_keys[-1]  # an application here is refused as a second one
        if isinstance(event, AgiApplicationReceived):
            return f"{'advice' if event.advice else 'agi'}-{len(mine) + 1}"
        return mine[-1][0] if mine else "agi-1"

    def new_state(self, event: Event, ctx: Context) -> ExemptionProcessState:
        assert isinstance(event, AgiApplicationReceived)
        return ExemptionProcessState(opened_on=event.date, variant="advice" if event.advice else "exemption")

    # ---- events -----------------------------------------------------------------------------

    def on_event(self, state: ExemptionProcessState, event: Event, ctx: Context) -> Transition:
        state = state.copy_to_change()
        actions: list = []
        if isinstance(event, AgiApplicationReceived):
            self._apply(state, event, ctx)
        elif isinstance(event, (SchoolDeclarationReceived, ApplicationCompleted)):
            if state.declaration_on is not None:
                raise EventRejected("the school's declaration was already received on "
                                    f"{state.declaration_on.isoformat()}")
            if state.respond_by is not None and event.date > state.respond_by:
                self._not_completed(state, ctx)  # the day's events come before its timers
            else:
                state.declaration_on = event.date
                _life(state).resume(decision.COMPLETION_REQUEST, event.date)
        elif isinstance(event, NoticeOfDefaultReceived):
            _life(state).notice_of_default(event.date, ctx.policy)
        elif isinstance(event, AlfaTestInvoicePaid):
            self._test_paid(state, event)
        elif isinstance(event, AlfaTestTaken):
            self._test_taken(state, event)
        elif isinstance(event, StaffDecision):
            self._staff_decision(state, event, ctx)
        return self._settle(state, ctx, actions)

    def _apply(self, state: ExemptionProcessState, event: AgiApplicationReceived, ctx: Context) -> None:
        if state.applied_on is not None:
            raise EventRejected(f"an AGI application received on {state.applied_on.isoformat()} is still being "
                                "handled; a new one can be made once it has been decided")
        state.applied_on = event.date
        state.file = AgiFile(route=event.route, hours=event.hours,
                             school_listed_at_course_start=event.school_listed_at_course_start,
                             attempts=dict(event.attempts))
        if not state.advice:
            state.term_start = self._check_scope(event, ctx)
        state.life = decision.open_life("agi", "agi_advice" if state.advice else "agi_decision", event.date,
                                        _policy(state, ctx, "agi_decision_weeks"))

    def _check_scope(self, event: AgiApplicationReceived, ctx: Context) -> dt.date:
        """The start of the term, if an exemption may be asked; otherwise the reason why not."""
        journey = ctx.journey
        if journey.regime is None:
            raise EventRejected("DUO has no civic-integration obligation on file for this person (no residence permit "
                                "registered), so there is nothing to exempt from; for a naturalisation advice apply "
                                "with advice: true")
        if journey.voluntary:
            raise EventRejected("this person integrates voluntarily and has no obligation to be exempted from; for a "
                                "naturalisation advice apply with advice: true")
        if not journey.obligated:
            raise EventRejected("this person has no civic-integration obligation (state-pension age), so there is "
                                "nothing to exempt from")
        refusal = refusal_after_journey(journey, "an AGI exemption")
        if refusal:
            raise EventRejected(refusal)
        if not agi_rules.obligation_before_wi2021(journey.obligation_start):
            intake = ctx.case("intake")
            where = f"the municipality of {intake.municipality}" if intake and intake.municipality \
                else "their municipality"
            raise EventRejected(f"the obligation started on {journey.obligation_start.isoformat()}, on or after "
                                f"2022-01-01: under the Wi2021 there is no AGI exemption from DUO; refer the person "
                                f"to {where}")
        term_start = journey.obligation_start
        years = ctx.policy.value("agi_min_term_years", event.date)
        if not agi_rules.term_old_enough(term_start, event.date, years):
            first = agi_rules.first_application_day(term_start, years)
            raise EventRejected(f"the integration term started on {term_start.isoformat()}; an AGI exemption can be "
                                f"asked from {first.isoformat()} ({years:g} years after the start)")
        return term_start

    def _test_paid(self, state: ExemptionProcessState, event: AlfaTestInvoicePaid) -> None:
        if not state.alfa:
            raise EventRejected("this AGI application follows the course route: there is no alfa test to pay for")
        if state.test_paid_on is not None:
            raise EventRejected(f"the alfa test invoice was already paid on {state.test_paid_on.isoformat()}")
        if state.test_invoice_on is None:
            raise EventRejected("no alfa test invoice has been sent yet (letters are on hold); the payment cannot be "
                                "matched to an invoice")
        state.test_paid_on = event.date
        _life(state).resume(decision.APPLICANT_DELAY, event.date)

    def _test_taken(self, state: ExemptionProcessState, event: AlfaTestTaken) -> None:
        if not state.alfa:
            raise EventRejected("this AGI application follows the course route: there is no alfa test")
        if state.test_taken_on is not None:
            raise EventRejected(f"the alfa test was already taken on {state.test_taken_on.isoformat()}")
        if state.test_invitation_on is None:
            raise EventRejected("the alfa test can only be taken after the test invoice is paid and the invitation "
                                "has been sent")
        assert state.file is not None
        state.test_taken_on = event.date
        state.file = state.file.model_copy(update={"test_active": event.active})

    def _staff_decision(self, state: ExemptionProcessState, event: StaffDecision, ctx: Context) -> None:
        if not _policy(state, ctx, "agi_staff_review"):
            raise EventRejected("AGI applications are decided by the rules as soon as the file is complete "
                                "(policy agi_staff_review is off); no staff decision is awaited")
        missing = self._missing(state)
        if missing:
            raise EventRejected("the AGI file is not complete yet, so it cannot be decided: waiting for "
                                + "; ".join(what for what, _status, _since in missing))
        if state.decision is not None:
            raise EventRejected(f"this AGI application was already decided on {state.decided_on.isoformat()}")
        failed = state.rules_failed
        reason = (event.reason or "").strip() or None
        against_rules = (event.decision == "granted") == bool(failed)
        if against_rules and reason is None:
            raise EventRejected(f"a decision '{event.decision}' that departs from the rules "
                                f"({', '.join(failed) or 'every rule is met'}) needs a reason")
        reasons = [] if event.decision == "granted" else (failed or [STAFF_ASSESSMENT])
        self._decide(state, event.decision, reasons, "staff", ctx, staff_reason=reason)

    # ---- timers -------------------------------------------------------------------------------

    def on_timer(self, state: ExemptionProcessState, timer: Timer, ctx: Context) -> Transition:
        state = state.copy_to_change()
        actions: list = []
        life = _life(state)
        if state.closed_on is not None:
            pass
        elif timer.kind == REMINDER and state.test_paid_on is None:
            state.test_reminder_due_on = ctx.today
        elif timer.kind == COMPLETION_DUE and state.declaration_on is None and state.decision is None:
            self._not_completed(state, ctx)
        elif timer.kind in decision.TIMERS:
            # Waiting for DUO's own test slot: DUO cannot decide in time and postpones (Awb 4:14).
            test_to_come = state.alfa and state.test_invitation_on is not None and state.test_taken_on is None
            waiting = "; ".join(what for what, _status, _since in self._missing(state)) or "staff decision"
            if timer.kind == OVERDUE and state.outcome_letter_on is None:
                state.overdue_alerted_on = ctx.today
            actions += life.on_timer(timer.kind, ctx.today, ctx.policy, {
                "variant": state.variant, "complete_on": state.complete_on, "waiting_for": waiting},
                postpone_reason="alfa_test" if test_to_come else None)
        # LEGACY_RETRY needs nothing but _settle.
        return self._settle(state, ctx, actions)

    # ---- where the facts put the case ------------------------------------------------------------

    @staticmethod
    def _missing(state: ExemptionProcessState) -> list[tuple[str, str, dt.date]]:
        """What the file still lacks from the applicant: (in words, status, waiting since)."""
        assert state.applied_on is not None
        missing = []
        if state.declaration_on is None:
            missing.append((DECLARATION, "waiting_for_school_declaration", state.applied_on))
        if state.alfa and state.test_paid_on is None:
            missing.append(("payment of the alfa test invoice", "waiting_for_alfa_test_payment",
                            state.test_invoice_on or state.applied_on))
        elif state.alfa and state.test_taken_on is None:
            missing.append(("the alfa test to be taken", "waiting_for_alfa_test",
                            state.test_invitation_on or state.test_paid_on))
        return missing

    def _settle(self, state: ExemptionProcessState, ctx: Context, actions: list) -> Transition:
        """Send what is due, decide when the file allows it, and say what the case waits for."""
        if state.decision is None and state.alfa and state.test_invoice_on is None:
            # The rules that need no test decide first: no €150 test for a refusal known today.
            failed = agi_rules.failed_rules_without_test(state.file, _requirements(state, ctx))
            if failed:
                self._decide(state, "refused", failed, "rules", ctx)
        if state.decision is None and state.declaration_on is None and state.respond_by is None:
            # Awb 4:5: received without the school's declaration — asked for at once, the term suspended.
            state.respond_by, asked = decision.completion_request(_life(state), ctx.today, DECLARATION, ctx.policy)
            actions += asked
        if state.closed_on is None and state.alfa and state.decision is None:
            self._alfa_test_letters(state, ctx, actions)

        missing = self._missing(state) if state.decision is None else []
        just_complete = False
        if not missing and state.complete_on is None and state.decision is None:
            just_complete = True
            self._complete(state, ctx)

        if state.decision is not None and state.outcome_letter_on is None:
            self._send_outcome(state, ctx, actions)

        life = _life(state)
        if state.closed_on is None:
            actions += life.timer_actions(ctx.today, ctx.policy)
            state.decision_due = life.due(ctx.today)
        return self._transition(state, ctx, actions, missing)

    def _alfa_test_letters(self, state: ExemptionProcessState, ctx: Context, actions: list) -> None:
        fee = _policy(state, ctx, "alfa_test_fee")
        if state.test_invoice_on is None:
            actions.append(Communicate("alfa_test_invoice", {"amount": fee}))
            state.test_invoice_on = ctx.today
            # The applicant's own delay (Awb 4:15): the term waits from the invoice until it is paid.
            _life(state).suspend(decision.APPLICANT_DELAY, ctx.today, "payment of the alfa test invoice")
            days = _policy(state, ctx, "alfa_test_invoice_reminder_after_days")
            actions.append(OpenDeadline(REMINDER, calendar.add_days(ctx.today, days)))
        if state.test_paid_on is not None:
            if state.test_invitation_on is None:
                if state.test_reminder_on is None:
                    actions.append(CancelDeadline(REMINDER))
                actions.append(Communicate("alfa_test_invitation", {"paid_on": state.test_paid_on}))
                state.test_invitation_on = ctx.today
        elif state.test_reminder_due_on is not None and state.test_reminder_on is None:
            actions.append(Communicate("alfa_test_invoice_reminder",
                                       {"amount": fee, "invoice_on": state.test_invoice_on}))
            state.test_reminder_on = ctx.today

    def _complete(self, state: ExemptionProcessState, ctx: Context) -> None:
        assert state.file is not None
        state.complete_on = ctx.today
        exams = ctx.case("exams")
        state.file = state.file.model_copy(update={"passed_parts": tuple(sorted(exams.passed)) if exams else ()})
        state.rules_failed = agi_rules.failed_rules(state.file, _requirements(state, ctx))
        if not _policy(state, ctx, "agi_staff_review"):
            outcome = "refused" if state.rules_failed else "granted"
            self._decide(state, outcome, list(state.rules_failed), "rules", ctx)

    def _not_completed(self, state: ExemptionProcessState, ctx: Context) -> None:
        """Awb 4:5: not completed by respond_by — not considered; the suspension ended that day."""
        assert state.respond_by is not None
        self._decide(state, *decision.not_completed(_life(state), state.respond_by), "rules", ctx)

    @staticmethod
    def _decide(state: ExemptionProcessState, outcome: str, reasons: list[str], by: str, ctx: Context,
                staff_reason: str | None = None) -> None:
        assert state.file is not None
        state.decision = outcome  # type: ignore[assignment]
        state.reasons = reasons
        state.decided_on = ctx.today
        state.decided_by = by  # type: ignore[assignment]
        state.staff_reason = staff_reason
        state.hardship = (outcome == "refused" and not state.advice
                          and agi_rules.is_hardship(state.file, _requirements(state, ctx)))
        if state.hardship:
            state.referral = "minister_szw"

    def _send_outcome(self, state: ExemptionProcessState, ctx: Context, actions: list) -> None:
        assert state.file is not None
        data = {
            "reasons": state.reasons,
            "applied_on": state.applied_on,
            "decided_by": state.decided_by,
            "staff_reason": state.staff_reason,
            **agi_rules.facts_for_letter(state.file, _requirements(state, ctx)),
        }
        if state.advice:
            letter = "agi_advice"
            data["advice"] = "positive" if state.decision == "granted" else "negative"
        else:
            letter = "agi_decision"
            data["decision"] = state.decision
            data["hardship"] = state.hardship
        # Held by a process owner past the decision term: the engine raises decision_overdue.
        life = _life(state)
        due = life.due(ctx.today)
        overdue = None
        if ctx.today <= due:
            overdue = Overdue(due, OVERDUE, {"variant": state.variant, "complete_on": state.complete_on,
                                             "decision_due": due})
        if not state.advice:
            data["objection_until"] = decision.objection_window_end(ctx.today, ctx.policy)
        actions.append(Communicate(letter, data, overdue=overdue))
        actions += life.decide(state.decision, state.reasons, ctx.today, ctx.policy)
        actions += life.timer_actions(ctx.today, ctx.policy)
        state.outcome_letter_on = ctx.today
        state.closed_on = ctx.today
        actions += [CancelDeadline(REMINDER), CancelDeadline(COMPLETION_DUE)]
        if state.decision == "granted" and not state.advice:
            actions.append(ExemptionGranted(ctx.today))

    def _transition(self, state: ExemptionProcessState, ctx: Context, actions: list,
                    missing: list[tuple[str, str, dt.date]]) -> Transition:
        if state.closed_on is not None:
            return Transition(state, _closed_status(state), None, None, actions, closed=True)
        late_since = _life(state).late_since(ctx.today)
        if missing:
            waiting_for = "; ".join(what for what, _status, _since in missing)
            since = min(since for _what, _status, since in missing)
            status = missing[0][1]
        else:
            waiting_for, since, status = ("staff decision (staff_decision, case agi)", state.complete_on,
                                          "waiting_for_staff_decision")
        return Transition(state, status, waiting_for, since, actions, late_since=late_since)


def _closed_status(state: ExemptionProcessState) -> str:
    if state.advice:
        return "advice_positive" if state.decision == "granted" else "advice_negative"
    if state.referral == "minister_szw":
        return "referred_to_minister_szw"
    return state.decision or "closed"


def _sequence(key: str) -> int:
    tail = key.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _life(state: ExemptionProcessState) -> DecisionLife:
    """The decision's Awb life; a case stored before it had one counts its term from receipt."""
    if state.life is None:
        received = state.applied_on or state.opened_on
        state.life = decision.open_life("agi", "agi_advice" if state.advice else "agi_decision", received, 8)
    return state.life
