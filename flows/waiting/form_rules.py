"""Rules a typed form must meet, in its JSON schema and in its model alike.

Prefect checks a resumed run's input against the form's JSON schema on the server, so a
rule written here refuses a bad form at once and the run stays suspended. A pydantic
validator alone would only fail later, inside the resumed flow. `StaffForm` checks the
same `required_when` rules in the model, so the two cannot disagree.

No BSN in what staff type (`ScreensBsn`, the base of every form and paper event): every text
field's schema refuses a number written as a BSN may be (`bsn.NO_BSN_PATTERN`), so the server
refuses it before it is stored as a run's parameter or form input; the model refuses a number
that passes the eleven-test with a sentence that does not repeat it. `StaffText` is the same
for a flow's own text parameter.
"""

from __future__ import annotations

from typing import Annotated, Any

from prefect.input import RunInput
from pydantic import AfterValidator, BaseModel, Field, model_validator

from inburgering.domain.bsn import NO_BSN_PATTERN, contains_bsn
from inburgering.domain.events import NOT_BLANK

NO_BSN = {"allOf": [{"pattern": NO_BSN_PATTERN}]}


def no_bsn_in(name: str, value: Any) -> Any:
    """Refuse a text holding a number that passes the eleven-test, without repeating it."""
    if isinstance(value, str) and contains_bsn(value):
        raise ValueError(f"{name}: holds a number that may be a BSN; a BSN is never entered here — remove it "
                         "(the case names the person)")
    return value


def _screened(prop: dict) -> None:
    """Add the no-BSN rule to a text field's schema (also inside anyOf: an optional text)."""
    for option in prop.get("anyOf", []):
        _screened(option)
    if prop.get("type") == "string" and not {"enum", "const", "format"} & prop.keys():
        prop.setdefault("allOf", []).extend(rule for rule in NO_BSN["allOf"] if rule not in prop.get("allOf", []))


class ScreensBsn(BaseModel):
    """Every text field refuses a BSN: in its JSON schema (the server) and in the model."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):  # noqa: ANN001, ANN206
        schema = handler(core_schema)
        for prop in handler.resolve_ref_schema(schema).get("properties", {}).values():
            _screened(prop)
        return schema

    @model_validator(mode="after")
    def _no_bsn(self) -> ScreensBsn:
        for name, value in self:
            no_bsn_in(name, value)
        return self


# A flow's own free-text parameter (a reason, a resolution): not blank, no BSN.
StaffText = Annotated[str, Field(min_length=1, max_length=500, pattern=NOT_BLANK, json_schema_extra=NO_BSN),
                      AfterValidator(lambda value: no_bsn_in("text", value))]


def required_when(field: str, value: Any, *required: str) -> dict:
    """JSON-schema: when `field` equals `value`, the `required` fields must be filled in."""
    return {
        "if": {"properties": {field: {"const": value}}, "required": [field]},
        "then": {"required": list(required), "properties": {name: {"not": {"type": "null"}} for name in required}},
    }


def schema_rules(*rules: dict) -> dict:
    return {"json_schema_extra": {"allOf": list(rules)}}


class StaffForm(ScreensBsn, RunInput):
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
