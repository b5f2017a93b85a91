"""The burgerservicenummer (BSN). Validated with python-stdnum's eleven-test.

A BSN is personal data: it may live in the case file only. Error messages never
repeat it; they say which field is wrong and why.
"""

from __future__ import annotations

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
