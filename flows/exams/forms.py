from __future__ import annotations

import datetime as dt
from typing import Literal

from prefect.input import RunInput

from inburgering.domain.events import ExamPart


class ExamsInput(RunInput):
    """An exam fee paid or a result, received on paper."""

    input: Literal["exam_fee_paid", "exam_result"]
    part: ExamPart
    date: dt.date
    passed: bool | None = None

    def to_event(self) -> dict:
        event = {"type": self.input, "part": self.part, "date": self.date.isoformat()}
        if self.input == "exam_result":
            event["passed"] = bool(self.passed)
        return event
