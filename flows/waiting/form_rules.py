"""Rules a typed form must meet, in its JSON schema and in its model alike.

Prefect checks a resumed run's input against the form's JSON schema on the server, so a
rule written here refuses a bad form at once and the run stays suspended. A pydantic
validator alone would only fail later, inside the resumed flow. `StaffForm` checks the
same `required_when` rules in the model, so the two cannot disagree.
"""

from __future__ import annotations

from typing import Any

from prefect.input import RunInput
from pydantic import model_validator


def required_when(field: str, value: Any, *required: str) -> dict:
    """JSON-schema: when `field` equals `value`, the `required` fields must be filled in."""
    return {
        "if": {"properties": {field: {"const": value}}, "required": [field]},
        "then": {"required": list(required), "properties": {name: {"not": {"type": "null"}} for name in required}},
    }


def schema_rules(*rules: dict) -> dict:
    return {"json_schema_extra": {"allOf": list(rules)}}


class StaffForm(RunInput):
    """A form staff fill in: the model enforces its schema's `required_when` rules too."""

    @model_validator(mode="after")
    def _required_when(self) -> StaffForm:
        for rule in (self.model_config.get("json_schema_extra") or {}).get("allOf", []):
            [(field, condition)] = rule["if"]["properties"].items()
            if getattr(self, field) == condition["const"]:
                missing = [name for name in rule["then"]["required"] if getattr(self, name) is None]
                if missing:
                    raise ValueError(f"{' and '.join(missing)}: required when {field} is {condition['const']}")
        return self
