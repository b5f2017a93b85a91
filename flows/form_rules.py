"""Rules a typed form must meet, in its JSON schema.

Prefect checks a resumed run's input against the form's JSON schema on the server,
so a rule written here refuses a bad form at once and the run stays suspended. A
pydantic validator alone would only fail later, inside the resumed flow.
"""

from __future__ import annotations

from typing import Any


def required_when(field: str, value: Any, *required: str) -> dict:
    """JSON-schema: when `field` equals `value`, the `required` fields must be filled in."""
    return {
        "if": {"properties": {field: {"const": value}}, "required": [field]},
        "then": {"required": list(required), "properties": {name: {"not": {"type": "null"}} for name in required}},
    }


def schema_rules(*rules: dict) -> dict:
    return {"json_schema_extra": {"allOf": list(rules)}}
