"""Policy is versioned data: each key has values with the day they take effect.

A process asks for a value *as of* a date it chooses (usually the day the case
opened, so old cases keep their rules, or the day being processed for rules that
change for everyone). Overrides, as in a scenario file, replace a key for all days.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any, get_args

import yaml

from inburgering.domain.bsn import ConcealedError, quote
from inburgering.domain.events import ExamPart, calendar_day
from inburgering.domain.money import money

# How each key's value is read and what it may be; a key not listed here is unknown.
# A new key is one line: a parser below with its bounds (days, amounts, years, ...).
_PARSERS: dict[str, Any] = {
    "start_letter_max_days": lambda v: _whole(v, 1, 3650, "day"),
    "wi2013_term_years": lambda v: _years(v),
    "wi2021_term_years": lambda v: _years(v),
    "wi2013_ona_required_from": calendar_day,
    "wi2013_pvt_required_from": calendar_day,
    "invoice_quarter_cap": lambda v: _amount(v),
    "invoice_cap_schools_added_up_from": calendar_day,
    "invoice_after_obligation_months": lambda v: _whole(v, 0, 120, "month"),
    "loan_maximum": lambda v: _amount(v),
    "repayment_start_months": lambda v: _whole(v, 0, 120, "month"),
    "invoice_excess": lambda v: _choice(v, ("defer", "refuse")),
    "invoice_reminder_after_days": lambda v: _whole(v, 1, 3650, "day"),
    "invoice_waiting_long_after_days": lambda v: _whole(v, 1, 3650, "day"),
    "invoice_reminders_max": lambda v: _whole(v, 0, 100, "reminder"),
    "invoice_school_register": lambda v: _name_list(v),
    "exam_fee": lambda v: _amount(v),
    "exam_fee_ona": lambda v: _amount(v),
    "exam_invitation_days_online": lambda v: _whole(v, 1, 365, "day"),
    "exam_invitation_days_school": lambda v: _whole(v, 1, 365, "day"),
    "exam_form_invitation_working_days": lambda v: _whole(v, 1, 250, "working day"),
    "exam_form_invitation_max_days": lambda v: _whole(v, 0, 365, "day"),
    "exam_registration_min_days": lambda v: _whole(v, 0, 365, "day"),
    "exam_registration_short_notice": lambda v: _choice(v, ("accept", "reject")),
    "aow_age_months": lambda v: _whole(v, 600, 960, "month"),  # 50 to 80 years
    "alfa_test_fee": lambda v: _amount(v),
    "alfa_test_invoice_reminder_after_days": lambda v: _whole(v, 1, 3650, "day"),
    "agi_staff_review": lambda v: _boolean(v),
    "agi_decision_weeks": lambda v: _whole(v, 1, 520, "week"),
    "agi_min_term_years": lambda v: _years(v, zero=True),
    "agi_min_hours": lambda v: _whole(v, 0, 100_000, "hour"),
    "agi_min_integration_hours_for_alfa": lambda v: _whole(v, 0, 100_000, "hour"),
    "agi_min_alfa_hours": lambda v: _whole(v, 0, 100_000, "hour"),
    "agi_advice_min_alfa_hours": lambda v: _whole(v, 0, 100_000, "hour"),
    "agi_min_attempts": lambda v: _whole(v, 0, 100, "attempt"),
    "agi_max_nt2_attempts_per_part": lambda v: _whole(v, 0, 100, "attempt"),
    "agi_attempt_parts": lambda v: _parts(v),
    "delivery_incident_after_attempts": lambda v: _whole(v, 1, 1000, "attempt"),
    "wait_runs_max": lambda v: _whole(v, 0, 20_000, "run"),
    "term_reminder_months": lambda v: _months_list(v),
    "fine_response_days": lambda v: _whole(v, 1, 365, "day"),
    "term_follow_up_years": lambda v: _years(v),
    "term_fine_cycles": lambda v: _whole(v, 1, 10, "cycle"),
    "fine_wi2013": lambda v: _fine_table(v),
    "fine_wi2021": lambda v: _fine_table(v),
    "fine_ona_attempts": lambda v: _whole(v, 1, 100, "attempt"),
    "fine_reduction_by_parts_passed": lambda v: _amount_list(v),
    "asylum_sanctions_exceptional_from": calendar_day,
    "wi2021_map_routes": lambda v: _route_list(v),
    "extension_staff_review": lambda v: _boolean(v),
    "extension_decision_weeks": lambda v: _whole(v, 1, 520, "week"),
    "extension_min_term_years": lambda v: _years(v, zero=True),
    "extension_effort_years": lambda v: _years(v),
    "extension_effort_min_hours": lambda v: _whole(v, 0, 100_000, "hour"),
    "extension_effort_min_attempts": lambda v: _whole(v, 1, 100, "attempt"),
    "extension_birth_weeks": lambda v: _whole(v, 1, 520, "week"),
    "extension_death_months": lambda v: _whole(v, 1, 120, "month"),
    "extension_alfa_years": lambda v: _years(v),
    "extension_illness_months": lambda v: _whole(v, 1, 120, "month"),
    "extension_illness_min_months": lambda v: _whole(v, 0, 120, "month"),
    # Decisions under the Awb (domain.md §8; domain/decision.py).
    "completion_days": lambda v: _whole(v, 1, 365, "day"),
    "decision_postponement_weeks": lambda v: _whole(v, 1, 52, "week"),
    "decision_postponement_notice_days": lambda v: _whole(v, 0, 365, "day"),
    "exemption_decision_weeks": lambda v: _whole(v, 1, 520, "week"),
    "objection_weeks": lambda v: _whole(v, 1, 52, "week"),
    "objection_postponement_weeks": lambda v: _whole(v, 1, 52, "week"),
    "penalty_after_days": lambda v: _whole(v, 0, 365, "day"),
    "penalty_band_days": lambda v: _whole(v, 1, 365, "day"),
    "penalty_day_amounts": lambda v: _amount_list(v),
}


def _whole(value: Any, low: int, high: int, unit: str) -> int:
    """A whole number of `unit`s from `low` to `high` (an interval of 0 days would repeat at once)."""
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d{1,12}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number of {unit}s")
    if not low <= value <= high:
        bound = f"at least {low}" if value < low else f"at most {high}"
        raise ValueError(f"must be {bound} {unit}{'' if (low if value < low else high) == 1 else 's'}")
    return value


def _years(value: Any, *, zero: bool = False, most: float = 20) -> float:
    """A number of years, more than 0 (or 0 too when `zero`), at most `most`."""
    try:
        years = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        years = math.nan
    if not math.isfinite(years):
        raise ValueError("is not a number of years")
    if years < 0 or (years == 0 and not zero):
        raise ValueError(f"must be {'at least 0' if zero else 'more than 0'} years")
    if years > most:
        raise ValueError(f"must be at most {most:g} years")
    return years


def _amount(value: Any, low: Decimal = Decimal("0.00")) -> Decimal:
    amount = money(value)
    if amount < low:
        raise ValueError(f"must be at least {low}")
    return amount


def _parts(value: Any) -> str:
    """A list of exam parts, kept as comma-separated text (it round-trips through the database)."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    parts = [str(p).strip() for p in items if str(p).strip()]
    known = get_args(ExamPart)
    unknown = [p for p in parts if p not in known]
    if unknown or not parts:
        raise ValueError(f"must list exam parts from {', '.join(known)} (unknown: {', '.join(unknown) or 'none given'})")
    return ",".join(parts)


