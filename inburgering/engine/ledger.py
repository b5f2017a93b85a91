"""Carry out `LedgerEntry` actions: a row in the loan ledger and, for a payment, the
payment order in the outbox — both in the transaction of the case they come from.

The payment order's idempotency key names the invoice case and the quarter, so the
payment gateway pays an invoice at most once per quarter, however often it is sent.
"""

from __future__ import annotations

from decimal import Decimal

from inburgering.domain.invoicing_ledger import LedgerEntry
from inburgering.engine.batch import Batch, register_action
from inburgering.engine.jsonable import jsonable
from inburgering.store.models import Case, LoanLedgerEntry, OutboxMessage


def cents(amount: Decimal) -> int:
    return int(amount.scaleb(2).to_integral_exact())


def record(batch: Batch, case: Case, action: LedgerEntry) -> None:
    entry = LoanLedgerEntry(
        id=batch.new_id(LoanLedgerEntry), person_id=case.person_id, on_date=batch.as_of, entry=action.entry,
        amount_cents=cents(action.amount), loan_left_cents=cents(action.loan_left), quarter=action.quarter,
        invoice_number=action.invoice_number, school=action.school,
    )
    batch.session.add(entry)
    order = None
    if action.entry == "school_paid":
        order = OutboxMessage(
            id=batch.new_id(OutboxMessage), channel="payment", created_on=batch.as_of,
            payload=jsonable({"type": "school_paid", "school": action.school,
                              "invoice_number": action.invoice_number, "amount": action.amount,
                              "quarter": action.quarter}),
        )
        batch.session.add(order)

    def fill_in() -> None:  # the rows name the case (and the payment order's key), known once it has its id
        entry.case_id = case.id
        if order is not None:
            order.case_id = case.id
            order.idempotency_key = f"school_paid:case-{case.id}:{action.quarter}"

    batch.with_id(case, fill_in)


register_action(LedgerEntry, record)
