from __future__ import annotations

import datetime as dt
from typing import Literal

from prefect.input import RunInput
from pydantic import model_validator

from flows.form_rules import required_when, schema_rules


class ExemptionInput(RunInput):
    """What an AGI case waits for: the school's declaration, the test, or the staff decision."""

    model_config = schema_rules(required_when("input", "staff_decision", "decision"),
                                required_when("input", "alfa_test_taken", "active"))

    input: Literal["school_declaration_received", "alfa_test_invoice_paid", "alfa_test_taken", "staff_decision"]
    date: dt.date
    active: bool | None = None  # for alfa_test_taken: did the person take part actively?
    decision: Literal["granted", "refused"] | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _fields_for_input(self) -> ExemptionInput:
        if self.input == "staff_decision" and self.decision is None:
            raise ValueError("a staff decision needs decision: granted or refused")
        if self.input == "alfa_test_taken" and self.active is None:
            raise ValueError("alfa_test_taken needs active: true or false")
        return self

    def to_event(self) -> dict:
        event = {"type": self.input, "date": self.date.isoformat()}
        if self.input == "staff_decision":
            event.update(case="agi", decision=self.decision)
            if self.reason:
                event["reason"] = self.reason
        if self.input == "alfa_test_taken":
            event["active"] = self.active
        return event
