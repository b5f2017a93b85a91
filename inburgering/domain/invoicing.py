"""School invoices waiting for acceptance, the quarter cap and the loan (domain.md §4–5).

Each invoice is a case of its own (key `invoice:<school>:<number>`), so process owners
and the Prefect UI see every invoice's wait; the person's loan is the case `loan`.
The quarter cap and what is left of the loan are derived from all of the person's
invoice cases (see invoicing_ledger), so no second copy of the money can drift.

Rules:
- `invoice_submitted` is checked at the border: fees are not negative and not all
  zero, a stated `total` equals course + materials + exam fee, period_from ≤ period_to
  ≤ invoice_date, the school is in the register of quality-marked schools on the
  invoice date (policy `invoice_school_register`; none set: every school counts as
  listed), and the same invoice number from the same school is never taken twice.
  A refused submission is a rejected event with every reason at once; it changes
  nothing, and the school gets the reasons as the answer to its submission.
- A valid invoice is open ("Factuur is openstaand"); the person is e-mailed
  (`invoice_waiting`), reminded every `invoice_reminder_after_days` (at most
  `invoice_reminders_max` times; each interval counted from the reminder actually sent,
  so a late monitor run sends one reminder, not several identical ones at once), and
  process owners get `invoice_waiting_long` after `invoice_waiting_long_after_days`. All are durable deadlines.
- Once the obligation is met (the journey's fact), invoices for lessons after that day
  are refused, and invoices for lessons before it only when they reach DUO within
  `invoice_after_obligation_months` (4) of it (domain.md §4).
- `invoice_accepted` releases the invoice ("Factuur is vrijgegeven") and DUO pays the
  school from the loan: only if what is left of the loan covers the whole total, and
  at most `invoice_quarter_cap` per person per quarter. An invoice counts in the quarter
  of its lessons ⚠ (the quarter its `period_to` falls in), not the day it was accepted:
  accepting late does not move lessons into an emptier quarter. The seed's two rules:
  - one school in that quarter: with `invoice_excess: defer` (the seed) the part above
    the cap is billed a quarter later — paid on the next quarter's first day within its
    cap, deferred again if need be, or at once when that quarter has begun already; with
    `refuse` the part above the cap is not paid;
  - more than one school in that quarter, since `invoice_cap_schools_added_up_from`
    (2021-01-01): their invoices are added up and the part above the cap is not paid
    and not deferred ("DUO cannot pay all invoices"); before that day each school's
    invoices count against the cap on their own.
  Whenever DUO does not pay (all or part), school and person are told why.
- `invoice_refused` (by the person, with a reason) closes the invoice unpaid and tells
  the school why ("Factuur is geweigerd").
- An acceptance or refusal of an invoice that is not open is rejected with a reason.
- `loan_granted` sets the loan amount, at most `loan_maximum` (policy by date); it
  cannot be set below what has already been paid or promised to schools from it.
- When the obligation is met, a person with a loan gets the `repayment_notice` ⚠: repaying
  starts `repayment_start_months` (6) after the end of the integration.
- By who the person is (domain.md §1, the journey's `category`): under the Wi2021 the
  municipality pays an asylum status holder's course, so a `loan_granted` for one is
  refused with the reason; under the Wi2013 an asylum status holder's loan is forgiven
  (letter `loan_forgiven`: amount, what was paid from it) instead of the repayment notice
  when the obligation is met within the term, extensions included (not in a follow-up term
  after a fine; the exam parts passed within the term count, the PVT may come later), and
  under the Keren rule on the day the term passes (the term's `SanctionsWaived`): never
  recovered. A forgiven loan gets no repayment notice afterwards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from inburgering.domain import calendar
from inburgering.domain.events import (
    Correction,
    Event,
    InvoiceAccepted,
    InvoiceRefused,
    InvoiceSubmitted,
    LoanGranted,
    Money,
)
from inburgering.domain.invoicing_ledger import (
    ZERO,
    Account,
    Deferral,
    LedgerEntry,
    PaidPart,
    account_of,
    room_in_quarter,
    school_key,
    split_payment,
)
from inburgering.domain.journey import JourneyState, ObligationMet, SanctionsWaived
from inburgering.domain.money import fmt
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

# Statuses as Mijn Inburgering names them.
OPEN = "Factuur is openstaand"
RELEASED = "Factuur is vrijgegeven"
REFUSED = "Factuur is geweigerd"
NOT_PAID = "Factuur is niet betaald"
LOAN_SET = "Lening is vastgesteld"

LOAN_KEY = "loan"
MAX_KEY_LENGTH = 200  # cases.key

# Durable timers of an invoice case.
REMINDER = "invoice_reminder"
WAITING_LONG = "invoice_waiting_long"
DEFERRED_PAYMENT = "invoice_deferred_payment"

# Why DUO itself does not pay an accepted invoice (beside the person's refusal reasons).
CAP_EXCEEDED = "quarter_cap_exceeded"
LOAN_INSUFFICIENT = "loan_insufficient"

PERSON_REASONS = {
    "amount_wrong": "the invoice amount is not right",
    "number_wrong": "the invoice number is not right",
    "incomplete": "the invoice is not complete",
    "other": "another reason",
}


# ---- state ----------------------------------------------------------------------------------


class Invoice(BaseModel):
    """The invoice as the school sent it (domain.md §4 fields)."""

    model_config = ConfigDict(extra="forbid")
    school: str
    number: str
    contract_number: str
    course_type: str
    description: str
    invoice_date: dt.date
    period_from: dt.date
    period_to: dt.date
    courses: int
    course_fee: Money
    materials_fee: Money
    exam_fee: Money
    total: Money
    received_on: dt.date


class InvoiceFile(BaseModel):
    """An invoice and what became of it."""

    model_config = ConfigDict(extra="forbid")
    invoice: Invoice
    outcome: Literal["open", "accepted", "refused", "not_paid"] = "open"
    decided_on: dt.date | None = None
    reason: str | None = None  # a refusal reason, the person's or DUO's
    reason_text: str | None = None
    paid: list[PaidPart] = []
    deferred: Deferral | None = None
    unpaid: Money | None = None  # the part above the quarter cap DUO does not pay
    reminders_sent: int = 0
    waiting_long_since: dt.date | None = None  # process owners were alerted: late from then

    def is_invoice(self, school: str, number: str) -> bool:
        return _same(self.invoice.school, school) and _same(self.invoice.number, number)


class LoanFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Money
    set_on: dt.date
    repayment_from: dt.date | None = None  # told once the obligation is met
    forgiven_on: dt.date | None = None  # an asylum status holder's loan (domain.md §1)


class InvoicingState(State):
    """An invoicing case is either one invoice or the person's loan."""

    invoice: InvoiceFile | None = None
    loan: LoanFile | None = None


