from __future__ import annotations

from typing import Literal

from flows.waiting.form_rules import StaffForm
from inburgering.domain.events import Day, Text


class ExtensionDecisionInput(StaffForm):
    """The staff decision on the extension request (policy extension_staff_review): granted or
    refused, with a reason when it departs from the rules, and the day of the decision."""

    decision: Literal["granted", "refused"]
    date: Day
    reason: Text | None = None

    def to_event(self) -> dict:
        event = {"type": "staff_decision", "case": "extension", "decision": self.decision,
                 "date": self.date.isoformat()}
        return {**event, "reason": self.reason} if self.reason else event


class ExtensionRequestInput(StaffForm):
    """An extension of the term the person asked for on paper: the ground, the day of its
    evidence (the birth, the death, the start of the illness or course...) and the day asked."""

    ground: Literal["effort", "birth", "death", "alfa", "illness"]
    evidence_date: Day
    date: Day

    def to_event(self) -> dict:
        return {"type": "extension_requested", "ground": self.ground, "evidence_date": self.evidence_date.isoformat(),
                "date": self.date.isoformat()}


FORMS = {"extension_under_review": ExtensionDecisionInput,
         **dict.fromkeys(("term_ending_soon", "pre_announced", "term_passed"), ExtensionRequestInput)}
