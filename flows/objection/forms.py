from __future__ import annotations

from typing import Literal

from flows.waiting.form_rules import StaffForm
from inburgering.domain.events import Day, Text


class ObjectionDecisionInput(StaffForm):
    """The staff decision on the objection: granted (the objection is right: the decision is revised, with every
    effect) or refused (the decision is upheld), the day of the decision, and the reasons for the person."""

    decision: Literal["granted", "refused"]
    date: Day
    reason: Text | None = None

    def to_event(self) -> dict:
        event = {"type": "staff_decision", "case": "objection", "decision": self.decision,
                 "date": self.date.isoformat()}
        return {**event, "reason": self.reason} if self.reason else event

    @staticmethod
    def details(state: dict) -> list[tuple[str, str]]:
        """What the form shows: the decision objected to and the grounds."""
        target = state.get("target") or {}
        decided = f"{state.get('against')} of {state.get('decision_date')}"
        if target.get("amount"):
            decided += f" (amount {target['amount']})"
        elif target.get("outcome"):
            decided += f" ({target['outcome']}{', ' + target['ground'] if target.get('ground') else ''})"
        return [("decision objected to", decided), ("grounds", str(state.get("grounds", ""))),
                ("objection received", str(state.get("opened_on"))),
                ("objection period ended", str(state.get("window_end")))]


FORMS = {"waiting_for_staff_decision": ObjectionDecisionInput}