# ---- pure rules -------------------------------------------------------------------------------


def _same(a: str, b: str) -> bool:
    """Invoice numbers and school names compare without case or extra spaces."""
    return school_key(a) == school_key(b)


def lessons_quarter(invoice: Invoice) -> str:
    """⚠ The quarter an invoice counts in: the quarter its lessons ended in."""
    return calendar.quarter_of(invoice.period_to)


def invoice_key(school: str, number: str) -> str:
    key = f"invoice:{school}:{number}"
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "invoice:" + hashlib.sha256(f"{school}\0{number}".encode()).hexdigest()


def listed_schools(register: str | None) -> list[str] | None:
    """The policy's register of quality-marked schools; None: there is no register."""
    if register is None:
        return None
    return [name.strip() for name in register.split(";") if name.strip()]


def submission_problems(event: InvoiceSubmitted, register: list[str] | None) -> list[str]:
    """Everything wrong with a submitted invoice, in words the school can act on."""
    problems = []
    fees = {"course_fee": event.course_fee, "materials_fee": event.materials_fee, "exam_fee": event.exam_fee}
    problems += [f"{name} is €{fmt(amount)}: amounts cannot be negative" for name, amount in fees.items() if amount < 0]
    total = sum(fees.values(), ZERO)
    if event.total is not None and event.total != total:
        problems.append(f"the total €{fmt(event.total)} is not course_fee + materials_fee + exam_fee = €{fmt(total)}")
    if total == ZERO and not problems:
        problems.append("the invoice asks for €0.00: there is nothing to pay")
    if event.period_from > event.period_to:
        problems.append(f"the period starts ({event.period_from}) after it ends ({event.period_to})")
    if event.period_to > event.invoice_date:
        problems.append(f"the period ends ({event.period_to}) after the invoice date ({event.invoice_date}): "
                        "a school invoices only lessons that took place")
    if register is not None and not any(_same(event.school, listed) for listed in register):
        problems.append(f"{event.school} is not in the register of quality-marked schools on the invoice date "
                        f"{event.invoice_date}; only listed schools are paid from the loan")
    return problems


