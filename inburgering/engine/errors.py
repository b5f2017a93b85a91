"""Input errors: messages that name the problem and never echo a BSN."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from inburgering.domain.bsn import ConcealedError, contains_bsn, looks_like_bsn, quote, redact_bsn
from inburgering.domain.events import BLANK, EVENT_TYPES, NOT_BLANK

__all__ = ["InputError", "Problem", "Refused", "refusals_returned", "contains_bsn", "describe_validation_error", "join_problems", "looks_like_bsn",
           "redact_bsn", "validation_problems"]

Problem = tuple[str, str]  # (field path, message); the path is "" for the input as a whole


@dataclass(frozen=True)
class Refused:
    """A refusal carried out of a Prefect task as its value. A task that raises is logged by
    Prefect with its traceback and counted as a failed task run; a refusal is neither: the flow
    turns it back into an InputError (flows/refusals.py), and its run ends "Refused"."""

    reason: str


def refusals_returned(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, returning `Refused(sentence)` instead of raising an InputError (put it under @task)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            return Refused(str(exc))

    return run


class InputError(ConcealedError):
    """Input that cannot be taken as it is; the message says what to fix.

    `problems` holds the same as (field, message) pairs, for answers that name fields apart
    (the inbound API). Both are free of anything that looks like a BSN."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = [(redact_bsn(f), redact_bsn(m)) for f, m in problems] if problems is not None \
            else [("", redact_bsn(message))]
        super().__init__(message)

    @classmethod
    def at(cls, field: str, message: str) -> InputError:
        return cls(join_problems([(field, message)]), [(field, message)])

    @classmethod
    def from_validation(cls, exc: ValidationError, prefix: str = "") -> InputError:
        problems = validation_problems(exc, prefix)
        return cls(join_problems(problems, whole="event"), problems)


def join_problems(problems: list[Problem], whole: str = "") -> str:
    """One line for all problems: "date: '2021-02-30' is not a real calendar date; amount: ...";
    a problem of the input as a whole is named `whole` (or not named)."""
    return "; ".join(f"{f or whole}: {m}" if f or whole else m for f, m in problems)


def validation_problems(exc: ValidationError, prefix: str = "") -> list[Problem]:
    """Each problem of a pydantic error as (field, message), e.g. ("date", "'2021-02-30' is not
    a real calendar date (write YYYY-MM-DD)"); the field is "" for the model as a whole."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if not _is_model_tag(p))
        message = _message(err)
        if len(message) > MAX_MESSAGE:
            message = message[:MAX_MESSAGE - 1] + "…"
        problems.append((redact_bsn(f"{prefix}{loc}" if loc else prefix.rstrip(".")), redact_bsn(message)))
    return problems


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem, naming the field, e.g. "date: '2021-02-30' is not a real date"."""
    return str(InputError.from_validation(exc, prefix))


def _is_model_tag(part: object) -> bool:
    # pydantic puts the discriminator value (the event type) first in the location
    return isinstance(part, str) and part in EVENT_TYPES


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
    if (kind == "string_too_short" and err["ctx"]["min_length"] == 1) or (
            kind == "string_pattern_mismatch" and err["ctx"]["pattern"] == NOT_BLANK):
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


MAX_MESSAGE = 300
# pydantic's messages for a wrong kind of value, as a person would say them
_PLAIN = {"string_type": "must be text", "bool_type": "must be true or false", "bool_parsing": "must be true or false",
          "int_type": "must be a whole number", "int_parsing": "must be a whole number",
          "int_from_float": "must be a whole number", "finite_number": "must be a finite number",
          "dict_type": "must be a mapping of fields", "model_type": "must be a mapping of fields",
          "model_attributes_type": "must be a mapping of fields", "list_type": "must be a list"}
_BOUNDS = {"greater_than_equal": ("at least", "ge"), "greater_than": ("more than", "gt"),
           "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}
