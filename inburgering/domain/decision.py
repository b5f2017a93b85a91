"""A decision's life under the Awb: one mechanism every deciding process uses (domain.md §8).

Every decision DUO takes on a person — an AGI exemption, an extension, one of the exemptions
of the forms, an objection — is a *beschikking* with the same life. A process keeps one
`DecisionLife` per decision in its case state and says *what* it decides (its rules, its
letter's data); this module gives it the Awb's life:

- **term** (Awb 4:13): `term_weeks` counted from receipt (`term_from`; an objection's from
  the end of the objection period, Awb 7:10), never restarted;
- **suspensions** (Awb 4:15), each with its reason and only for the law's reasons: the
  applicant asked to complete the application (4:5, `completion_request`) until completed
  or the completion term passed unused; the applicant's written consent; the applicant's own
  delay (an unpaid alfa-test invoice, from the invoice until paid). A suspension from day A
  until day B adds B − A days (4:15: from the day after the request up to and including
  the day it ends); overlapping suspensions count each day once;
- **one postponement** (Awb 4:14): announced before the term ends with the new date
  (letter `decision_postponed`), at most `decision_postponement_weeks` (⚠ 8) more — the
  process says when it cannot decide in time (`Decides.postponement_reason`);
- **the Atw**: a term that ends on a Saturday, Sunday or public holiday runs to the next
  working day (the term, the postponed term, the objection period and its term);
- **late**: the day after the term the case is late and process owners get
  `decision_overdue` (a wait run shows it);
- **notice of default and penalty** (Awb 4:17): a notice given after the term ran out
  starts a penalty for each day from the 15th day after the notice up to the day before the
  decision is sent, by the bands of `penalty_day_amounts` (€23, €35, €45) of
  `penalty_band_days` (14) days each, at most 42 days (€1,442); no Atw shift. It is paid
  (`penalty_paid`) the day the decision is sent, or the day the 42 days are full if that
  comes first;
- **objection window** (Awb 6:7, 6:8): `objection_weeks` (6) from the day after the
  decision was sent (ending on a working day by the Atw).

Pure functions and a pydantic model: no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pydantic import BaseModel

from inburgering.domain import calendar
from inburgering.domain.events import Money
from inburgering.domain.policy import Policy
from inburgering.domain.process import (
    Action,
    Alert,
    CancelDeadline,
    Communicate,
    EventRejected,
    Fact,
    OpenDeadline,
    Payment,
)

# The deadline kinds the mechanism opens on the deciding case.
OVERDUE = "decision_overdue"
POSTPONE = "decision_postpone"  # the day DUO decides whether it needs a postponement
PENALTY_FULL = "penalty_full"  # the day the penalty's maximum is reached
COMPLETION_DUE = "completion_due"  # the day after respond_by of a completion request
NOT_CONSIDERED = "incomplete"  # the reason of a decision not to consider an incomplete application

COMPLETION_REQUEST = "completion_request"  # Awb 4:5
APPLICANT_DELAY = "applicant_delay"  # Awb 4:15 lid 2 sub b: a delay that is the applicant's own
APPLICANT_CONSENT = "applicant_consent"  # Awb 4:15 lid 2 sub a: the applicant agreed in writing

# Words for the `case` field of events and letters (scenarios.md): the kind of decision.
KINDS = ("agi", "extension", "exemption", "objection")


@dataclass(frozen=True)
class DecisionRevised(Fact):
    """An objection was granted (domain/objection.py): the decision sent on `sent_on` with the
    letter `letter` is revised with every effect (the term takes it for extension_decision and fine)."""

    letter: str
    sent_on: dt.date
    on: dt.date


class Suspension(BaseModel):
    reason: str  # completion_request | applicant_delay | applicant_consent
    since: dt.date  # the request, the invoice, the consent
    until: dt.date | None = None  # completed, paid, or the completion term passed; None: still running
    what: str | None = None  # in words: what the applicant was asked for

    def days(self, today: dt.date) -> set[dt.date]:
        """The days it suspends: from the day after `since` up to and including `until` (or today)."""
        end = self.until or today
        return {self.since + dt.timedelta(days=n) for n in range(1, (end - self.since).days + 1)}


class Postponement(BaseModel):
    on: dt.date
    weeks: int
    decide_by: dt.date
    reason: str


class Penalty(BaseModel):
    notice_on: dt.date
    days: int = 0
    amount: Money | None = None
    paid_on: dt.date | None = None


class DecisionLife(BaseModel):
    """One decision's Awb life, kept in its process's case state."""

    kind: str  # agi | extension | exemption | objection
    letter: str  # the decision's letter type: agi_decision | extension_decision | ...
    received_on: dt.date
    term_from: dt.date  # receipt (an objection: the end of the objection period)
    term_weeks: int
    suspensions: list[Suspension] = []
    postponement: Postponement | None = None
    outcome: str | None = None  # granted | refused | not_considered (an objection: granted | upheld | ...)
    reasons: list[str] = []
    sent_on: dt.date | None = None  # the day the decision letter was sent
    overdue_alerted_on: dt.date | None = None
    penalty: Penalty | None = None
    timers: dict[str, dt.date] = {}  # the mechanism's deadlines open on the case

    # ---- the term ---------------------------------------------------------------------------------

    @property
    def decided(self) -> bool:
        return self.sent_on is not None

    def open_suspension(self) -> Suspension | None:
        return next((s for s in self.suspensions if s.until is None), None)

    def suspended_days(self, today: dt.date) -> int:
        days: set[dt.date] = set()
        for suspension in self.suspensions:
            days |= suspension.days(today)
        return len(days)

    def due(self, today: dt.date) -> dt.date:
        """The last day to decide, as it stands today (a running suspension moves it daily)."""
        weeks = self.term_weeks + (self.postponement.weeks if self.postponement else 0)
        nominal = calendar.add_days(calendar.add_weeks(self.term_from, weeks), self.suspended_days(today))
        return calendar.statutory_term_end(nominal)

    def late_since(self, today: dt.date) -> dt.date | None:
        """The first late day, when the term ran out undecided and nothing suspends it."""
        if self.decided or self.open_suspension() is not None:
            return None
        due = self.due(today)
        return calendar.add_days(due, 1) if today > due else None

    def suspend(self, reason: str, since: dt.date, what: str | None = None) -> None:
        self.suspensions.append(Suspension(reason=reason, since=since, what=what))

    def resume(self, reason: str, on: dt.date) -> None:
        for suspension in self.suspensions:
            if suspension.reason == reason and suspension.until is None:
                suspension.until = on

    def postpone(self, on: dt.date, reason: str, policy: Policy, weeks_key: str = "decision_postponement_weeks"
                 ) -> Communicate:
        """Awb 4:14: the one postponement, announced with its new date."""
        assert self.postponement is None and not self.decided
        weeks = policy.value(weeks_key, on)
        self.postponement = Postponement(on=on, weeks=weeks, decide_by=on, reason=reason)
        self.postponement.decide_by = self.due(on)
        return Communicate("decision_postponed", {"case": self.kind, "decide_by": self.postponement.decide_by,
                                                  "received_on": self.received_on, "reason": reason})

    # ---- the decision -----------------------------------------------------------------------------

    def decide(self, outcome: str, reasons: list[str], on: dt.date, policy: Policy) -> list[Action]:
        """The decision is sent today: its outcome recorded, its timers ended, a penalty paid."""
        self.outcome, self.reasons, self.sent_on = outcome, list(reasons), on
        for suspension in self.suspensions:
            if suspension.until is None:
                suspension.until = on
        return self._pay_penalty(on, policy)

    def objection_window_end(self, policy: Policy) -> dt.date | None:
        """The last day to object (Awb 6:7, 6:8: from the day after the decision was sent; Atw)."""
        if self.sent_on is None:
            return None
        return objection_window_end(self.sent_on, policy)

    # ---- the penalty (Awb 4:17) ---------------------------------------------------------------------

    def notice_of_default(self, on: dt.date, policy: Policy) -> None:
        """A written notice of default: taken only once the term ran out undecided."""
        if self.decided:
            raise EventRejected(f"this {self.kind} decision was already sent on {self.sent_on.isoformat()}; a notice "
                                "of default is for a decision not taken in time")
        if self.penalty is not None:
            raise EventRejected(f"DUO was already declared in default on this {self.kind} decision on "
                                f"{self.penalty.notice_on.isoformat()}")
        running = self.open_suspension()
        if running is not None:
            raise EventRejected(f"the decision term is suspended since {running.since.isoformat()} "
                                f"({_suspension_words(running)}), so DUO is not late; a notice of default can be "
                                "given once the term has run out")
        due = self.due(on)
        if on <= due:
            raise EventRejected(f"the decision term runs until {due.isoformat()}; DUO can be declared in default "
                                f"from {calendar.add_days(due, 1).isoformat()}")
        self.penalty = Penalty(notice_on=on)

    def _pay_penalty(self, on: dt.date, policy: Policy) -> list[Action]:
        penalty = self.penalty
        if penalty is None or penalty.paid_on is not None:
            return []
        penalty.days = penalty_days(penalty.notice_on, on, policy)
        penalty.amount = penalty_amount(penalty.days, penalty.notice_on, policy)
        penalty.paid_on = on
        if penalty.days == 0:
            return []
        return [Payment("penalty_paid", {"case": self.kind, "amount": penalty.amount, "days": penalty.days,
                                         "notice_on": penalty.notice_on})]

    # ---- the timers ---------------------------------------------------------------------------------

    def on_timer(self, kind: str, today: dt.date, policy: Policy, alert_data: dict,
                 postpone_reason: str | None = None, weeks_key: str = "decision_postponement_weeks") -> list[Action]:
        """The mechanism's timers: postpone (when the process gives a reason it cannot decide in
        time), late, penalty full. Other kinds are the process's own: nothing happens here."""
        if kind == POSTPONE:
            if postpone_reason and self.postponement is None and not self.decided:
                return [self.postpone(today, postpone_reason, policy, weeks_key)]
            return []
        if kind == OVERDUE and not self.decided and self.late_since(today) is not None:
            self.overdue_alerted_on = today
            due = self.due(today)
            return [Alert(OVERDUE, {"case": self.kind, "received_on": self.received_on, "decision_due": due,
                                    "days_late": (today - due).days, **alert_data})]
        if kind == PENALTY_FULL and not self.decided:
            return self._pay_penalty(today, policy)
        return []

    def wanted_timers(self, today: dt.date, policy: Policy) -> dict[str, dt.date]:
        wanted: dict[str, dt.date] = {}
        if self.decided:
            return wanted
        if self.open_suspension() is None:
            due = self.due(today)
            if self.overdue_alerted_on is None:
                wanted[OVERDUE] = calendar.add_days(due, 1)
            if self.postponement is None:
                notice = policy.value("decision_postponement_notice_days", self.received_on)
                wanted[POSTPONE] = max(calendar.add_days(due, -notice), today)
        if self.penalty is not None and self.penalty.paid_on is None:
            wanted[PENALTY_FULL] = penalty_full_on(self.penalty.notice_on, policy)
        return wanted

    def timer_actions(self, today: dt.date, policy: Policy) -> list[Action]:
        """Open, move or cancel the mechanism's deadlines to what the life wants now."""
        wanted = self.wanted_timers(today, policy)
        actions: list[Action] = [CancelDeadline(kind) for kind in self.timers if kind not in wanted]
        actions += [OpenDeadline(kind, due) for kind, due in wanted.items() if self.timers.get(kind) != due]
        self.timers = wanted
        return actions


