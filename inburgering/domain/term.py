"""The integration term (inburgeringstermijn): reminders, pre-announcement, fine, follow-up
term and extensions (domain.md §1, §7; the rules are in `term_rules`).

One term case per obligated person (key ""), opened when the start letter states the end
of the term (Wi2013), or when the PIP sets it (Wi2021): intake tells it (`TermStarted`).
It closes the day the obligation is met (the journey's `ObligationMet`): from then on
nothing of the term is sent. The journey's end closes it with every other case.

- **Reminders** (`term_reminder`: term_end, months_left) on the days `term_reminder_months`
  (a list, ⚠ default 12 and 3) before the end; a reminder day already past when the term
  opens is skipped. From the reminder of 3 months or less, process owners see the term
  as ending soon.
- **Pre-announcement** (`term_pre_announcement`: term_end, amount, respond_by) on the first
  working day after the term passed: the intended fine from the table (`term_rules`), by
  the hours at listed schools (the larger of those reported, `course_hours_reported`, and
  those declared: an AGI application's integration-course and Nt2 hours at a listed school,
  or a `school_declaration_received` with `hours`), the exam attempts the exams case knows
  (ONA tried enough after `fine_ona_attempts`) and the parts passed
  (`fine_reduction_by_parts_passed`); the person may respond until `fine_response_days`
  (⚠ 14) later. The case waits, late, for the response window to close.
- **Fine** (`fine`: amount, hours, parts_taken, parts_passed, new_term_end) the day after
  respond_by, from what is known that day (hours reported meanwhile count; a declaration
  dated after respond_by counts for a later cycle), with a follow-up term of
  `term_follow_up_years` (⚠ 2) from the fine. A fine of €0 is a decision too: the letter
  says so and the new term runs. The cycle repeats at the end of a follow-up term until
  `term_fine_cycles` (⚠ 2) fines were imposed; a term that passes after the last one is an
  alert for process owners (`term_passed_after_last_fine`), who decide what follows.
- **Keren** (domain.md §1; CJEU C-158/23, RvS 9 July 2025): under the Wi2013, when an
  asylum status holder's term (extensions included) ends on or after policy
  `asylum_sanctions_exceptional_from` (⚠ 2025-02-04), no pre-announcement: alert
  `fine_review` (term_end, amount: the table's, reduction included) and the case waits for
  staff (`fine_under_review`, late: a wait run whose form shows the person's effort); the
  loan is forgiven that day (`SanctionsWaived` to invoicing), never recovered. Staff
  (`staff_decision`, case fine): granted = an exceptional fine, the pre-announcement and
  fine as always (follow-up term, cycles); refused = the term closes without a fine and
  without a follow-up term.
- **State-pension (AOW) age** (Wi2013/Wi2021 art. 5): on the first day the person has it
  (`journey.aow_day`) the term closes with letter `obligation_ended` (reason aow_age); no
  reminder, pre-announcement or fine after it.
- **Wi2013 PVT**: the exam parts passed satisfy the term (`DiplomaObtained` closes it, status
  `exam_parts_passed`); the missing PVT has its own term and the municipality's fine, never
  DUO's (Wi2013 art. 7a lid 1).
- **Extensions** (`extension_requested`: ground, evidence_date) are decided within
  `extension_decision_weeks` (8, Awb 4:13; Atw): by the rules at once, or, with
  `extension_staff_review` on, by staff (`staff_decision`, case extension), with
  `decision_overdue` the day after the term. `extension_decision` states the decision,
  the failed rules by name (empty when granted) and the term's end; a granted extension
  moves the reminders, the pre-announcement and the fine. A request without an open term
  is rejected with the reason.

Policy values are read as of the day they are used (a fine as of the day it is imposed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from inburgering.domain import calendar, decision, term_rules
from inburgering.domain.decision import DecisionLife, DecisionRevised
from inburgering.domain.events import (Correction, CourseHoursReported, Event, ExtensionRequested, FinePaid, Money,
                                       NoticeOfDefaultReceived, SchoolDeclarationReceived, StaffDecision)
from inburgering.domain.exams import parts_taken
from inburgering.domain.journey import DiplomaObtained, ObligationEnded, ObligationMet, SanctionsWaived, aow_day
from inburgering.domain.process import (
    Action,
    Alert,
    CancelDeadline,
    Communicate,
    Context,
    EventRejected,
    Fact,
    OpenDeadline,
    Payment,
    Process,
    State,
    Timer,
    Transition,
)
from inburgering.domain.term_rules import ExtensionFile

REMINDER = "term_reminder"  # term_reminder:<months>
TERM_PASSED = "term_passed"
FINE = "term_fine"
OVERDUE = decision.OVERDUE
AOW_AGE = "aow_age"  # timer: the day the person reaches state-pension age
FINE_REVIEW = "fine_under_review"
STAFF_ASSESSMENT = "staff_assessment"  # the reason when staff refuse although every rule is met


@dataclass(frozen=True)
class TermStarted(Fact):
    """Intake: the start letter (Wi2013) or the PIP (Wi2021) states the term."""

    regime: str
    start: dt.date
    end: dt.date


class HoursReport(BaseModel):
    school: str
    hours: int
    listed: bool
    period_from: dt.date
    period_to: dt.date
    reported_on: dt.date


class Declaration(BaseModel):
    """A school's declaration of course participation at a listed school, sent to the term."""

    school: str | None
    hours: int
    received_on: dt.date


