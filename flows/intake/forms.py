from __future__ import annotations

import datetime as dt
from typing import Literal

from prefect.input import RunInput
from pydantic import model_validator

from flows.form_rules import required_when, schema_rules


class IntakeInput(RunInput):
    """A prerequisite for the start letter that arrived on paper."""

    model_config = schema_rules(required_when("prerequisite", "municipality_registered", "municipality"))

    prerequisite: Literal["residence_permit_granted", "bsn_registered", "municipality_registered"]
    date: dt.date
    municipality: str | None = None
    obligation_start: dt.date | None = None

    @model_validator(mode="after")
    def _municipality_for_registration(self) -> IntakeInput:
        if self.prerequisite == "municipality_registered" and not self.municipality:
            raise ValueError("a municipal registration needs the municipality")
        return self

    def to_event(self) -> dict:
        event = {"type": self.prerequisite, "date": self.date.isoformat()}
        if self.prerequisite == "municipality_registered":
            event["municipality"] = self.municipality
        if self.prerequisite == "residence_permit_granted" and self.obligation_start:
            event["obligation_start"] = self.obligation_start.isoformat()
        return event
