from __future__ import annotations

from typing import Literal

from flows.waiting.form_rules import StaffForm, required_when, schema_rules
from inburgering.domain.events import Day, Text
from inburgering.domain.invoicing import OPEN, InvoicingState


class InvoicingInput(StaffForm):
    """The person's answer to the invoice, received by post: accept, or refuse with a reason
    ("other" with a text), and the day of the answer."""

    model_config = schema_rules(required_when("decision", "refuse", "reason"),
                                required_when("reason", "other", "reason_text"))

    invoice_number: Text
    decision: Literal["accept", "refuse"]
    date: Day
    reason: Literal["amount_wrong", "number_wrong", "incomplete", "other"] | None = None
    reason_text: Text | None = None

    def to_event(self) -> dict:
        event = {"date": self.date.isoformat(), "invoice_number": self.invoice_number}
        if self.decision == "accept":
            return {**event, "type": "invoice_accepted"}
        refusal = {**event, "type": "invoice_refused", "reason": self.reason}
        return {**refusal, "reason_text": self.reason_text} if self.reason_text else refusal

    @staticmethod
    def prefill(state: dict) -> dict:
        """The invoice's own number, so staff need not type it."""
        invoice = InvoicingState.model_validate(state).invoice
        return {"invoice_number": invoice.invoice.number} if invoice is not None else {}


FORMS = {OPEN: InvoicingInput}