def _months_list(value: Any) -> str:
    """A list of months before a day (e.g. [12, 3]), kept as "12,3" text, largest first."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    months = sorted({_whole(m.strip() if isinstance(m, str) else m, 1, 60, "month") for m in items
                     if str(m).strip()}, reverse=True)
    if not months:
        raise ValueError("must list months before the end, e.g. [12, 3]")
    return ",".join(str(m) for m in months)


def _fine_table(value: Any) -> str:
    """The fine table (domain.md §7): three rows by hours (< 150, 150-299, >= 300), each three
    amounts (not every part taken, every part once, every failed part twice); kept as text."""
    rows = value if isinstance(value, (list, tuple)) else [r.split(",") for r in str(value).split(";")]
    if len(rows) != 3 or any(not isinstance(row, (list, tuple)) or len(row) != 3 for row in rows):
        raise ValueError("must be three rows (hours < 150, 150-299, >= 300) of three amounts each")
    cells = [[_amount(c.strip() if isinstance(c, str) else c) for c in row] for row in rows]
    return ";".join(",".join(f"{c:.2f}" for c in row) for row in cells)


def _amount_list(value: Any) -> str:
    """Amounts in order (e.g. ["23.00", "35.00", "45.00"]), kept as "23.00,35.00,45.00" text."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    amounts = [_amount(a.strip() if isinstance(a, str) else a) for a in items if str(a).strip()]
    if not amounts:
        raise ValueError('must list amounts, e.g. ["23.00", "35.00", "45.00"]')
    return ",".join(f"{a:.2f}" for a in amounts)