class FineBasis(BaseModel):
    """What a fine is computed from, as known on a day: the person's effort and the amount."""

    hours: int
    reported_hours: int
    declared_hours: int
    attempts: dict[str, tuple[int, bool]]  # required part -> (times taken, passed)
    parts_taken: str
    parts_passed: int
    amount: Money


class FineReview(BaseModel):
    """Keren: an asylum status holder's passed term, waiting for staff (domain.md §1)."""

    opened_on: dt.date
    term_end: dt.date
    basis: FineBasis
    decision: Literal["granted", "refused"] | None = None
    decided_on: dt.date | None = None
    reason: str | None = None


class ExtensionRequest(BaseModel):
    ground: str
    evidence_date: dt.date
    requested_on: dt.date
    decision_due: dt.date
    rules_failed: list[str]
    decision: Literal["granted", "refused"] | None = None
    reasons: list[str] = []
    decided_on: dt.date | None = None
    decided_by: Literal["rules", "staff"] | None = None
    staff_reason: str | None = None
    term_end_before: dt.date
    term_end_after: dt.date | None = None  # when granted
    life: DecisionLife | None = None  # the decision's Awb life (domain/decision.py)
    revised_on: dt.date | None = None  # granted on objection


class Fine(BaseModel):
    on: dt.date
    amount: Money
    hours: int
    parts_taken: str
    parts_passed: int = 0
    new_term_end: dt.date
    paid: Money | None = None  # what the person paid (fine_paid)
    annulled_on: dt.date | None = None  # annulled on objection: it counts as no fine


class TermState(State):
    regime: str
    start: dt.date
    end: dt.date
    cycle: int = 0  # 0: the term; n: the follow-up term after the n-th fine
    hours: list[HoursReport] = []
    reminded: list[int] = []  # months before the end reminded in this cycle
    planned: list[int] = []  # reminders waiting as deadlines (months before the end)
    pre_announced_on: dt.date | None = None
    respond_by: dt.date | None = None
    intended_fine: Money | None = None
    fines: list[Fine] = []
    extensions: list[ExtensionRequest] = []
    declarations: list[Declaration] = []
    reviews: list[FineReview] = []
    closed_reason: str | None = None
    satisfied_on: dt.date | None = None  # the obligation met, or (Wi2013) every exam part passed

    @property
    def listed_hours(self) -> int:
        return sum(report.hours for report in self.hours if report.listed)

    @property
    def counted_fines(self) -> int:
        """The fines imposed, without those annulled on objection (their cycle no longer counts)."""
        return sum(1 for fine in self.fines if fine.annulled_on is None)

    @property
    def pending_review(self) -> FineReview | None:
        last = self.reviews[-1] if self.reviews else None
        return last if last is not None and last.decision is None else None

    @property
    def pending_request(self) -> ExtensionRequest | None:
        last = self.extensions[-1] if self.extensions else None
        return last if last is not None and last.decision is None else None


