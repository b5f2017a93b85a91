from __future__ import annotations

import datetime as dt
from typing import Literal

from prefect.input import RunInput
from pydantic import model_validator

from flows.form_rules import required_when, schema_rules


class InvoicingInput(RunInput):
    """The person's answer to an invoice, received by post."""

    model_config = schema_rules(required_when("decision", "refuse", "reason"),
                                required_when("reason", "other", "reason_text"))

    invoice_number: str
    decision: Literal["accept", "refuse"]
    date: dt.date
    reason: Literal["amount_wrong", "number_wrong", "incomplete", "other"] | None = None
    reason_text: str | None = None

    @model_validator(mode="after")
    def _refusal_needs_reason(self) -> InvoicingInput:
        if self.decision == "refuse" and self.reason is None:
            raise ValueError("a refusal needs a reason")
        if self.reason == "other" and not (self.reason_text or "").strip():
            raise ValueError("reason 'other' needs a reason_text")
        return self

    def to_event(self) -> dict:
        event = {"date": self.date.isoformat(), "invoice_number": self.invoice_number}
        if self.decision == "accept":
            return {**event, "type": "invoice_accepted"}
        refusal = {**event, "type": "invoice_refused", "reason": self.reason}
        return {**refusal, "reason_text": self.reason_text} if self.reason_text else refusal
