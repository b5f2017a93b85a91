from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from inburgering.domain.money import fmt


def jsonable(value: Any) -> Any:
    """Action data as JSON: dates as ISO text, money as "250.00"."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return fmt(value)
    return value