class TermProcess(Process):
    name = "term"
    state_model = TermState
    event_types = ("extension_requested", "course_hours_reported", "staff_decision", "school_declaration_received",
                   "notice_of_default_received", "fine_paid", "correction")
    facts = (TermStarted, ObligationMet, DiplomaObtained, DecisionRevised)

    # ---- routing --------------------------------------------------------------------------

    def handles(self, event: Event) -> bool:
        if isinstance(event, StaffDecision):
            return event.case in ("extension", "fine")
        if isinstance(event, NoticeOfDefaultReceived):
            return event.case == "extension"
        if isinstance(event, Correction):
            return event.what == "annul_fine"
        return super().handles(event)

    def opens_case(self, event: Event) -> bool:
        # Not a new case: a correction reaches the term even once it closed (a fine annulled after
        # the obligation was met); without a term it is refused (new_state).
        return isinstance(event, Correction)

    def no_case_reason(self, event: Event) -> str:
        decided = "a fine" if getattr(event, "case", "") == "fine" else "an extension"
        what = {"extension_requested": "an extension", "course_hours_reported": "the hours",
                "school_declaration_received": "a school's declaration without an open AGI application",
                "notice_of_default_received": "a notice of default on an extension decision",
                "fine_paid": "a fine's payment", "correction": "a correction of a fine",
                "staff_decision": f"a staff decision on {decided}"}[event.type]  # type: ignore[attr-defined]
        return (f"this person has no open integration term, so {what} cannot be taken: the term opens with the "
                "start letter (Wi2013) or the PIP (Wi2021), and ends when the obligation is met; voluntary "
                "integration has none")

    def new_state(self, event: Event, ctx: Context) -> TermState:
        raise EventRejected(self.no_case_reason(event))

    def fact_case_key(self, fact: Fact, ctx: Context) -> str | None:
        return "" if isinstance(fact, TermStarted) or ctx.case(self.name) is not None else None

    def new_state_for_fact(self, fact: Fact, ctx: Context) -> TermState | None:
        if isinstance(fact, TermStarted):
            return TermState(regime=fact.regime, start=fact.start, end=fact.end)
        return None

    # ---- facts --------------------------------------------------------------------------------

    def on_fact(self, state: TermState, fact: Fact, ctx: Context) -> Transition:
        state = state.copy_to_change()
        if isinstance(fact, ObligationMet):
            state.closed_reason, state.satisfied_on = "obligation_met", fact.on
            return self._settle(state, ctx, _cancel_all(state))
        if isinstance(fact, DiplomaObtained):
            if state.regime != "wi2013":  # a Wi2021 obligation needs more than the exams
                return self._settle(state, ctx, [])
            # the Wi2013 term binds the exam parts only (art. 7a lid 1): the PVT has its own term
            state.closed_reason, state.satisfied_on = "exam_parts_passed", fact.on
            return self._settle(state, ctx, _cancel_all(state))
        if isinstance(fact, DecisionRevised):
            return self._settle(state, ctx, self._revised(state, fact, ctx))
        return self._settle(state, ctx, self._plan(state, ctx))  # the term opens

    def _revised(self, state: TermState, fact: DecisionRevised, ctx: Context) -> list[Action]:
        """An objection granted (domain/objection.py): a fine annulled — it counts as no fine, the
        follow-up term it opened stays, what was paid is refunded —, or an extension granted."""
        if fact.letter == "fine":
            return _annul(next(f for f in state.fines if f.on == fact.sent_on and f.annulled_on is None), ctx)
        request = next(r for r in state.extensions if r.decided_on == fact.sent_on)
        request.revised_on = ctx.today
        return self._grant(state, request, ctx, "staff", None, on_objection=True)

    # ---- events -------------------------------------------------------------------------------

    def on_event(self, state: TermState, event: Event, ctx: Context) -> Transition:
        state = state.copy_to_change()
        actions: list[Action] = []
        if isinstance(event, CourseHoursReported):
            state.hours.append(HoursReport(school=event.school, hours=event.hours, listed=event.listed,
                                           period_from=event.period_from, period_to=event.period_to,
                                           reported_on=event.date))
        elif isinstance(event, SchoolDeclarationReceived):
            if event.hours is None:  # the exemption takes a declaration without hours (registry.process_for)
                raise EventRejected(self.no_case_reason(event))
            state.declarations.append(Declaration(school=event.school, hours=event.hours, received_on=event.date))
        elif isinstance(event, ExtensionRequested):
            actions = self._request(state, event, ctx)
        elif isinstance(event, StaffDecision) and event.case == "fine":
            actions = self._fine_decision(state, event, ctx)
        elif isinstance(event, StaffDecision):
            actions = self._staff_decision(state, event, ctx)
        elif isinstance(event, NoticeOfDefaultReceived):
            request = state.pending_request
            if request is None:
                raise EventRejected("no extension request of this person waits for a decision, so DUO cannot be "
                                    "declared in default on one")
            _life(request).notice_of_default(event.date, ctx.policy)
        elif isinstance(event, FinePaid):
            actions = self._fine_paid(state, event)
        elif isinstance(event, Correction):
            actions = self._correct(state, event, ctx)
        return self._settle(state, ctx, actions)

    @staticmethod
    def _correct(state: TermState, event: Correction, ctx: Context) -> list[Action]:
        """A what-if's correction (architecture.md §14), approved by staff: the fine sent on
        `decision_date` (absent: the latest) annulled as on objection — it counts as no fine, what
        was paid is refunded — with the letter `fine_annulled`. Refused, with the reason, where
        the case file already differs: no such fine, or annulled already."""
        fines = [f for f in state.fines if event.decision_date in (None, f.on)]
        if not fines:
            on = f" sent on {event.decision_date}" if event.decision_date else ""
            raise EventRejected(f"this person has no fine{on}: nothing to annul")
        fine = fines[-1]
        if fine.annulled_on is not None:
            raise EventRejected(f"the fine of {fine.on} was already annulled on {fine.annulled_on}: nothing to "
                                "correct")
        refund = _annul(fine, ctx)
        return refund + [Communicate("fine_annulled", {"fine_on": fine.on, "amount": fine.amount,
                                                       "refunded": fine.paid, "reason": event.reason,
                                                       "whatif": event.whatif})]

    @staticmethod
    def _fine_paid(state: TermState, event: FinePaid) -> list[Action]:
        """The payment goes to the latest fine; a fine annulled on objection is refunded at once."""
        if not state.fines:
            raise EventRejected("this person has no fine to pay")
        if event.amount <= 0:
            raise EventRejected(f"a payment of {event.amount:.2f} is not a payment: the amount must be above 0.00")
        fine = state.fines[-1]
        fine.paid = (fine.paid or 0) + event.amount
        if fine.annulled_on is not None:
            return [Payment("fine_refunded", {"amount": event.amount, "fine_on": fine.on})]
        return []

    def _fine_decision(self, state: TermState, event: StaffDecision, ctx: Context) -> list[Action]:
        review = state.pending_review
        if review is None:
            raise EventRejected("no fine of this person waits for a staff decision: only an asylum status holder's "
                                "passed term (the Keren rule, alert fine_review) does")
        review.decision, review.decided_on = event.decision, ctx.today
        review.reason = (event.reason or "").strip() or None
        if event.decision == "granted":  # an exceptional fine: the pre-announcement first, then as always
            return self._pre_announce(state, ctx)
        state.closed_reason = "closed_without_fine"  # no fine and no follow-up term
        return _cancel_all(state)

    def _request(self, state: TermState, event: ExtensionRequested, ctx: Context) -> list[Action]:
        if state.pending_request is not None:
            raise EventRejected(f"an extension requested on {state.pending_request.requested_on.isoformat()} is still "
                                "being decided; a new request can be made once it has been decided")
        file = self._file(state, event.ground, event.evidence_date, ctx)
        weeks = ctx.policy.value("extension_decision_weeks", ctx.today)
        life = decision.open_life("extension", "extension_decision", ctx.today, weeks)
        request = ExtensionRequest(ground=event.ground, evidence_date=event.evidence_date, requested_on=ctx.today,
                                   decision_due=life.due(ctx.today), life=life,
                                   rules_failed=term_rules.failed_rules(file, ctx.policy), term_end_before=state.end)
        state.extensions.append(request)
        if ctx.policy.value("extension_staff_review", ctx.today):
            return life.timer_actions(ctx.today, ctx.policy)
        outcome = "refused" if request.rules_failed else "granted"
        return self._decide(state, request, outcome, list(request.rules_failed), "rules", ctx)

    def _staff_decision(self, state: TermState, event: StaffDecision, ctx: Context) -> list[Action]:
        request = state.pending_request
        if request is None:
            raise EventRejected("no extension request of this person waits for a decision")
        if not ctx.policy.value("extension_staff_review", request.requested_on):
            raise EventRejected("extensions are decided by the rules (policy extension_staff_review is off); no staff "
                                "decision is awaited")
        reason = (event.reason or "").strip() or None
        failed = request.rules_failed
        if (event.decision == "granted") == bool(failed) and reason is None:
            raise EventRejected(f"a decision '{event.decision}' that departs from the rules "
                                f"({', '.join(failed) or 'every rule is met'}) needs a reason")
        reasons = [] if event.decision == "granted" else (list(failed) or [STAFF_ASSESSMENT])
        return self._decide(state, request, event.decision, reasons, "staff", ctx, staff_reason=reason)

    def _decide(self, state: TermState, request: ExtensionRequest, outcome: str, reasons: list[str], by: str,
                ctx: Context, staff_reason: str | None = None) -> list[Action]:
        request.decision, request.reasons = outcome, reasons  # type: ignore[assignment]
        request.decided_on, request.decided_by, request.staff_reason = ctx.today, by, staff_reason  # type: ignore
        life = _life(request)
        actions: list[Action] = life.decide(outcome, reasons, ctx.today, ctx.policy)
        actions += life.timer_actions(ctx.today, ctx.policy)
        if outcome == "granted":
            return actions + self._grant(state, request, ctx, by, staff_reason)
        return actions + [self._letter(state, request, by, staff_reason, ctx)]

    def _grant(self, state: TermState, request: ExtensionRequest, ctx: Context, by: str, staff_reason: str | None,
               on_objection: bool = False) -> list[Action]:
        """The extension granted (at once, or on objection): the term moves and runs again."""
        request.decision = "granted"
        file = self._file(state, request.ground, request.evidence_date, ctx, request.requested_on)
        state.end = request.term_end_after = term_rules.extended_end(file, ctx.policy)
        # the term runs again: a pre-announcement not yet followed by a fine is withdrawn
        state.pre_announced_on = state.respond_by = state.intended_fine = None
        state.reminded = []
        return [*self._plan(state, ctx), self._letter(state, request, by, staff_reason, ctx, on_objection)]

    @staticmethod
    def _letter(state: TermState, request: ExtensionRequest, by: str, staff_reason: str | None, ctx: Context,
                on_objection: bool = False) -> Communicate:
        return Communicate("extension_decision", {
            "decision": request.decision, "reasons": [] if on_objection else request.reasons, "ground": request.ground,
            "term_end": state.end, "previous_term_end": request.term_end_before, "requested_on": request.requested_on,
            "decided_by": by, "staff_reason": staff_reason, "on_objection": on_objection,
            "objection_until": None if on_objection else decision.objection_window_end(ctx.today, ctx.policy)})

    @staticmethod
    def _file(state: TermState, ground: str, evidence_date: dt.date, ctx: Context,
              requested_on: dt.date | None = None) -> ExtensionFile:
        return ExtensionFile(ground=ground, evidence_date=evidence_date, requested_on=requested_on or ctx.today,
                             regime=state.regime, term_start=state.start, term_end=state.end,
                             follow_up=state.cycle > 0, listed_hours=state.listed_hours, attempts=parts_taken(ctx))

    # ---- timers -------------------------------------------------------------------------------

    def on_timer(self, state: TermState, timer: Timer, ctx: Context) -> Transition:
        state = state.copy_to_change()
        actions: list[Action] = []
        if timer.kind.startswith(REMINDER + ":"):
            months = int(timer.kind.split(":", 1)[1])
            state.reminded.append(months)
            state.planned = [m for m in state.planned if m != months]
            actions.append(Communicate("term_reminder", {"term_end": state.end, "months_left": months,
                                                         "follow_up": state.cycle > 0}))
        elif timer.kind == TERM_PASSED:
            actions = self._term_passed(state, ctx)
        elif timer.kind == AOW_AGE:
            if state.closed_reason is None:
                state.closed_reason = "obligation_ended"
                state.pre_announced_on = state.respond_by = state.intended_fine = None
                actions = [*_cancel_all(state), ObligationEnded(ctx.today, "aow_age"),
                           Communicate("obligation_ended", {"reason": "aow_age", "term_end": state.end,
                                                            "ended_on": ctx.today})]
        elif timer.kind == FINE:
            actions = self._fine(state, ctx)
        elif timer.kind in decision.TIMERS:
            request = state.pending_request
            if request is not None:
                life = _life(request)
                actions = life.on_timer(timer.kind, ctx.today, ctx.policy, {
                    "ground": request.ground, "requested_on": request.requested_on, "waiting_for": "staff decision"})
                actions += life.timer_actions(ctx.today, ctx.policy)
        else:
            raise NotImplementedError(f"{self.name} has no timer {timer.kind}")
        return self._settle(state, ctx, actions)

    def _term_passed(self, state: TermState, ctx: Context) -> list[Action]:
        keren = _keren(state, ctx)
        waived: list[Action] = [SanctionsWaived(ctx.today)] if keren else []
        if state.counted_fines >= ctx.policy.value("term_fine_cycles", ctx.today):
            return [Alert("term_passed_after_last_fine", {"term_end": state.end, "fines": state.counted_fines}),
                    *waived]
        if keren:  # no pre-announcement: staff decide whether this is an exceptional case
            basis = fine_basis(state, ctx, ctx.today)
            state.reviews.append(FineReview(opened_on=ctx.today, term_end=state.end, basis=basis))
            return [Alert("fine_review", {"term_end": state.end, "amount": basis.amount, "hours": basis.hours,
                                          "parts_taken": basis.parts_taken, "parts_passed": basis.parts_passed}),
                    *waived]
        return self._pre_announce(state, ctx)

    def _pre_announce(self, state: TermState, ctx: Context) -> list[Action]:
        state.pre_announced_on = ctx.today
        state.respond_by = calendar.add_days(ctx.today, ctx.policy.value("fine_response_days", ctx.today))
        basis = fine_basis(state, ctx, ctx.today)
        state.intended_fine = basis.amount
        return [Communicate("term_pre_announcement", {
                    "term_end": state.end, "amount": basis.amount, "respond_by": state.respond_by,
                    "hours": basis.hours, "parts_taken": basis.parts_taken, "parts_passed": basis.parts_passed,
                    "follow_up": state.cycle > 0}),
                OpenDeadline(FINE, calendar.add_days(state.respond_by, 1))]

    def _fine(self, state: TermState, ctx: Context) -> list[Action]:
        # what is known by the end of the response window (a later declaration counts for a later cycle)
        basis = fine_basis(state, ctx, state.respond_by or ctx.today)
        hours, taken, amount = basis.hours, basis.parts_taken, basis.amount
        years = ctx.policy.value("term_follow_up_years", ctx.today)
        new_end = calendar.statutory_term_end(calendar.add_years(ctx.today, years))
        state.fines.append(Fine(on=ctx.today, amount=amount, hours=hours, parts_taken=taken,
                                parts_passed=basis.parts_passed, new_term_end=new_end))
        state.cycle += 1
        state.start, state.end = ctx.today, new_end
        state.pre_announced_on = state.respond_by = state.intended_fine = None
        state.reminded = []
        return [Communicate("fine", {"amount": amount, "hours": hours, "parts_taken": taken,
                                     "parts_passed": basis.parts_passed, "new_term_end": new_end,
                                     "fine_number": len(state.fines)}),
                *self._plan(state, ctx)]

    # ---- the timers of a term -------------------------------------------------------------------

    @staticmethod
    def _plan(state: TermState, ctx: Context) -> list[Action]:
        """The reminders still to come and the day the term passes, for the term as it now ends."""
        actions: list[Action] = _cancel_all(state)
        state.planned = []
        for months in _reminder_months(ctx):
            day = calendar.add_months(state.end, -months)
            if day > ctx.today and months not in state.reminded:
                state.planned.append(months)
                actions.append(OpenDeadline(f"{REMINDER}:{months}", day))
        actions.append(OpenDeadline(TERM_PASSED, calendar.next_working_day_after(state.end)))
        if ctx.person.born is not None:  # state-pension age ends the obligation (a person without a birth date never)
            actions.append(OpenDeadline(AOW_AGE, aow_day(ctx.person.born, ctx.policy)))
        return actions

    # ---- where the case stands ------------------------------------------------------------------

    @staticmethod
    def _settle(state: TermState, ctx: Context, actions: list[Action]) -> Transition:
        if state.closed_reason is not None:
            return Transition(state, state.closed_reason, None, None, actions, closed=True)
        request = state.pending_request
        if request is not None:
            late = _life(request).late_since(ctx.today)
            return Transition(state, "extension_under_review", "staff decision (staff_decision, case extension)",
                              request.requested_on, actions, late_since=late)
        passed = calendar.add_days(state.end, 1) if ctx.today > state.end else None
        review = state.pending_review
        if review is not None:  # late since the term passed: a wait run shows it, with the person's effort
            return Transition(state, FINE_REVIEW, "staff decision on an exceptional fine (staff_decision, case fine)",
                              review.opened_on, actions, late_since=passed or review.opened_on)
        if state.pre_announced_on is not None:
            return Transition(state, "pre_announced", f"the response window to close on {state.respond_by}",
                              state.pre_announced_on, actions, late_since=passed)
        if passed is not None:
            return Transition(state, "term_passed", "a staff decision after the last fine", passed, actions,
                              late_since=passed)
        if any(months <= 3 for months in state.reminded):
            return Transition(state, "term_ending_soon", f"the obligation to be met by {state.end}",
                              calendar.add_months(state.end, -3), actions)
        return Transition(state, "follow_up_term" if state.cycle else "term_running", actions=actions)


