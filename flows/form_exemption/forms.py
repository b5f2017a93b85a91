from __future__ import annotations

from typing import Literal

from flows.waiting.form_rules import StaffForm, required_when, schema_rules
from inburgering.domain.events import Day, Text


class ExemptionDecisionInput(StaffForm):
    """The staff decision on an exemption as sufficiently integrated or a vrijstelling, on the evidence: granted
    (the obligation is met) or refused, the day of the decision, and the reasons for the person."""

    decision: Literal["granted", "refused"]
    date: Day
    reason: Text | None = None

    def to_event(self) -> dict:
        event = {"type": "staff_decision", "case": "exemption", "decision": self.decision,
                 "date": self.date.isoformat()}
        return {**event, "reason": self.reason} if self.reason else event

    @staticmethod
    def details(state: dict) -> list[tuple[str, str]]:
        return [("ground", str(state.get("ground"))), ("received", str(state.get("opened_on")))]


class ExemptionPaperInput(StaffForm):
    """What a medical exemption or an incomplete application waits for, received on paper: the missing documents
    (application_completed) or the medical adviser's advice (with whether the person is exempt)."""

    model_config = schema_rules(required_when("input", "medical_advice_received", "exempt"))

    input: Literal["application_completed", "medical_advice_received"]
    date: Day
    exempt: bool | None = None

    @staticmethod
    def prefill(state: dict) -> dict:
        incomplete = state.get("respond_by") and not state.get("completed_on")
        return {"input": "application_completed" if incomplete else "medical_advice_received"}

    def to_event(self) -> dict:
        if self.input == "application_completed":
            return {"type": "application_completed", "case": "exemption", "date": self.date.isoformat()}
        return {"type": "medical_advice_received", "exempt": self.exempt, "date": self.date.isoformat()}


FORMS = {"waiting_for_staff_decision": ExemptionDecisionInput,
         "waiting_for_completion": ExemptionPaperInput, "waiting_for_medical_advice": ExemptionPaperInput}
