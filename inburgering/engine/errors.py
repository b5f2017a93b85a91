"""Input errors: messages that name the problem and never echo a BSN."""

from __future__ import annotations

from pydantic import ValidationError

from inburgering.domain.events import EVENT_TYPES


class InputError(ValueError):
    """Input that cannot be taken as it is; the message says what to fix."""


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
        return "is not a field of this event type (check the spelling)"
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"{value!r} is not a real calendar date (write YYYY-MM-DD)"
    if kind == "literal_error":
        return f"{value!r} is not allowed: {err['msg'].replace('Input should be ', 'use ')}"
    msg = err["msg"]
    return msg.removeprefix("Value error, ")
