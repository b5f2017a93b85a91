"""Input errors: messages that name the problem and never echo a BSN."""

from __future__ import annotations

from pydantic import ValidationError

from inburgering.domain.bsn import ConcealedError, quote
from inburgering.domain.events import BLANK, EVENT_TYPES, NOT_BLANK


class InputError(ConcealedError):
    """Input that cannot be taken as it is; the message says what to fix (and never holds a BSN)."""


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem, naming the field, e.g. "date: '2021-02-30' is not a real date"."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if not _is_model_tag(p))
        field = f"{prefix}{loc}" if loc else (prefix.rstrip(".") or "event")
        lines.append(f"{field}: {_message(err)}")
    return "; ".join(lines)


def _is_model_tag(part: object) -> bool:
    # pydantic puts the discriminator value (the event type) first in the location
    return part in EVENT_TYPES


def _message(err: dict) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        return "is not a known field (check the spelling)"
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"{quote(value)} is not a real calendar date (write YYYY-MM-DD)"
    if kind == "literal_error":
        return f"{quote(value)} is not allowed: {err['msg'].replace('Input should be ', 'use ')}"
    if (kind == "string_too_short" and err["ctx"]["min_length"] == 1) or (kind == "string_pattern_mismatch" and err["ctx"]["pattern"] == NOT_BLANK):
        return BLANK
    if kind == "string_too_long":
        return f"is longer than {err['ctx']['max_length']} characters"
    if kind in _PLAIN:
        return _PLAIN[kind]
    if kind in _BOUNDS:
        words, bound = _BOUNDS[kind]
        return f"must be {words} {err['ctx'][bound]}, not {quote(value)}"
    msg = err["msg"].removeprefix("Value error, ")
    if msg.startswith("value is not a valid email address: "):
        return f"{quote(value)} is not a valid e-mail address ({msg.split(': ', 1)[1]})"
    return msg


# pydantic's messages for a wrong kind of value, as a person would say them
_PLAIN = {"string_type": "must be text", "bool_type": "must be true or false", "bool_parsing": "must be true or false",
          "int_type": "must be a whole number", "int_parsing": "must be a whole number",
          "int_from_float": "must be a whole number", "finite_number": "must be a finite number",
          "dict_type": "must be a mapping of fields", "model_type": "must be a mapping of fields",
          "model_attributes_type": "must be a mapping of fields", "list_type": "must be a list"}
_BOUNDS = {"greater_than_equal": ("at least", "ge"), "greater_than": ("more than", "gt"),
           "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}
