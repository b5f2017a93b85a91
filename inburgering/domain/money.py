"""Money is exact: Decimal with two decimals, never floating point."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from inburgering.domain.bsn import quote

CENT = Decimal("0.01")
# No amount in a journey comes near this (a loan is about 10,000.00); anything larger is a
# typing error, and a bound keeps every sum within the database's 64-bit cents.
MAX_AMOUNT = Decimal("1000000.00")
_AMOUNT = re.compile(r"[+-]?\d+(\.\d+)?")


def money(value: str | int | Decimal) -> Decimal:
    """Parse an amount such as "250.00". Refuses floats, more than two decimals, exponents
    and amounts beyond MAX_AMOUNT either way."""
    if isinstance(value, float):
        raise ValueError("amounts must be given as strings like \"250.00\", not as floating-point numbers")
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError(f"{quote(value)} is not an amount; write it like \"250.00\"")
    if isinstance(value, str) and not _AMOUNT.fullmatch(value.strip()):
        raise ValueError(f"{quote(value)} is not an amount; write it like \"250.00\"")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f"{quote(value)} is not an amount; write it like \"250.00\"") from None
    if not amount.is_finite():
        raise ValueError(f"{quote(value)} is not an amount")
    if abs(amount) > MAX_AMOUNT:
        raise ValueError(f"{quote(value)} is too large: at most {MAX_AMOUNT}")
    if amount != amount.quantize(CENT):
        raise ValueError(f"{quote(value)} has more than two decimals; amounts are in whole cents")
    return amount.quantize(CENT)


def fmt(amount: Decimal) -> str:
    """The canonical text of an amount in outputs: "250.00"."""
    return f"{amount.quantize(CENT)}"
