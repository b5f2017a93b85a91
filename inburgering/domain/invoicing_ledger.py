"""The person's loan account as the invoices show it: the quarter cap and what is left.

Pure rules, no I/O (domain.md §4 quarterly cap, §5 loan):

- DUO pays schools at most `invoice_quarter_cap` per person per quarter. An amount counts
  in the quarter of its lessons (or, deferred, the quarter it was deferred to), never in
  the quarter it happened to be accepted in. `split_payment` cuts an amount into what fits
  in a quarter now and what must wait for a later quarter.
- Whose payments count against a quarter's cap is the invoicing process's rule (one
  school, several schools added up since 2021, each school on its own before): the
  account answers per quarter for all schools or for one.
- Money already deferred comes first: a newly accepted invoice only gets the room a
  quarter has left after the amounts deferred to it (or to an earlier quarter) that
  are still waiting. A deferred amount, when its quarter comes, only competes with
  what was actually paid in that quarter (the monitor fires deferrals oldest first).
- The loan pays the schools: `loan - paid - deferred (promised)` is what is left, and
  is never below zero. An invoice is paid only when that covers its whole total.

There is no separate ledger to keep in step: the account is derived from the person's
invoice cases (what each paid per quarter and what each still has deferred) and the
loan case. The SQL loan ledger (`loan_ledger`) is a record of the `LedgerEntry`
actions below, written in the same transaction as the case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from inburgering.domain.events import Money

ZERO = Decimal("0.00")


class PaidPart(BaseModel):
    """One payment to the school for an invoice: at most one per quarter it counts in."""

    model_config = ConfigDict(extra="forbid")
    on: dt.date
    quarter: str  # the quarter it counts in (its lessons' quarter, or the one it was deferred to)
    amount: Money


class Deferral(BaseModel):
    """The part of an invoice that waits for a later quarter's room."""

    model_config = ConfigDict(extra="forbid")
    amount: Money
    to_quarter: str
    since: dt.date  # the day it was first deferred


@dataclass(frozen=True)
class Split:
    now: Decimal
    later: Decimal


def room_in_quarter(cap: Decimal, used: Decimal) -> Decimal:
    """What a quarter can still pay: never negative, even if a cap was lowered."""
    return max(cap - used, ZERO)


def split_payment(amount: Decimal, room: Decimal) -> Split:
    """Pay what fits in the quarter's room now; the rest waits."""
    if amount < 0:
        raise ValueError("a payment cannot be negative")
    now = min(amount, max(room, ZERO))
    return Split(now=now, later=amount - now)


def school_key(school: str) -> str:
    """School names compare without case or extra spaces."""
    return " ".join(school.split()).casefold()


@dataclass(frozen=True)
class Account:
    """What the person's invoices and loan add up to, at one moment."""

    loan: Decimal = ZERO
    paid_by_quarter: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (quarter, school)
    deferred_by_quarter: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # by the quarter it waits for

    @property
    def paid(self) -> Decimal:
        return sum(self.paid_by_quarter.values(), ZERO)

    @property
    def deferred(self) -> Decimal:
        return sum(self.deferred_by_quarter.values(), ZERO)

    @property
    def left(self) -> Decimal:
        """The loan not yet paid out nor promised to a school."""
        return self.loan - self.paid - self.deferred

    def paid_in(self, quarter: str, school: str | None = None) -> Decimal:
        """Paid counting in `quarter`, by every school or by one."""
        return sum((a for (q, s), a in self.paid_by_quarter.items()
                    if q == quarter and (school is None or s == school_key(school))), ZERO)

    def waiting_for(self, quarter: str, school: str | None = None) -> Decimal:
        """Deferred amounts due in `quarter` or earlier that are not paid yet: they come first."""
        return sum((a for (q, s), a in self.deferred_by_quarter.items()
                    if _quarter_key(q) <= _quarter_key(quarter) and (school is None or s == school_key(school))),
                   ZERO)

    def schools_in(self, quarter: str) -> set[str]:
        """The schools (as `school_key`) with amounts paid or waiting that count in `quarter`."""
        return {s for (q, s) in (*self.paid_by_quarter, *self.deferred_by_quarter) if q == quarter}


def account_of(loan: Decimal,
               invoices: Iterable[tuple[str, Iterable[PaidPart], Deferral | None]]) -> Account:
    """The account from the loan and each invoice's (school, payments, deferral)."""
    paid: dict[tuple[str, str], Decimal] = {}
    deferred: dict[tuple[str, str], Decimal] = {}
    for school, parts, deferral in invoices:
        for part in parts:
            key = (part.quarter, school_key(school))
            paid[key] = paid.get(key, ZERO) + part.amount
        if deferral is not None:
            key = (deferral.to_quarter, school_key(school))
            deferred[key] = deferred.get(key, ZERO) + deferral.amount
    return Account(loan=loan, paid_by_quarter=paid, deferred_by_quarter=deferred)


def _quarter_key(quarter: str) -> tuple[int, int]:
    year, q = quarter.split("-Q")
    return int(year), int(q)


@dataclass(frozen=True)
class LedgerEntry:
    """An action: write a row in the loan ledger (and, for `school_paid`, the payment order).

    entry: loan_granted (amount = the loan as now set) | school_paid | payment_deferred
    (quarter = the quarter paid in, or the quarter a deferred amount waits for).
    `loan_left` is the loan not paid nor promised after the transition."""

    entry: str
    amount: Decimal
    loan_left: Decimal
    quarter: str | None = None
    invoice_number: str | None = None
    school: str | None = None