def _reminder_months(ctx: Context) -> list[int]:
    return [int(m) for m in str(ctx.policy.value("term_reminder_months", ctx.today)).split(",")]


def declared_hours(state: TermState, ctx: Context, until: dt.date) -> int:
    """The hours at listed schools declared by `until`: an AGI application's integration-course
    and Nt2 hours (school listed at the course's start), or the declarations sent to the term —
    the larger of the two (⚠ both declare the same lessons)."""
    agi = [file.hours.integration + file.hours.nt2 for case in ctx.cases_of("exemption").values()
           if (file := getattr(case, "file", None)) is not None and file.school_listed_at_course_start
           and case.applied_on is not None and case.applied_on <= until]
    sent = sum(d.hours for d in state.declarations if d.received_on <= until)
    return max([sent, *agi])


def fine_basis(state: TermState, ctx: Context, until: dt.date) -> FineBasis:
    """The fine table's amount for what is known by `until` (domain.md §7, term_rules)."""
    attempts = parts_taken(ctx)
    minimum = ctx.policy.value("extension_effort_min_attempts", ctx.today)
    ona = ctx.policy.value("fine_ona_attempts", ctx.today)
    taken = term_rules.parts_taken(attempts, minimum, ona)
    passed = term_rules.parts_passed(attempts)
    reported = state.listed_hours  # every report known today counts
    declared = declared_hours(state, ctx, until)
    hours = term_rules.fine_hours(reported, declared)
    amount = term_rules.fine_amount(ctx.policy, state.regime, ctx.today, hours, taken, passed)
    return FineBasis(hours=hours, reported_hours=reported, declared_hours=declared, attempts=attempts,
                     parts_taken=taken, parts_passed=passed, amount=amount)