def after_obligation_problems(event: InvoiceSubmitted, journey: JourneyState, months: int) -> list[str]:
    """Invoices once the obligation is met: no lessons after that day, and lessons before it
    only when the invoice reaches DUO within `months` of it."""
    if journey.met_on is None:
        return []
    if event.period_to > journey.met_on:
        return [f"the lessons run until {event.period_to}, after {journey.met_words()}: lessons after that day "
                "are not paid from the loan"]
    limit = calendar.add_months(journey.met_on, months)
    if event.date > limit:
        return [f"{journey.met_words()}: invoices for lessons before that day must reach DUO within {months} "
                f"months, by {limit}; this one came on {event.date}"]
    return []


def _not_open_reason(file: InvoiceFile) -> str:
    number, on = file.invoice.number, file.decided_on
    if file.outcome == "accepted":
        return f"invoice {number} was already accepted on {on}; an invoice is accepted only once"
    if file.outcome == "refused":
        return f"invoice {number} was refused on {on} ({file.reason}); the school must send a new invoice"
    return (f"invoice {number} was accepted on {on} but not paid ({file.reason}); "
            "the school must send a new invoice")


# ---- the process ----------------------------------------------------------------------------------


def _forgiven_when_met(fact: ObligationMet, ctx: Context) -> bool:
    """A Wi2013 asylum status holder met the obligation within the term, extensions included
    (the first term, not a follow-up term after a fine; the exam parts passed within it count)."""
    journey, term = ctx.journey, ctx.case("term")
    if journey.regime != "wi2013" or not journey.asylum or term is None or term.cycle > 0:
        return False
    return min(fact.on, term.satisfied_on or fact.on) <= term.end


