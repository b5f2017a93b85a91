"""Input errors: messages that name the problem and never echo a BSN."""

from __future__ import annotations

import re

from pydantic import ValidationError
from stdnum.nl import bsn as _bsn

from inburgering.domain.events import EVENT_TYPES

Problem = tuple[str, str]  # (field path, message); the path is "" for the input as a whole


class InputError(ValueError):
    """Input that cannot be taken as it is; the message says what to fix.

    `problems` holds the same as (field, message) pairs, for answers that name fields apart
    (the inbound API). Both are free of anything that looks like a BSN."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = [(redact_bsn(f), redact_bsn(m)) for f, m in problems] if problems is not None \
            else [("", redact_bsn(message))]
        super().__init__(redact_bsn(message))

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
        return "is not a field of this event type (check the spelling)"
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"{shown(value)} is not a real calendar date (write YYYY-MM-DD)"
    if kind == "literal_error":
        return f"{shown(value)} is not allowed: {err['msg'].replace('Input should be ', 'use ')}"
    msg = err["msg"]
    return msg.removeprefix("Value error, ")


MAX_MESSAGE = 300


def shown(value: object, limit: int = 60) -> str:
    """A value as echoed in a message: its repr, cut short (input can be anything)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


# ---- a BSN is never repeated ---------------------------------------------------------------

_DIGIT_RUN = re.compile(r"\d{9,}")
BSN_REMOVED = "[number removed: it may be a BSN]"


def contains_bsn(text: str) -> bool:
    """Whether nine digits in a row somewhere in `text` pass the eleven-test."""
    return any(_passes(m.group()) for m in _DIGIT_RUN.finditer(text))


def looks_like_bsn(value: str) -> bool:
    """Whether `value` is a number that passes the eleven-test: what a BSN looks like."""
    return value.isdigit() and len(value) in (8, 9) and _bsn.is_valid(value)


def redact_bsn(text: str) -> str:
    """`text` with every run of digits that holds a number passing the eleven-test replaced."""
    return _DIGIT_RUN.sub(lambda m: BSN_REMOVED if _passes(m.group()) else m.group(), text)


def _passes(digits: str) -> bool:
    return any(_bsn.is_valid(digits[i:i + 9]) for i in range(len(digits) - 8))
