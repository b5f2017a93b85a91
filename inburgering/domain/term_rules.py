"""The integration term's rules as plain functions: the fine (domain.md §7) and extensions.

The fine. Missing the term: first a pre-announcement, then a fine of up to €1,250 by the
hours followed at listed (quality-marked) schools and the exam attempts, and a follow-up
term. The Wi2013 table (public, domain.md §7), with the column names the letters use:

| hours at listed schools | none (not every part taken) | all_once | failed_twice (every failed part ≥ 2×) |
|---|---|---|---|
| < 150     | €1,250 | €1,000 | €750 |
| 150 – 299 | €875   | €625   | €375 |
| ≥ 300     | €500   | €250   | €0   |

The amounts are policy (`fine_wi2013`; `fine_wi2021` ⚠ has the same shape and, until DUO
publishes its own, the same values), rows by hours band, columns as above. Its notes
(public, inburgeren.nl "boete"; domain.md §7):
- "ONA 1×": ONA counts as tried enough after `fine_ona_attempts` (1) attempts, the other
  failed parts after `extension_effort_min_attempts` (2) — for the fine only;
- hours are the larger of those reported by schools and those declared (`fine_hours`);
- the parts passed lower the fine ("Verlaging boete"): by policy
  `fine_reduction_by_parts_passed`, the n-th amount for n required parts passed (the last
  for more) ⚠ its figures are not in our sources; never below €0.

Extensions (verlenging; domain.md §7), each ground a set of rules; a rule's function name
is what an `extension_decision` lists under `reasons` when it fails:
- every ground: `term_old_enough` — the first term has run `extension_min_term_years`
  (2.5) ⚠ (a follow-up term has no such wait);
- effort (+`extension_effort_years`, 2): `effort_hours` (≥ `extension_effort_min_hours`,
  300, at listed schools) and `effort_attempts` (every part not passed taken at least
  `extension_effort_min_attempts`, 2, times);
- birth of a child (+`extension_birth_weeks`, 16) and death of a close relative
  (+`extension_death_months`, 3): `evidence_in_term` (the day of the birth or death falls
  within the term);
- literacy course (+`extension_alfa_years`, up to 2 ⚠ the maximum is given): `wi2013_only`
  and `evidence_in_term` (the course began within the term);
- illness ⚠ (+`extension_illness_months`, 6): `evidence_in_term` and `illness_long_enough`
  (the illness began at least `extension_illness_min_months`, 3, before the request).
A granted extension moves the end of the term (Atw: to a working day) and with it the
reminders, the pre-announcement and the fine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from inburgering.domain import calendar
from inburgering.domain.policy import Policy

PARTS_TAKEN = ("none", "all_once", "failed_twice")
HOURS_BANDS = (150, 300)  # the table's rows: < 150, 150-299, >= 300


def hours_band(hours: int) -> int:
    return sum(hours >= bound for bound in HOURS_BANDS)


def parts_taken(attempts: dict[str, tuple[int, bool]], min_attempts: int = 2, ona_attempts: int | None = None) -> str:
    """The fine table's column from each required part's (times taken, passed); ONA is tried
    enough after `ona_attempts` (the table's "ONA 1×"; None: as every other part)."""
    if not attempts or any(times == 0 for times, _ in attempts.values()):
        return "none"
    enough = {part: ona_attempts if part == "ona" and ona_attempts is not None else min_attempts for part in attempts}
    if all(passed or times >= enough[part] for part, (times, passed) in attempts.items()):
        return "failed_twice"
    return "all_once"


def parts_passed(attempts: dict[str, tuple[int, bool]]) -> int:
    """How many of the required parts were passed (the fine letter's `parts_passed`)."""
    return sum(passed for _, passed in attempts.values())


def fine_hours(reported: int, declared: int) -> int:
    """The hours at listed schools the fine counts: the larger of those schools reported and
    those declared (domain.md §7) — ⚠ the larger, not the sum: a declaration covers the same
    lessons a school reports."""
    return max(reported, declared)


def fine_table(policy: Policy, regime: str, on: dt.date) -> list[list[Decimal]]:
    """The policy's fine table for a regime: rows by hours band, columns as PARTS_TAKEN."""
    text = policy.value(f"fine_{regime}", on)
    return [[Decimal(cell) for cell in row.split(",")] for row in text.split(";")]


def reduction(policy: Policy, on: dt.date, passed: int) -> Decimal:
    """What `passed` required parts passed take off the fine (the last amount for more)."""
    amounts = [Decimal(a) for a in str(policy.value("fine_reduction_by_parts_passed", on)).split(",")]
    return amounts[min(passed, len(amounts) - 1)]


def fine_amount(policy: Policy, regime: str, on: dt.date, hours: int, taken: str, passed: int = 0) -> Decimal:
    """The table's amount for the hours and attempts, lowered for the parts passed, never below €0."""
    amount = fine_table(policy, regime, on)[hours_band(hours)][PARTS_TAKEN.index(taken)]
    return max(amount - reduction(policy, on, passed), Decimal("0.00"))


# ---- extensions ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtensionFile:
    """What the rules judge: the request and what the case file knows of the person."""

    ground: str
    evidence_date: dt.date
    requested_on: dt.date
    regime: str
    term_start: dt.date
    term_end: dt.date
    follow_up: bool  # a follow-up term after a fine
    listed_hours: int
    attempts: dict[str, tuple[int, bool]]


Rule = Callable[[ExtensionFile, Policy], bool]


def term_old_enough(f: ExtensionFile, policy: Policy) -> bool:
    years = policy.value("extension_min_term_years", f.requested_on)
    return f.follow_up or f.requested_on >= calendar.add_years(f.term_start, years)


def effort_hours(f: ExtensionFile, policy: Policy) -> bool:
    return f.listed_hours >= policy.value("extension_effort_min_hours", f.requested_on)


def effort_attempts(f: ExtensionFile, policy: Policy) -> bool:
    minimum = policy.value("extension_effort_min_attempts", f.requested_on)
    return bool(f.attempts) and all(passed or times >= minimum for times, passed in f.attempts.values())


def evidence_in_term(f: ExtensionFile, policy: Policy) -> bool:
    return f.term_start <= f.evidence_date <= f.term_end


def wi2013_only(f: ExtensionFile, policy: Policy) -> bool:
    return f.regime == "wi2013"


def illness_long_enough(f: ExtensionFile, policy: Policy) -> bool:
    months = policy.value("extension_illness_min_months", f.requested_on)
    return calendar.add_months(f.evidence_date, months) <= f.requested_on


@dataclass(frozen=True)
class Ground:
    rules: tuple[Rule, ...]
    extend: Callable[[dt.date, Policy, dt.date], dt.date]  # (term end, policy, requested on) -> new end


GROUNDS: dict[str, Ground] = {
    "effort": Ground((term_old_enough, effort_hours, effort_attempts),
                     lambda end, p, on: calendar.add_years(end, p.value("extension_effort_years", on))),
    "birth": Ground((term_old_enough, evidence_in_term),
                    lambda end, p, on: calendar.add_weeks(end, p.value("extension_birth_weeks", on))),
    "death": Ground((term_old_enough, evidence_in_term),
                    lambda end, p, on: calendar.add_months(end, p.value("extension_death_months", on))),
    "alfa": Ground((term_old_enough, wi2013_only, evidence_in_term),
                   lambda end, p, on: calendar.add_years(end, p.value("extension_alfa_years", on))),
    "illness": Ground((term_old_enough, evidence_in_term, illness_long_enough),
                      lambda end, p, on: calendar.add_months(end, p.value("extension_illness_months", on))),
}


def failed_rules(f: ExtensionFile, policy: Policy) -> list[str]:
    return [rule.__name__ for rule in GROUNDS[f.ground].rules if not rule(f, policy)]


def extended_end(f: ExtensionFile, policy: Policy) -> dt.date:
    """The end of the term once the extension is granted, on a working day (Atw)."""
    return calendar.statutory_term_end(GROUNDS[f.ground].extend(f.term_end, policy, f.requested_on))
