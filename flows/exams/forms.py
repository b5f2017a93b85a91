from __future__ import annotations

import datetime as dt
from typing import Literal

from prefect.input import RunInput

from flows.form_rules import required_when, schema_rules
from inburgering.domain.events import ExamPart


class ExamsInput(RunInput):
    """An exam fee paid or a result, received on paper."""

    model_config = schema_rules(required_when("input", "exam_result", "passed"))

    input: Literal["exam_fee_paid", "exam_result"]
    part: ExamPart
    date: dt.date
    passed: bool | None = None

    def to_event(self) -> dict:
        event = {"type": self.input, "part": self.part, "date": self.date.isoformat()}
        if self.input == "exam_result":
            event["passed"] = bool(self.passed)
        return event
