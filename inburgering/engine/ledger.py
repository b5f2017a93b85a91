"""Carry out `LedgerEntry` actions: a row in the loan ledger and, for a payment, the
payment order in the outbox — both in the transaction of the case they come from.

The payment order's idempotency key names the invoice case and the quarter, so the
payment gateway pays an invoice at most once per quarter, however often it is sent.
"""

from __future__ import annotations

from decimal import Decimal

from inburgering.domain.invoicing_ledger import LedgerEntry
from inburgering.engine.batch import Batch, CaseRecord, register_action
from inburgering.engine.jsonable import jsonable
from inburgering.store.models import LoanLedgerEntry, OutboxMessage


def cents(amount: Decimal) -> int:
    return int(amount.scaleb(2).to_integral_exact())


def record(batch: Batch, case: CaseRecord, action: LedgerEntry) -> None:
    batch.add_row(LoanLedgerEntry, {
        "person_id": case.person_id, "case_id": case, "on_date": batch.as_of, "entry": action.entry,
        "amount_cents": cents(action.amount), "loan_left_cents": cents(action.loan_left), "quarter": action.quarter,
        "invoice_number": action.invoice_number, "school": action.school,
    })
    if action.entry != "school_paid":
        return
    order = batch.add_row(OutboxMessage, {
        "case_id": case, "letter_id": None, "channel": "payment", "created_on": batch.as_of, "status": "pending",
        "attempts": 0, "idempotency_key": None,
        "payload": jsonable({"type": "school_paid", "school": action.school, "invoice_number": action.invoice_number,
                             "amount": action.amount, "quarter": action.quarter}),
    })

    def fill_in() -> None:  # the key names the case, known once it has its id
        order.values["idempotency_key"] = f"school_paid:case-{case.id}:{action.quarter}"

    batch.after_ids(fill_in)


register_action(LedgerEntry, record)
