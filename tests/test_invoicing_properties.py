"""Property tests: random streams of invoices through the pure invoicing process.

The engine's casebook drives them in memory (engine/casebook.py: the one way events,
timers and facts are applied, as the engine applies them), without SQL, so hundreds of
random journeys of a year and a half run in seconds. Streams start in 2020 (each school has the
cap to itself until 2021) or in 2022 (several schools in a quarter are added up).

What is checked, for every stream (a payment "counts in" the quarter of its lessons, or
the quarter it was deferred to):
1. cap:        per quarter, the school_paid amounts counting in it sum to at most that
               quarter's cap — over all schools from 2021, per school before — and every
               payment is dated on or after the first day of the quarter it counts in;
2. not twice:  an invoice is paid at most once per quarter, never more than its total,
               and an invoice that is open, refused or not paid is paid nothing;
3. balance:    for each accepted (released) invoice, paid + still deferred + not paid
               (the excess DUO cannot pay) == its total; summed: paid + deferred-still-
               pending == the totals of released invoices less what was not paid; every
               deferral still pending at the end waits for a quarter after the last
               simulated day (the monitor never forgets one);
4. loan:       after every step, loan - paid - promised >= 0;
5. no waste:   an amount is deferred out of a quarter, or left unpaid, only when that
               quarter's payments reach its cap; with policy refuse, or with another
               school in the quarter (from 2021), nothing is deferred out of it;
6. timeline:   the school_paid entries per invoice equal what the case says it paid.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inburgering.domain import calendar
from inburgering.domain.events import parse_event
from inburgering.domain.invoicing import LOAN_KEY, InvoicingProcess
from inburgering.domain.invoicing_ledger import ZERO, account_of
from inburgering.domain.policy import load_default_policy
from inburgering.domain.process import PersonFacts
from inburgering.engine.casebook import Casebook, drive

PROCESS = InvoicingProcess()
STARTS = (dt.date(2020, 1, 1), dt.date(2022, 1, 1))
ADDED_UP_FROM = dt.date(2021, 1, 1)  # invoice_cap_schools_added_up_from
DAYS = 550  # a year and a half
SCHOOLS = ["Taalhuis Noord", "Leercentrum Zuid", "Het Talenhuis"]
DEFAULT_POLICY = load_default_policy()


class Journey(Casebook):
    """One person's cases in the engine's casebook (in memory), driven as the engine drives
    them; the loan is checked after every transition committed."""

    def __init__(self, policy, start: dt.date):
        super().__init__(start, policy)
        self.start = start
        self.add_person(1, PersonFacts("p1", "Test", None))
        self.rows: dict[str, list[dict]] = {}
        self.loan_below_zero: list[dt.date] = []

    def commit_transition(self, case, transition, cause: str) -> None:  # noqa: ANN001
        super().commit_transition(case, transition, cause)
        if self.account().left < 0:
            self.loan_below_zero.append(self.as_of)  # an assert here would be caught as an engine error

    def run(self, events_by_day: dict[dt.date, list[dict]]) -> None:
        """Every day from the start with something due (days with nothing due change nothing)."""
        events = [(1, parse_event(raw)) for day in sorted(events_by_day) for raw in events_by_day[day]]
        outcomes = drive(self, events, self.start, self.start + dt.timedelta(days=DAYS - 1), keep=self.rows)
        assert outcomes["error"] == 0

    # -- what the checks read ---------------------------------------------------------------

    @property
    def payments(self) -> list[tuple[dt.date, str, dict]]:
        return [(row["on_date"], row["type"], {**row["data"], "amount": Decimal(row["data"]["amount"])})
                for row in self.rows.get("journal", []) if row["kind"] == "payment"]

    def states(self) -> dict[str, object]:
        return {key: self.state_of(case) for (_, process, key), case in self.cases.items() if process == PROCESS.name}

    def invoice_files(self):
        return [s.invoice for s in self.states().values() if s.invoice is not None]

    def account(self):
        loan = self.states().get(LOAN_KEY)
        return account_of(loan.loan.amount if loan else ZERO,
                          ((f.invoice.school, f.paid, f.deferred) for f in self.invoice_files()))


def money(cents: int) -> str:
    return f"{Decimal(cents).scaleb(-2):.2f}"


invoices = st.lists(st.fixed_dictionaries({
    "school": st.sampled_from(SCHOOLS),
    "number": st.integers(1, 12),            # collisions exercise the duplicate rule
    "submitted": st.integers(0, 400),         # ~4.5 quarters: several invoices share a quarter
    "fees": st.tuples(st.integers(0, 150_000), st.integers(0, 20_000), st.integers(0, 30_000)),
    "decision": st.sampled_from(["accept", "accept", "accept", "refuse", "none"]),
    "after": st.integers(0, 60),
    "repeat": st.booleans(),                  # a second decision on the same number later
}), min_size=2, max_size=16)

# A loan from the first day (mostly the maximum of €10,000, so much can be paid), sometimes changed later.
loans = st.tuples(
    st.tuples(st.just(0), st.one_of(st.just(1_000_000), st.integers(0, 1_000_000))),
    st.lists(st.tuples(st.integers(1, DAYS - 1), st.integers(0, 1_000_000)), max_size=2),
).map(lambda first_and_later: [first_and_later[0], *first_and_later[1]])


def events_for(invoice_specs, loan_specs, start: dt.date) -> dict[dt.date, list[dict]]:
    by_day: dict[dt.date, list[dict]] = defaultdict(list)
    for day, cents in loan_specs:
        date = start + dt.timedelta(days=day)
        by_day[date].append({"date": date.isoformat(), "type": "loan_granted", "person": "p1", "amount": money(cents)})
    for spec in invoice_specs:
        submitted = start + dt.timedelta(days=spec["submitted"])
        number = f"F-{spec['number']}"
        course, materials, exam = spec["fees"]
        by_day[submitted].append({
            "date": submitted.isoformat(), "type": "invoice_submitted", "person": "p1", "school": spec["school"],
            "invoice_number": number, "contract_number": "C", "course_type": "Inburgering", "description": "x",
            "invoice_date": submitted.isoformat(), "period_from": (submitted - dt.timedelta(days=30)).isoformat(),
            "period_to": submitted.isoformat(), "courses": 1,
            "course_fee": money(course), "materials_fee": money(materials), "exam_fee": money(exam)})
        decided = submitted + dt.timedelta(days=spec["after"])
        decisions = [decided, decided + dt.timedelta(days=10)] if spec["repeat"] else [decided]
        for day in decisions:
            if spec["decision"] == "accept":
                by_day[day].append({"date": day.isoformat(), "type": "invoice_accepted", "person": "p1",
                                    "invoice_number": number})
            elif spec["decision"] == "refuse":
                by_day[day].append({"date": day.isoformat(), "type": "invoice_refused", "person": "p1",
                                    "invoice_number": number, "reason": "incomplete"})
    return by_day


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invoice_specs=invoices, loan_specs=loans, cap_cents=st.integers(10_000, 250_000),
       excess=st.sampled_from(["defer", "refuse"]), start=st.sampled_from(STARTS))
def test_random_invoice_streams_keep_the_money_rules(invoice_specs, loan_specs, cap_cents, excess, start):
    cap = Decimal(money(cap_cents))
    journey = Journey(DEFAULT_POLICY.with_overrides({"invoice_quarter_cap": money(cap_cents),
                                                     "invoice_excess": excess}), start)
    journey.run(events_for(invoice_specs, loan_specs, start))
    last_day = start + dt.timedelta(days=DAYS - 1)
    files = journey.invoice_files()

    def counted(quarter: str, school: str) -> tuple[str, str]:
        """What shares a quarter's cap: every school from 2021, one school before."""
        return (quarter, "" if calendar.quarter_start(quarter) >= ADDED_UP_FROM else school.casefold())

    # 1. cap, and payments are dated on or after the start of the quarter they count in
    paid = [(day, data) for day, type_, data in journey.payments if type_ == "school_paid"]
    per_quarter: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for day, data in paid:
        assert day >= calendar.quarter_start(data["quarter"])
        per_quarter[counted(data["quarter"], data["school"])] += data["amount"]
    assert all(total <= cap for total in per_quarter.values()), per_quarter

    # 2. nothing paid twice; never more than the total; open/refused/not-paid invoices get nothing
    for file in files:
        quarters = [p.quarter for p in file.paid]
        assert len(quarters) == len(set(quarters))
        assert sum((p.amount for p in file.paid), ZERO) <= file.invoice.total
        if file.outcome != "accepted":
            assert file.paid == [] and file.deferred is None

    # 3. balance: paid + still deferred + not paid == total of every released invoice
    released = [f for f in files if f.outcome == "accepted"]
    for file in released:
        pending = file.deferred.amount if file.deferred else ZERO
        assert sum((p.amount for p in file.paid), ZERO) + pending + (file.unpaid or ZERO) == file.invoice.total
        if file.deferred:
            assert calendar.quarter_start(file.deferred.to_quarter) > last_day
    account = journey.account()
    assert account.paid + account.deferred == sum((f.invoice.total - (f.unpaid or ZERO) for f in released), ZERO)

    # 4. the loan never below zero (also checked after every transition)
    assert account.left >= 0 and journey.loan_below_zero == []

    # 5. no waste: an amount leaves a quarter (deferred or not paid) only when that quarter is full
    schools_in: dict[str, set[str]] = defaultdict(set)
    for _, data in paid:
        schools_in[data["quarter"]].add(data["school"])
    deferrals = [data for _, type_, data in journey.payments if type_ == "payment_deferred"]
    for data in deferrals:
        source = _previous_quarter(data["to_quarter"])
        assert per_quarter[counted(source, data["school"])] == cap
        assert excess == "defer"
        if calendar.quarter_start(source) >= ADDED_UP_FROM:
            assert schools_in[source] <= {data["school"]}  # another school there: the excess is not deferred
    for file in released:
        if file.unpaid:
            quarter = calendar.quarter_of(file.invoice.period_to)
            assert per_quarter[counted(quarter, file.invoice.school)] == cap

    # 6. the timeline agrees with the cases
    on_timeline: dict[str, Decimal] = defaultdict(Decimal)
    for _, data in paid:
        on_timeline[f"{data['school']}|{data['invoice_number']}"] += data["amount"]
    for file in files:
        key = f"{file.invoice.school}|{file.invoice.number}"
        assert on_timeline.get(key, ZERO) == sum((p.amount for p in file.paid), ZERO)


def _previous_quarter(quarter: str) -> str:
    year, q = (int(part) for part in quarter.split("-Q"))
    return f"{year - 1}-Q4" if q == 1 else f"{year}-Q{q - 1}"
