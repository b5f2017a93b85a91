"""Policy is versioned data: each key has values with the day they take effect.

A process asks for a value *as of* a date it chooses (usually the day the case
opened, so old cases keep their rules, or the day being processed for rules that
change for everyone). Overrides, as in a scenario file, replace a key for all days.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from typing import Any, get_args

import yaml

from inburgering.domain.events import ExamPart
from inburgering.domain.money import money

# How each key's value is read; a key not listed here is unknown.
_PARSERS: dict[str, Any] = {
    "start_letter_max_days": int,
    "wi2013_term_years": float,
    "wi2021_term_years": float,
    "wi2013_ona_required_from": lambda v: v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)),
    "wi2013_pvt_required_from": lambda v: v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)),
    "invoice_quarter_cap": money,
    "invoice_cap_schools_added_up_from": lambda v: v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)),
    "invoice_after_obligation_months": int,
    "loan_maximum": money,
    "repayment_start_months": int,
    "invoice_excess": lambda v: _choice(v, ("defer", "refuse")),
    "invoice_reminder_after_days": int,
    "invoice_waiting_long_after_days": int,
    "invoice_reminders_max": int,
    "invoice_school_register": lambda v: _name_list(v),
    "exam_fee": money,
    "exam_fee_ona": money,
    "exam_invitation_days_online": int,
    "exam_invitation_days_school": int,
    "exam_form_invitation_working_days": int,
    "exam_form_invitation_max_days": int,
    "exam_registration_min_days": int,
    "exam_registration_short_notice": lambda v: _choice(v, ("accept", "reject")),
    "aow_age_months": int,
    "alfa_test_fee": money,
    "alfa_test_invoice_reminder_after_days": int,
    "agi_staff_review": lambda v: _boolean(v),
    "agi_decision_weeks": int,
    "agi_min_term_years": float,
    "agi_min_hours": int,
    "agi_min_integration_hours_for_alfa": int,
    "agi_min_alfa_hours": int,
    "agi_advice_min_alfa_hours": int,
    "agi_min_attempts": int,
    "agi_max_nt2_attempts_per_part": int,
    "agi_attempt_parts": lambda v: _parts(v),
    "delivery_incident_after_attempts": lambda v: _at_least(1, v),
    "term_reminder_months": lambda v: _months_list(v),
    "fine_response_days": lambda v: _at_least(1, v),
    "term_follow_up_years": float,
    "term_fine_cycles": lambda v: _at_least(1, v),
    "fine_wi2013": lambda v: _fine_table(v),
    "fine_wi2021": lambda v: _fine_table(v),
    "extension_staff_review": lambda v: _boolean(v),
    "extension_decision_weeks": lambda v: _at_least(1, v),
    "extension_min_term_years": float,
    "extension_effort_years": float,
    "extension_effort_min_hours": lambda v: _at_least(0, v),
    "extension_effort_min_attempts": lambda v: _at_least(1, v),
    "extension_birth_weeks": lambda v: _at_least(1, v),
    "extension_death_months": lambda v: _at_least(1, v),
    "extension_alfa_years": float,
    "extension_illness_months": lambda v: _at_least(1, v),
    "extension_illness_min_months": lambda v: _at_least(0, v),
}


def _at_least(minimum: int, value: Any) -> int:
    try:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError
        number = int(value)
    except ValueError:
        raise ValueError("must be a whole number") from None
    if number < minimum:
        raise ValueError(f"must be at least {minimum}")
    return number


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
    try:
        months = sorted({int(str(m).strip()) for m in items if str(m).strip()}, reverse=True)
    except ValueError:
        raise ValueError("must be a list of whole numbers of months, e.g. [12, 3]") from None
    if not months or any(not 1 <= m <= 60 for m in months):
        raise ValueError("must list between 1 and 60 months, e.g. [12, 3]")
    return ",".join(str(m) for m in months)


def _fine_table(value: Any) -> str:
    """The fine table (domain.md §7): three rows by hours (< 150, 150-299, >= 300), each three
    amounts (not every part taken, every part once, every failed part twice); kept as text."""
    rows = value if isinstance(value, (list, tuple)) else [r.split(",") for r in str(value).split(";")]
    cells = [[money(c.strip() if isinstance(c, str) else c) for c in row] for row in rows]
    if len(cells) != 3 or any(len(row) != 3 for row in cells):
        raise ValueError("must be three rows (hours < 150, 150-299, >= 300) of three amounts each")
    if any(c < 0 for row in cells for c in row):
        raise ValueError("a fine cannot be negative")
    return ";".join(",".join(f"{c:.2f}" for c in row) for row in cells)


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


class PolicyError(ValueError):
    pass


def parse_value(key: str, value: Any) -> Any:
    if key not in _PARSERS:
        raise PolicyError(f"unknown policy key {key!r}; known keys: {', '.join(sorted(_PARSERS))}")
    try:
        return _PARSERS[key](value)
    except (ValueError, TypeError) as exc:
        raise PolicyError(f"policy {key}: {value!r} is not valid: {exc}") from None


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
