"""Money is exact: Decimal with two decimals, never floating point."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")


def money(value: str | int | Decimal) -> Decimal:
    """Parse an amount such as "250.00". Refuses floats and more than two decimals."""
    if isinstance(value, float):
        raise ValueError("amounts must be given as strings like \"250.00\", not as floating-point numbers")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount; write it like \"250.00\"") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    try:
        cents = amount.quantize(CENT)
    except InvalidOperation:  # too many digits to hold in cents, e.g. "1e999999"
        raise ValueError(f"{value!r} is too large to be an amount") from None
    if amount != cents:
        raise ValueError(f"{value!r} has more than two decimals; amounts are in whole cents")
    return cents


def fmt(amount: Decimal) -> str:
    """The canonical text of an amount in outputs: "250.00"."""
    return f"{amount.quantize(CENT)}"