def _annul(fine: Fine, ctx: Context) -> list[Action]:
    """A fine annulled (on objection, or by a correction): it counts as no fine — its cycle no
    longer counts, the follow-up term it opened stays — and what was paid is refunded."""
    fine.annulled_on = ctx.today
    return [Payment("fine_refunded", {"amount": fine.paid, "fine_on": fine.on})] if fine.paid else []


def _keren(state: TermState, ctx: Context) -> bool:
    """The Keren rule applies: a Wi2013 asylum status holder whose term (extensions included)
    ends on or after `asylum_sanctions_exceptional_from`."""
    return (state.regime == "wi2013" and ctx.journey.asylum
            and state.end >= ctx.policy.value("asylum_sanctions_exceptional_from", ctx.today))


def _cancel_all(state: TermState) -> list[Action]:
    return [*(CancelDeadline(f"{REMINDER}:{months}") for months in state.planned), CancelDeadline(TERM_PASSED),
            CancelDeadline(FINE), CancelDeadline(AOW_AGE)]


def _life(request: ExtensionRequest) -> DecisionLife:
    """The extension decision's Awb life; a request stored before it had one counts from the request."""
    if request.life is None:
        request.life = decision.open_life("extension", "extension_decision", request.requested_on,
                                          (request.decision_due - request.requested_on).days // 7)
    return request.life
