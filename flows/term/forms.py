from __future__ import annotations

from typing import ClassVar, Literal

from flows.waiting.form_rules import StaffForm
from inburgering.domain.events import Day, Text


class ExtensionDecisionInput(StaffForm):
    """The staff decision on the extension request (policy extension_staff_review): granted or
    refused, with a reason when it departs from the rules, and the day of the decision."""

    CASE: ClassVar[str] = "extension"  # the staff_decision's case

    decision: Literal["granted", "refused"]
    date: Day
    reason: Text | None = None

    def to_event(self) -> dict:
        event = {"type": "staff_decision", "case": self.CASE, "decision": self.decision,
                 "date": self.date.isoformat()}
        return {**event, "reason": self.reason} if self.reason else event


class FineDecisionInput(ExtensionDecisionInput):
    """The staff decision on an asylum status holder's passed term (the Keren rule): granted =
    an exceptional fine (proven, persistent unwillingness to integrate), with its pre-announcement
    first; refused = no fine and no follow-up term. The person's effort is in the table below."""

    CASE: ClassVar[str] = "fine"

    @staticmethod
    def details(state: dict) -> list[tuple[str, str]]:
        """The person's effort as the term knows it when the review opened, and the table's amount."""
        review = next((r for r in reversed(state.get("reviews") or []) if r.get("decision") is None), None)
        if review is None:
            return []
        basis = review["basis"]
        attempts = basis.get("attempts") or {}
        tried = ", ".join(f"{part} {times}×{' (passed)' if passed else ''}"
                          for part, (times, passed) in attempts.items())
        return [("term ended", str(review["term_end"])),
                ("hours at listed schools", f"{basis['hours']} (reported {basis['reported_hours']}, "
                                            f"declared {basis['declared_hours']})"),
                ("attempts", tried or "no exam taken"),
                ("parts passed", f"{basis['parts_passed']} of {len(attempts)}"),
                ("the table's column", basis["parts_taken"]),
                ("the table's amount (reduction included)", f"€{basis['amount']}")]


class ExtensionRequestInput(StaffForm):
    """An extension of the term the person asked for on paper: the ground, the day of its
    evidence (the birth, the death, the start of the illness or course...) and the day asked."""

    ground: Literal["effort", "birth", "death", "alfa", "illness"]
    evidence_date: Day
    date: Day

    def to_event(self) -> dict:
        return {"type": "extension_requested", "ground": self.ground, "evidence_date": self.evidence_date.isoformat(),
                "date": self.date.isoformat()}


FORMS = {"extension_under_review": ExtensionDecisionInput, "fine_under_review": FineDecisionInput,
         **dict.fromkeys(("term_ending_soon", "pre_announced", "term_passed"), ExtensionRequestInput)}
