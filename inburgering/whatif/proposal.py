"""A proposed policy: overrides in the policy file's own format (architecture.md §14).

    invoice_quarter_cap:              # dated entries, as in inburgering/policy/defaults.yaml
      - {from: 2027-01-01, value: "1500.00"}
    term_reminder_months: [12, 6, 3]  # or one value for all days, as a scenario's `policy:`

A key given with dated entries keeps the policy in force before its first entry and takes
the proposal's entries from then on (entries in force after that day are replaced too); a
key given one plain value has it on every day. Every value is checked by the key's own
parser (domain/policy.py), so a proposal is refused for what a scenario or the shipped
defaults would be refused for, with the line and the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inburgering.domain.events import calendar_day
from inburgering.domain.policy import Policy, PolicyEntry, PolicyError, check_key, parse_value
from inburgering.engine.errors import InputError
from inburgering.scenario.loader import ScenarioError, _where, load_yaml, parse_yaml

ENTRY_FIELDS = ("from", "value", "note")


class ProposalError(InputError):
    """A proposal file that cannot be taken; the message names the line and the key."""


@dataclass(frozen=True)
class Proposal:
    """The keys a proposal changes: each with its entries, or one value for all days (from None)."""

    changes: dict[str, tuple[tuple[dt.date | None, Any], ...]]

    def applied_to(self, baseline: Policy) -> Policy:
        """The baseline policy with the proposal's keys changed."""
        entries = [e for e in baseline.entries() if not self._replaces(e)]
        for key, items in self.changes.items():
            entries += [PolicyEntry(key, valid_from or dt.date.min, value) for valid_from, value in items]
        return Policy.from_entries(entries)

    def _replaces(self, entry: PolicyEntry) -> bool:
        items = self.changes.get(entry.key)
        if items is None:
            return False
        first = items[0][0]
        return first is None or entry.valid_from >= first

    def fingerprint(self) -> str:
        """The proposal as canonical text (what a what-if's id is made of)."""
        return json.dumps({key: [[d.isoformat() if d else None, str(v)] for d, v in items]
                           for key, items in sorted(self.changes.items())}, separators=(",", ":"))

    def describe(self) -> list[str]:
        """One line a key: what the proposal changes, for reports."""
        lines = []
        for key, items in sorted(self.changes.items()):
            values = "; ".join(f"{v} from {d}" if d else f"{v} on every day" for d, v in items)
            lines.append(f"{key}: {values}")
        return lines


def load_proposal(path: str | Path) -> Proposal:
    return proposal_from_text(path, read=load_yaml)


def proposal_from_text(text: str, read: Callable[[Any], Any] = parse_yaml) -> Proposal:
    """A proposal given as YAML text (a deployment's parameter; `load_proposal`: a file), read
    as a scenario file is read."""
    try:
        doc = read(text)
    except ScenarioError as exc:
        raise ProposalError(str(exc)) from None
    return parse_proposal(doc)


def parse_proposal(doc: Any) -> Proposal:
    if doc is None:
        raise ProposalError("the file is empty: list the policy keys the proposal changes, in the policy file's "
                            "format (e.g. invoice_quarter_cap: [{from: 2027-01-01, value: \"1500.00\"}])")
    if not isinstance(doc, dict):
        raise ProposalError("the file must be a mapping of policy keys to their entries, as in "
                            "inburgering/policy/defaults.yaml")
    changes = {}
    for key, given in doc.items():
        try:
            check_key(key)
            changes[key] = _entries(doc, key, given)
        except PolicyError as exc:
            raise ProposalError(_where(doc, str(exc), key)) from None
    return Proposal(changes)


def _entries(doc: dict, key: str, given: Any) -> tuple[tuple[dt.date | None, Any], ...]:
    if not (isinstance(given, list) and given and all(isinstance(item, dict) for item in given)):
        return ((None, parse_value(key, given)),)  # one value for all days (unknown keys refused here)
    items = []
    for index, item in enumerate(given):
        where = f"{key}[{index}]"
        unknown = sorted(str(field) for field in item if field not in ENTRY_FIELDS)
        if unknown:
            raise ProposalError(_where(item, f"{where}: unknown field(s) {', '.join(unknown)}; an entry has from, "
                                             "value and an optional note"))
        for required in ("from", "value"):
            if required not in item:
                raise ProposalError(_where(item, f"{where}.{required}: is required but missing"))
        try:
            valid_from = calendar_day(item["from"])
        except ValueError as exc:
            raise ProposalError(_where(item, f"{where}.from: {exc}", "from")) from None
        try:
            value = parse_value(key, item["value"])
        except PolicyError as exc:
            raise ProposalError(_where(item, str(exc), "value")) from None
        if items and valid_from <= items[-1][0]:
            raise ProposalError(_where(item, f"{where}.from: {valid_from} is not after the entry before it "
                                             f"({items[-1][0]}); list a key's entries in date order, one a day",
                                       "from"))
        items.append((valid_from, value))
    return tuple(items)


def whatif_id(proposal: Proposal, start: dt.date | None, until: dt.date, baseline: Policy, inbox_mark: int) -> str:
    """The id of a what-if: the same proposal, window, baseline and inbox give the same id (so a
    correction list made twice from the same what-if is the same list)."""
    baseline_text = json.dumps([[e.key, e.valid_from.isoformat(), str(e.value)] for e in baseline.entries()])
    content = "|".join((proposal.fingerprint(), str(start), str(until), baseline_text, str(inbox_mark)))
    return "whatif-" + hashlib.sha256(content.encode()).hexdigest()[:12]