def _route_list(value: Any) -> str:
    """A list of Wi2021 routes (b1, onderwijs, z), kept as comma-separated text; may be empty."""
    items = value if isinstance(value, (list, tuple)) else [v for v in str(value or "").split(",")]
    routes = [str(r).strip() for r in items if str(r).strip()]
    unknown = [r for r in routes if r not in ("b1", "onderwijs", "z")]
    if unknown:
        raise ValueError(f"must list routes from b1, onderwijs, z (unknown: {', '.join(unknown)})")
    return ",".join(routes)


def _choice(value: Any, options: tuple[str, ...]) -> str:
    if str(value) not in options:
        raise ValueError(f"must be one of {', '.join(options)}")
    return str(value)


def _name_list(value: Any) -> str | None:
    """A list of names (or "A; B" text) as canonical "A; B" text; null or empty: no list."""
    if value is None:
        return None
    names = value if isinstance(value, (list, tuple)) else str(value).split(";")
    names = [" ".join(str(name).split()) for name in names if str(name).strip()]
    if any(";" in name for name in names):
        raise ValueError("a name cannot contain ';'")
    return "; ".join(names) or None


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "yes", "1"):
        return True
    if str(value).lower() in ("false", "no", "0"):
        return False
    raise ValueError("must be true or false")


class PolicyError(ConcealedError):
    """A policy key or value that cannot be taken; the message names the key."""


def check_key(key: Any) -> None:
    """PolicyError unless `key` is a known policy key."""
    if not isinstance(key, str) or key not in _PARSERS:
        raise PolicyError(f"unknown policy key {quote(key)}; known keys: {', '.join(sorted(_PARSERS))}")


def parse_value(key: str, value: Any) -> Any:
    check_key(key)
    try:
        return _PARSERS[key](value)
    except (ValueError, TypeError) as exc:
        raise PolicyError(f"policy {key}: {quote(value)} is not valid: {exc}") from None


@dataclass(frozen=True)
class PolicyEntry:
    key: str
    valid_from: dt.date
    value: Any


@dataclass
class Policy:
    """All policy values with their validity, looked up by key and date."""

    _by_key: dict[str, tuple[list[dt.date], list[Any]]] = field(default_factory=dict)

    @classmethod
    def from_entries(cls, entries: list[PolicyEntry]) -> Policy:
        grouped: dict[str, list[PolicyEntry]] = {}
        for entry in entries:
            grouped.setdefault(entry.key, []).append(entry)
        by_key = {}
        for key, items in grouped.items():
            items.sort(key=lambda e: e.valid_from)
            by_key[key] = ([e.valid_from for e in items], [e.value for e in items])
        return cls(by_key)

    def value(self, key: str, on: dt.date) -> Any:
        if key not in self._by_key:
            raise PolicyError(f"no policy value for {key!r}")
        dates, values = self._by_key[key]
        i = bisect_right(dates, on) - 1
        # Before the first entry the first value applies: a rule's history starts there.
        return values[max(i, 0)]

    def history(self, key: str) -> list[tuple[dt.date, Any]]:
        """Every value of a key with the day it takes effect, oldest first."""
        if key not in self._by_key:
            raise PolicyError(f"no policy value for {key!r}")
        dates, values = self._by_key[key]
        return list(zip(dates, values))

    def money(self, key: str, on: dt.date) -> Decimal:
        return self.value(key, on)

    def entries(self) -> list[PolicyEntry]:
        return [
            PolicyEntry(key, d, v)
            for key, (dates, values) in sorted(self._by_key.items())
            for d, v in zip(dates, values)
        ]

    def with_overrides(self, overrides: dict[str, Any]) -> Policy:
        """A copy where each overridden key has one value for all days."""
        merged = dict(self._by_key)
        for key, raw in overrides.items():
            merged[key] = ([dt.date.min], [parse_value(key, raw)])
        return Policy(merged)


def load_default_policy() -> Policy:
    text = resources.files("inburgering.policy").joinpath("defaults.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    entries = [
        PolicyEntry(key, item["from"], parse_value(key, item["value"]))
        for key, items in raw.items()
        for item in items
    ]
    return Policy.from_entries(entries)
