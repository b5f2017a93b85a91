from __future__ import annotations

from typing import Literal

from flows.waiting.form_rules import StaffForm, required_when, schema_rules
from inburgering.domain.events import Day, Text


class ExemptionInput(StaffForm):
    """What the AGI application still lacks, received on paper: the school's declaration, the
    payment of the alfa test invoice, or the alfa test taken (with whether the person took part
    actively)."""

    model_config = schema_rules(required_when("input", "alfa_test_taken", "active"))

    input: Literal["school_declaration_received", "alfa_test_invoice_paid", "alfa_test_taken"]
    date: Day
    active: bool | None = None  # for alfa_test_taken: did the person take part actively?

    def to_event(self) -> dict:
        event = {"type": self.input, "date": self.date.isoformat()}
        if self.input == "alfa_test_taken":
            event["active"] = self.active
        return event


class AgiDecisionInput(StaffForm):
    """The staff decision on the AGI application (policy agi_staff_review): granted or refused,
    with a reason when it departs from the rules, and the day of the decision."""

    decision: Literal["granted", "refused"]
    date: Day
    reason: Text | None = None

    def to_event(self) -> dict:
        event = {"type": "staff_decision", "case": "agi", "decision": self.decision, "date": self.date.isoformat()}
        return {**event, "reason": self.reason} if self.reason else event


# The document the case waits for first is the one the form offers.
_WAITS = {"waiting_for_school_declaration": "school_declaration_received",
          "waiting_for_alfa_test_payment": "alfa_test_invoice_paid", "waiting_for_alfa_test": "alfa_test_taken"}
FORMS = {**dict.fromkeys(_WAITS, ExemptionInput), "waiting_for_staff_decision": AgiDecisionInput}


def prefill(status: str) -> dict:
    return {"input": _WAITS[status]} if status in _WAITS else {}
