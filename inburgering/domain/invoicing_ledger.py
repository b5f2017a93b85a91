"""The person's loan account as the invoices show it: the quarter cap and what is left.

Pure rules, no I/O (domain.md §4 quarterly cap, §5 loan):

- DUO pays schools at most `invoice_quarter_cap` per person per quarter, summed over
  all schools. `split_payment` cuts an amount into what fits in a quarter now and what
  must wait for a later quarter.
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
    """One payment to the school for an invoice: at most one per quarter."""

    model_config = ConfigDict(extra="forbid")
    on: dt.date
    quarter: str
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


@dataclass(frozen=True)
class Account:
    """What the person's invoices and loan add up to, at one moment."""

    loan: Decimal = ZERO
    paid_by_quarter: dict[str, Decimal] = field(default_factory=dict)
    deferred_by_quarter: dict[str, Decimal] = field(default_factory=dict)  # by the quarter it waits for

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

    def paid_in(self, quarter: str) -> Decimal:
        return self.paid_by_quarter.get(quarter, ZERO)

    def waiting_for(self, quarter: str) -> Decimal:
        """Deferred amounts due in `quarter` or earlier that are not paid yet: they come first."""
        return sum((a for q, a in self.deferred_by_quarter.items() if _quarter_key(q) <= _quarter_key(quarter)),
                   ZERO)


def account_of(loan: Decimal, invoices: Iterable[tuple[Iterable[PaidPart], Deferral | None]]) -> Account:
    paid: dict[str, Decimal] = {}
    deferred: dict[str, Decimal] = {}
    for parts, deferral in invoices:
        for part in parts:
            paid[part.quarter] = paid.get(part.quarter, ZERO) + part.amount
        if deferral is not None:
            deferred[deferral.to_quarter] = deferred.get(deferral.to_quarter, ZERO) + deferral.amount
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