def _suspension_words(suspension: Suspension) -> str:
    return {COMPLETION_REQUEST: f"DUO asked for {suspension.what or 'missing documents'} to complete the application",
            APPLICANT_DELAY: suspension.what or "a delay of the applicant's own",
            APPLICANT_CONSENT: "the applicant agreed to a delay"}.get(suspension.reason, suspension.reason)


def open_life(kind: str, letter: str, received_on: dt.date, weeks: int, term_from: dt.date | None = None
              ) -> DecisionLife:
    return DecisionLife(kind=kind, letter=letter, received_on=received_on, term_from=term_from or received_on,
                        term_weeks=weeks)


# ---- plain rules -------------------------------------------------------------------------------------


def completion_request(life: DecisionLife, on: dt.date, missing: str, policy: Policy) -> tuple[dt.date, list[Action]]:
    """Awb 4:5: ask for what is missing by a date (`completion_days` ⚠ 28 after the request), the
    term suspended meanwhile. Returns the respond-by date, the letter and the deadline
    (`COMPLETION_DUE`, the day after respond_by: the process then decides `not_considered`)."""
    respond_by = calendar.add_days(on, policy.value("completion_days", on))
    life.suspend(COMPLETION_REQUEST, on, missing)
    return respond_by, [Communicate("completion_request", {"case": life.kind, "missing": missing,
                                                            "respond_by": respond_by, "received_on": life.received_on}),
                        OpenDeadline(COMPLETION_DUE, calendar.add_days(respond_by, 1))]


