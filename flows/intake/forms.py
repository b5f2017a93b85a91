from __future__ import annotations

from typing import Literal

from flows.waiting.form_rules import StaffForm, required_when, schema_rules
from inburgering.domain.events import Day, Text


class IntakeInput(StaffForm):
    """A prerequisite for the start letter that arrived on paper: the residence permit, the BSN or
    the municipal registration (with its municipality), and the day it was registered."""

    model_config = schema_rules(required_when("prerequisite", "municipality_registered", "municipality"))

    prerequisite: Literal["residence_permit_granted", "bsn_registered", "municipality_registered"]
    date: Day
    municipality: Text | None = None
    obligation_start: Day | None = None

    def to_event(self) -> dict:
        event = {"type": self.prerequisite, "date": self.date.isoformat()}
        if self.prerequisite == "municipality_registered":
            event["municipality"] = self.municipality
        if self.prerequisite == "residence_permit_granted" and self.obligation_start:
            event["obligation_start"] = self.obligation_start.isoformat()
        return event


class PipInput(StaffForm):
    """The PIP (personal plan) the municipality established, sent on paper: its route and the day."""

    route: Literal["b1", "onderwijs", "z"]
    date: Day

    def to_event(self) -> dict:
        return {"type": "pip_established", "route": self.route, "date": self.date.isoformat()}


FORMS = {"waiting_for_prerequisites": IntakeInput, "waiting_for_pip": PipInput}
