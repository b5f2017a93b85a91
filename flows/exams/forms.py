from __future__ import annotations

from typing import Literal

from flows.waiting.form_rules import StaffForm, required_when, schema_rules
from inburgering.domain.events import Day, ExamPart


class ExamsInput(StaffForm):
    """An exam fee paid or an exam result (passed or not), received on paper, for one part."""

    model_config = schema_rules(required_when("input", "exam_result", "passed"))

    input: Literal["exam_fee_paid", "exam_result"]
    part: ExamPart
    date: Day
    passed: bool | None = None  # required for a result: a missing answer is never taken as "failed"

    def to_event(self) -> dict:
        event = {"type": self.input, "part": self.part, "date": self.date.isoformat()}
        if self.input == "exam_result":
            event["passed"] = self.passed
        return event


FORMS = {"waiting_for_exam_fee": ExamsInput, "exams_planned": ExamsInput}