def not_completed(life: DecisionLife, respond_by: dt.date) -> tuple[str, list[str]]:
    """Awb 4:5: not completed by respond_by — the suspension ended that day; the decision (outcome, reasons)."""
    life.resume(COMPLETION_REQUEST, respond_by)
    return "not_considered", [NOT_CONSIDERED]


def objection_window_end(sent_on: dt.date, policy: Policy) -> dt.date:
    """Awb 6:7/6:8: `objection_weeks` from the day after the decision was sent; Atw."""
    return calendar.statutory_term_end(calendar.add_weeks(sent_on, policy.value("objection_weeks", sent_on)))


def first_penalty_day(notice_on: dt.date, policy: Policy) -> dt.date:
    """Awb 4:17 lid 1: the penalty runs from the 15th day after the notice (two weeks later)."""
    return calendar.add_days(notice_on, policy.value("penalty_after_days", notice_on) + 1)


def _bands(notice_on: dt.date, policy: Policy) -> tuple[int, list[Decimal]]:
    amounts = [Decimal(a) for a in str(policy.value("penalty_day_amounts", notice_on)).split(",")]
    return policy.value("penalty_band_days", notice_on), amounts


def max_penalty_days(notice_on: dt.date, policy: Policy) -> int:
    band, amounts = _bands(notice_on, policy)
    return band * len(amounts)


def penalty_full_on(notice_on: dt.date, policy: Policy) -> dt.date:
    """The first day on which every penalty day has run, even if the decision is sent that day."""
    return calendar.add_days(first_penalty_day(notice_on, policy), max_penalty_days(notice_on, policy))


def penalty_days(notice_on: dt.date, sent_on: dt.date, policy: Policy) -> int:
    """Awb 4:17 lid 3: the days from the first penalty day up to the day before the decision,
    at most the maximum (42). No Atw shift: it counts calendar days."""
    days = (sent_on - first_penalty_day(notice_on, policy)).days
    return max(0, min(days, max_penalty_days(notice_on, policy)))


def penalty_amount(days: int, notice_on: dt.date, policy: Policy) -> Decimal:
    """Awb 4:17 lid 2: €23 a day for the first 14 days, €35 for the next 14, €45 after."""
    band, amounts = _bands(notice_on, policy)
    total = Decimal("0.00")
    for n in range(days):
        total += amounts[min(n // band, len(amounts) - 1)]
    return total.quantize(Decimal("0.01"))


TIMERS = (OVERDUE, POSTPONE, PENALTY_FULL)
