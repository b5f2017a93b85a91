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


# A number as people write a BSN: 8 digits (its leading zero dropped), 9 or more digits in a
# row (any nine of them may be one), or 9 digits in groups of 2-4 with one or two separators
# between them: any of - _ / , . or a space of any kind (a no-break space too) or an invisible
# one (zero-width). A date (2021-02-03: 4-2-2, eight digits) is never nine digits in groups.
_SEPARATOR = r"[-_/,.\s\u200b-\u200d\u2060\ufeff]"
_WRITTEN = re.compile(rf"(?<!\d)\d+(?:{_SEPARATOR}{{1,2}}\d+)*(?!\d)")
_GROUP = re.compile(r"\d+")
BSN_REMOVED = "[number removed: it may be a BSN]"
# The same as a JSON-schema pattern (ECMA 262, as Prefect's server and UI check it): a text with
# no number written as a BSN may be. Coarser than the eleven-test (a schema cannot compute it):
# it refuses every such number, so one never reaches a stored run parameter or form input.
NO_BSN_PATTERN = r"^(?![\s\S]*(?:\d{8}|\d{3}[. ]\d{3}[. ]\d{3}|\d{4}[. ]\d{2}[. ]\d{3}))[\s\S]*$"


def _bsns(written: str) -> list[str]:
    """The BSNs in one run of digit groups: in a group of 8 or more digits, or in consecutive
    groups of 2-4 digits that hold 9 digits together."""
    groups = _GROUP.findall(written)
    found = []
    for digits in groups:
        if len(digits) == 8:
            found += [_bsn.compact(digits)] if _bsn.is_valid(digits) else []
        elif len(digits) > 8:
            found += [digits[i:i + 9] for i in range(len(digits) - 8) if _bsn.is_valid(digits[i:i + 9])]
    for start in range(len(groups)):
        joined = ""
        for group in groups[start:]:
            if not 2 <= len(group) <= 4:
                break
            joined += group
            if len(joined) >= 9:
                if len(joined) == 9 and _bsn.is_valid(joined):
                    found.append(joined)
                break
    return found


def bsns_in(text: str) -> set[str]:
    """The BSNs written in a text (numbers that pass the eleven-test), in compact form."""
    return {bsn for m in _WRITTEN.finditer(text) for bsn in _bsns(m.group())}


def contains_bsn(text: str) -> bool:
    return any(_bsns(m.group()) for m in _WRITTEN.finditer(text))


def redact_bsn(text: str) -> str:
    """`text` with every number that holds one passing the eleven-test replaced by BSN_REMOVED."""
    return _WRITTEN.sub(lambda m: BSN_REMOVED if _bsns(m.group()) else m.group(), text)


def looks_like_bsn(value: str) -> bool:
    """Whether `value` is a number that passes the eleven-test: what a BSN looks like."""
    return value.isdigit() and len(value) in (8, 9) and _bsn.is_valid(value)


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
    # redacted before repr too: repr writes a no-break space as the text \xa0, which hides the groups
    text = redact_bsn(repr(redact_bsn(value) if isinstance(value, str) else value)
                      if isinstance(value, (str, int, float)) else str(value))
    return text if len(text) <= limit else text[:limit] + "…"


class ConcealedError(ValueError):
    """An error whose message never holds a BSN, whatever input it quotes."""

    def __init__(self, message: object = "") -> None:
        super().__init__(redact_bsn(str(message)))
