from __future__ import annotations

from typing import Literal

from flows.form_rules import StaffForm, required_when, schema_rules
from inburgering.domain.events import Day, Text


class ExemptionInput(StaffForm):
    """What an AGI case waits for: the school's declaration, the test, or the staff decision."""

    model_config = schema_rules(required_when("input", "staff_decision", "decision"),
                                required_when("input", "alfa_test_taken", "active"))

    input: Literal["school_declaration_received", "alfa_test_invoice_paid", "alfa_test_taken", "staff_decision"]
    date: Day
    active: bool | None = None  # for alfa_test_taken: did the person take part actively?
    decision: Literal["granted", "refused"] | None = None
    reason: Text | None = None

    def to_event(self) -> dict:
        event = {"type": self.input, "date": self.date.isoformat()}
        if self.input == "staff_decision":
            event.update(case="agi", decision=self.decision)
            if self.reason:
                event["reason"] = self.reason
        if self.input == "alfa_test_taken":
            event["active"] = self.active
        return event