class InvoicingProcess(Process):
    name = "invoicing"
    state_model = InvoicingState
    event_types: tuple[str, ...] = ("loan_granted", "invoice_submitted", "invoice_accepted", "invoice_refused",
                                     "correction")
    facts = (ObligationMet, SanctionsWaived)

    # -- which case ---------------------------------------------------------------------

    def handles(self, event: Event) -> bool:
        if isinstance(event, Correction):
            return event.what == "forgive_loan"
        return super().handles(event)

    def case_key(self, event: Event, ctx: Context) -> str:
        if isinstance(event, (LoanGranted, Correction)):
            return LOAN_KEY
        files = self._invoice_files(ctx)
        if isinstance(event, InvoiceSubmitted):
            for key, file in files.items():
                if file.is_invoice(event.school, event.invoice_number):
                    raise EventRejected(
                        f"invoice {event.invoice_number} from {event.school} was already received on "
                        f"{file.invoice.received_on}; the same invoice number is taken only once — "
                        "a corrected invoice needs a new invoice number")
            return invoice_key(event.school, event.invoice_number)
        number = event.invoice_number  # type: ignore[attr-defined]
        matches = {key: file for key, file in files.items() if _same(file.invoice.number, number)}
        still_open = [key for key, file in matches.items() if file.outcome == "open"]
        if len(still_open) == 1:
            return still_open[0]
        if len(still_open) > 1:
            schools = ", ".join(sorted(matches[key].invoice.school for key in still_open))
            raise EventRejected(f"more than one open invoice has number {number} (from {schools}); "
                                "record the decision for each invoice with staff")
        if matches:
            latest = max(matches.values(), key=lambda f: (f.decided_on or dt.date.min, f.invoice.received_on))
            raise EventRejected(_not_open_reason(latest))
        raise EventRejected(f"there is no invoice {number} for this person; check the invoice number")

    def opens_case(self, event: Event) -> bool:
        return isinstance(event, (LoanGranted, InvoiceSubmitted, Correction))  # a correction: see _forgive

    def no_case_reason(self, event: Event) -> str:
        return f"there is no open invoice {getattr(event, 'invoice_number', '')} for this person"

    def new_state(self, event: Event, ctx: Context) -> InvoicingState:
        return InvoicingState()

    # -- events -------------------------------------------------------------------------

    def on_event(self, state: InvoicingState, event: Event, ctx: Context) -> Transition:
        state = state.copy_to_change()
        if isinstance(event, LoanGranted):
            return self._set_loan(state, event, ctx)
        if isinstance(event, InvoiceSubmitted):
            return self._submit(state, event, ctx)
        if isinstance(event, Correction):
            return self._forgive(state, event, ctx)
        file = state.invoice
        if file is None or file.outcome != "open":  # case_key finds only open invoices
            raise EventRejected(_not_open_reason(file) if file else self.no_case_reason(event))
        file.decided_on = event.date
        actions: list[Action] = [CancelDeadline(REMINDER), CancelDeadline(WAITING_LONG)]
        if isinstance(event, InvoiceAccepted):
            return self._accept(state, file, ctx, actions)
        assert isinstance(event, InvoiceRefused)
        file.outcome, file.reason, file.reason_text = "refused", event.reason, event.reason_text
        actions.append(self._tell_school(file))
        return self._settle(state, actions)

    def _set_loan(self, state: InvoicingState, event: LoanGranted, ctx: Context) -> Transition:
        journey = ctx.journey
        if journey.regime == "wi2021" and journey.asylum:
            raise EventRejected("an asylum status holder integrating under the Wi2021 gets no DUO loan: the "
                                "municipality pays the integration course")
        if event.amount < 0:
            raise EventRejected(f"a loan of €{fmt(event.amount)} is not possible: the amount cannot be negative")
        maximum = ctx.policy.money("loan_maximum", event.date)
        if event.amount > maximum:
            raise EventRejected(f"a loan of €{fmt(event.amount)} is more than the maximum of €{fmt(maximum)} "
                                f"in force on {event.date}")
        spent = self._account(ctx, exclude=None)
        used = spent.paid + spent.deferred
        if event.amount < used:
            raise EventRejected(f"the loan cannot be set to €{fmt(event.amount)}: €{fmt(used)} has already been "
                                "paid or promised to schools from it")
        state.loan = LoanFile(amount=event.amount, set_on=event.date)
        return self._settle(state, [LedgerEntry("loan_granted", event.amount, event.amount - used)])

    def _submit(self, state: InvoicingState, event: InvoiceSubmitted, ctx: Context) -> Transition:
        register = listed_schools(ctx.policy.value("invoice_school_register", event.invoice_date))
        problems = submission_problems(event, register) + after_obligation_problems(
            event, ctx.journey, ctx.policy.value("invoice_after_obligation_months", event.date))
        if problems:
            raise EventRejected(f"invoice {event.invoice_number} from {event.school} is not taken: "
                                + "; ".join(problems))
        fields = event.model_dump(include=set(Invoice.model_fields) - {"number", "total", "received_on"})
        invoice = Invoice(**fields, number=event.invoice_number, received_on=event.date,
                          total=event.course_fee + event.materials_fee + event.exam_fee)
        state.invoice = InvoiceFile(invoice=invoice)
        actions: list[Action] = [
            Communicate("invoice_waiting", self._about(invoice), kind="email"),
            OpenDeadline(WAITING_LONG, invoice.received_on + dt.timedelta(
                days=ctx.policy.value("invoice_waiting_long_after_days", invoice.received_on))),
        ]
        actions += self._next_reminder(state.invoice, invoice.received_on, ctx)
        return self._settle(state, actions)

    def _accept(self, state: InvoicingState, file: InvoiceFile, ctx: Context, actions: list[Action]) -> Transition:
        file.outcome = "accepted"
        account = self._account(ctx, exclude=file)
        total = file.invoice.total
        if total > account.left:
            return self._not_paid(state, file, LOAN_INSUFFICIENT, {"loan_left": account.left}, actions)
        quarter = lessons_quarter(file.invoice)
        room, excess = self._room(file.invoice.school, quarter, account, ctx)
        if room == 0 and total > 0 and excess == "refuse":
            return self._not_paid(state, file, CAP_EXCEEDED, self._cap_details(quarter, room, total, ctx), actions)
        return self._settle(state, actions + self._pay(file, total, quarter, room, excess, account, ctx))

    def _cap_details(self, quarter: str, room: Decimal, amount: Decimal, ctx: Context) -> dict:
        return {"quarter": quarter, "quarter_cap": self._cap(quarter, ctx), "room": room,
                "amount_not_paid": amount - room}

    def _not_paid(self, state: InvoicingState, file: InvoiceFile, reason: str, details: dict,
                  actions: list[Action]) -> Transition:
        """DUO does not pay an accepted invoice: school and person are told why."""
        file.outcome, file.reason = "not_paid", reason
        return self._settle(state, actions + self._tell(file, reason, {"amount_not_paid": file.invoice.total,
                                                                      **details}))

    def _tell(self, file: InvoiceFile, reason: str, details: dict) -> list[Action]:
        return [self._tell_school(file, details),
                Communicate("invoice_not_paid", {**self._about(file.invoice), "reason": reason, **details},
                            kind="email")]

    # -- timers -------------------------------------------------------------------------

    def on_timer(self, state: InvoicingState, timer: Timer, ctx: Context) -> Transition:
        state = state.copy_to_change()
        file = state.invoice
        actions: list[Action] = []
        if file is None:
            raise NotImplementedError(f"the loan case has no timer {timer.kind}")
        if timer.kind == REMINDER and file.outcome == "open":
            file.reminders_sent += 1
            actions.append(Communicate("invoice_reminder", {
                **self._about(file.invoice), "waiting_since": file.invoice.received_on}, kind="email"))
            # The next one counts from the day this one went out, not from the day it was due:
            # a monitor that ran late (a catch-up) sends one reminder, never a burst of the same
            # e-mail on one day. When the monitor runs every day the two are the same day.
            actions += self._next_reminder(file, ctx.today, ctx)
        elif timer.kind == WAITING_LONG and file.outcome == "open":
            file.waiting_long_since = timer.due
            actions.append(Alert("invoice_waiting_long", {
                **self._about(file.invoice), "waiting_since": file.invoice.received_on,
                "days_waiting": (ctx.today - file.invoice.received_on).days}))
        elif timer.kind == DEFERRED_PAYMENT and file.deferred is not None:
            quarter = file.deferred.to_quarter
            account = self._account(ctx, exclude=file)
            # The monitor fires deferrals oldest first: each competes only with what was paid.
            room, excess = self._room(file.invoice.school, quarter, account, ctx, deferrals_first=False)
            actions += self._pay(file, file.deferred.amount, quarter, room, excess, account, ctx)
        elif timer.kind not in (REMINDER, WAITING_LONG, DEFERRED_PAYMENT):
            raise NotImplementedError(f"{self.name} has no timer {timer.kind}")
        return self._settle(state, actions)

    # -- money ----------------------------------------------------------------------------

    def _pay(self, file: InvoiceFile, amount: Decimal, quarter: str, room: Decimal, excess: str,
             account: Account, ctx: Context) -> list[Action]:
        """Pay in `quarter` what its room allows. The excess is, under `refuse` (or with another
        school in the quarter), not paid — school and person are told — and otherwise billed a
        quarter later: paid on the next quarter's first day, or at once when that quarter has
        begun already (lessons accepted late)."""
        number, school = file.invoice.number, file.invoice.school
        since = file.deferred.since if file.deferred else ctx.today
        file.deferred = None
        paid: list[tuple[str, Decimal]] = []  # (quarter counted in, amount) paid today
        deferred: tuple[str, Decimal] | None = None
        refused: dict | None = None
        while True:
            split = split_payment(amount, room)
            if split.now > 0:
                paid.append((quarter, split.now))
            if split.later == 0:
                break
            if excess == "refuse":
                refused = self._cap_details(quarter, room, amount, ctx)
                break
            quarter, amount = calendar.next_quarter(quarter), split.later
            if calendar.quarter_start(quarter) > ctx.today:
                deferred = (quarter, amount)
                break
            room, excess = self._room(school, quarter, account, ctx)
        # `account` is without what this pays or promises: what is left of the loan after it.
        loan_left = account.left - sum((a for _, a in paid), ZERO) - (deferred[1] if deferred else ZERO)
        actions: list[Action] = []
        for counted_in, now in paid:
            file.paid.append(PaidPart(on=ctx.today, quarter=counted_in, amount=now))
            actions += [Payment("school_paid", {"invoice_number": number, "amount": now, "quarter": counted_in,
                                                "school": school}),
                        LedgerEntry("school_paid", now, loan_left, counted_in, number, school)]
        if deferred is not None:
            to_quarter, later = deferred
            file.deferred = Deferral(amount=later, to_quarter=to_quarter, since=since)
            actions += [Payment("payment_deferred", {"invoice_number": number, "amount": later,
                                                     "to_quarter": to_quarter, "school": school}),
                        LedgerEntry("payment_deferred", later, loan_left, to_quarter, number, school),
                        OpenDeadline(DEFERRED_PAYMENT, calendar.quarter_start(to_quarter),
                                     {"invoice_number": number, "amount": later})]
        if refused is not None:
            file.reason, file.unpaid = CAP_EXCEEDED, (file.unpaid or ZERO) + refused["amount_not_paid"]
            actions += self._tell(file, CAP_EXCEEDED, refused)
        return actions

    def _room(self, school: str, quarter: str, account: Account, ctx: Context, *,
              deferrals_first: bool = True) -> tuple[Decimal, str]:
        """What `quarter` can still pay `school`, and what becomes of an excess (defer | refuse).

        Since `invoice_cap_schools_added_up_from` every school's payments count against one
        cap, and with another school in the quarter the excess is not paid; before it, each
        school has the cap to itself. Amounts deferred to the quarter (or an earlier one)
        and still waiting come first, unless they are what is being paid."""
        first_day = calendar.quarter_start(quarter)
        added_up = first_day >= ctx.policy.value("invoice_cap_schools_added_up_from", first_day)
        over = None if added_up else school
        used = account.paid_in(quarter, over) + (account.waiting_for(quarter, over) if deferrals_first else ZERO)
        several_schools = added_up and bool(account.schools_in(quarter) - {school_key(school)})
        excess = "refuse" if several_schools else ctx.policy.value("invoice_excess", first_day)
        return room_in_quarter(self._cap(quarter, ctx), used), excess

    @staticmethod
    def _cap(quarter: str, ctx: Context) -> Decimal:
        """A quarter's cap is the one in force on its first day."""
        return ctx.policy.money("invoice_quarter_cap", calendar.quarter_start(quarter))

    def _invoice_files(self, ctx: Context) -> dict[str, InvoiceFile]:
        return {key: state.invoice for key, state in ctx.cases_of(self.name).items() if state.invoice is not None}

    def _account(self, ctx: Context, exclude: InvoiceFile | None) -> Account:
        """The loan and every invoice's payments and deferrals, but for `exclude`'s deferral."""
        loan_case = ctx.case(self.name, LOAN_KEY)
        loan = loan_case.loan.amount if loan_case is not None and loan_case.loan is not None else ZERO
        others = [f for f in self._invoice_files(ctx).values()
                  if exclude is None or not f.is_invoice(exclude.invoice.school, exclude.invoice.number)]
        books = [(f.invoice.school, f.paid, f.deferred) for f in others]
        if exclude is not None:  # its own earlier payments count in their quarters too
            books.append((exclude.invoice.school, exclude.paid, None))
        return account_of(loan, books)

    # -- facts -------------------------------------------------------------------------------

    def fact_case_key(self, fact: Fact, ctx: Context) -> str | None:
        loan = ctx.case(self.name, LOAN_KEY)
        return LOAN_KEY if loan is not None and loan.loan is not None else None

    def on_fact(self, state: InvoicingState, fact: Fact, ctx: Context) -> Transition:
        """The obligation was met: the person is told when repaying the loan starts, or that an
        asylum status holder's loan is forgiven; under the Keren rule it is forgiven when the term passes."""
        assert isinstance(fact, (ObligationMet, SanctionsWaived)) and state.loan is not None
        state = state.copy_to_change()
        if state.loan.forgiven_on is not None or state.loan.repayment_from is not None:
            return self._settle(state, [])  # forgiven, or told already
        account = self._account(ctx, exclude=None)
        if isinstance(fact, SanctionsWaived) or _forgiven_when_met(fact, ctx):
            return self._forgiven(state, fact.on, account, {
                "reason": "term_passed" if isinstance(fact, SanctionsWaived) else "obligation_met_in_term",
                "obligation_met_on": getattr(fact, "on", None) if isinstance(fact, ObligationMet) else None})
        state.loan.repayment_from = calendar.add_months(
            fact.on, ctx.policy.value("repayment_start_months", fact.on))
        return self._settle(state, [Communicate("repayment_notice", {
            "obligation_met_on": fact.on, "met_by": fact.by, "repayment_from": state.loan.repayment_from,
            "borrowed": state.loan.amount, "paid_out": account.paid, "promised": account.deferred})])

    def _forgive(self, state: InvoicingState, event: Correction, ctx: Context) -> Transition:
        """A what-if's correction (architecture.md §14), approved by staff: the loan forgiven, with
        the letter `loan_forgiven` (reason correction), also after a repayment notice. It reaches
        the loan case however it stands; refused, with the reason, where the case file already
        differs: no loan, or forgiven already (a correction never opens a case: the casebook
        forgets the new one when this refuses)."""
        if state.loan is None:
            raise EventRejected("this person has no loan: nothing to forgive")
        if state.loan.forgiven_on is not None:
            raise EventRejected(f"the loan was already forgiven on {state.loan.forgiven_on}: nothing to correct")
        return self._forgiven(state, ctx.today, self._account(ctx, exclude=None),
                              {"reason": "correction", "correction": event.reason, "whatif": event.whatif,
                               "repayment_from": state.loan.repayment_from})

    def _forgiven(self, state: InvoicingState, on: dt.date, account: Account, why: dict) -> Transition:
        """The loan forgiven from `on`: nothing paid from it is asked back (letter loan_forgiven)."""
        assert state.loan is not None
        state.loan.forgiven_on = on
        return self._settle(state, [Communicate("loan_forgiven", {
            "amount": account.paid, "borrowed": state.loan.amount, "promised": account.deferred, **why})])

    # -- communication and status ------------------------------------------------------------

    @staticmethod
    def _about(invoice: Invoice) -> dict:
        return {"invoice_number": invoice.number, "total": invoice.total, "school": invoice.school,
                "invoice_date": invoice.invoice_date, "contract_number": invoice.contract_number}

    def _tell_school(self, file: InvoiceFile, details: dict | None = None) -> Communicate:
        return Communicate("invoice_refused_to_school", {
            **self._about(file.invoice), "reason": file.reason, "reason_text": file.reason_text, **(details or {}),
        }, kind="notice", to="school")

    @staticmethod
    def _next_reminder(file: InvoiceFile, after: dt.date, ctx: Context) -> list[Action]:
        received = file.invoice.received_on
        if file.reminders_sent >= ctx.policy.value("invoice_reminders_max", received):
            return []
        return [OpenDeadline(REMINDER, after + dt.timedelta(days=ctx.policy.value("invoice_reminder_after_days",
                                                                                   received)))]

    @staticmethod
    def _settle(state: InvoicingState, actions: list[Action]) -> Transition:
        """Where the case stands, in the words process owners read."""
        file = state.invoice
        if file is None:
            return Transition(state, LOAN_SET, actions=actions)
        if file.outcome == "open":
            return Transition(state, OPEN, "the person to accept or refuse the invoice in Mijn Inburgering",
                              file.invoice.received_on, actions, late_since=file.waiting_long_since)
        if file.outcome == "accepted" and file.deferred is not None:
            return Transition(state, RELEASED, f"the deferred €{fmt(file.deferred.amount)} to be paid in "
                              f"{file.deferred.to_quarter} (quarter cap)", file.deferred.since, actions)
        status = {"accepted": RELEASED, "refused": REFUSED, "not_paid": NOT_PAID}[file.outcome]
        return Transition(state, status, actions=actions, closed=True)
