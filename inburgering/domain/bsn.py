"""The burgerservicenummer (BSN). Validated with python-stdnum's eleven-test.

A BSN is personal data: it may live in the case file only. Error messages never
repeat it; they say which field is wrong and why.
"""

from __future__ import annotations

import re

from stdnum.exceptions import ValidationError
from stdnum.nl import bsn as _bsn


def validate_bsn(value: str) -> str:
    """Return the compact BSN or raise ValueError with a message that does not echo it."""
    text = str(value)
    try:
        return _bsn.validate(text)
    except ValidationError as exc:
        digits = sum(ch.isdigit() for ch in text)
        if digits != 9 and not (digits == 8 and text.strip().isdigit()):
            raise ValueError(f"a BSN has 9 digits; this one has {digits}") from exc
        raise ValueError("this BSN fails the eleven-test (elfproef): check for a typing error") from exc


# A number as people write a BSN: 8 or 9 digits, or 9 digits grouped 3-3-3 or 4-2-3 with
# dots or spaces. Dashes are left out: 2021-02-03 is a date, not a BSN.
_WRITTEN_BSN = re.compile(r"(?<!\d)(?:\d{8,9}|\d{3}([. ])\d{3}\1\d{3}|\d{4}([. ])\d{2}\2\d{3})(?!\d)")
MASK = "*********"


def bsns_in(text: str) -> set[str]:
    """The BSNs written in a text (values that pass the eleven-test), in compact form."""
    return {_bsn.compact(m.group(0)) for m in _WRITTEN_BSN.finditer(text) if _bsn.is_valid(m.group(0))}


def conceal_bsns(text: str) -> str:
    """The text with every value that passes the eleven-test replaced by *********."""
    return _WRITTEN_BSN.sub(lambda m: MASK if _bsn.is_valid(m.group(0)) else m.group(0), text)


def quote(value: object, limit: int = 60) -> str:
    """An input value as an error message quotes it: short, and never a BSN."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and value.bit_length() > 200:
        return "a number of more than 60 digits"
    if isinstance(value, bytes):
        return "binary data"
    # dates and amounts as people write them, not as Python's repr
    text = conceal_bsns(repr(value) if isinstance(value, (str, int, float)) else str(value))
    return text if len(text) <= limit else text[:limit] + "…"


class ConcealedError(ValueError):
    """An error whose message never holds a BSN, whatever input it quotes."""

    def __init__(self, message: object = "") -> None:
        super().__init__(conceal_bsns(str(message)))
