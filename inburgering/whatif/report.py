"""What a proposal changes: one journey's two replays compared, and the report of them all.

What one partition of the people gives (`Tally.result()`) is plain data: nested counts and
amounts in cents (whole numbers) and a list of changed cases, so the results of partitions
that ran on other machines add up key by key (`merge`). `finish` turns the sum into the
report: totals, per process and per month, money in euros (Decimal), the cases changed.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from inburgering.domain.bsn import redact_bsn
from inburgering.domain.money import fmt
from inburgering.whatif.replay import Journey, Output, Replayed

# The outputs that are money, and the field of their data that holds the amount.
MONEY_FIELDS = {
    "fine": "amount",  # the fine imposed (letter)
    "repayment_notice": "paid_out",  # the loan to repay (letter)
    "loan_forgiven": "amount",
    "alfa_test_invoice": "amount",
    "school_paid": "amount",  # payments
    "payment_deferred": "amount",
    "fine_refunded": "amount",
    "penalty_paid": "amount",
}
SIDES = ("baseline", "proposed")
# Outputs that refer to another, and the field that says which (or why): kept in a change as
# `about` (the proposal's) and `was_about` (the baseline's), so corrections made can be told apart.
REFERS = {"fine_annulled": "fine_on", "fine_refunded": "fine_on", "loan_forgiven": "reason"}


def _cents(output: Output) -> int:
    amount = Decimal(str(output.data.get(MONEY_FIELDS[output.type], "0")))
    return int(amount.scaleb(2).to_integral_exact())


def _euros(cents: int) -> str:
    return fmt(Decimal(cents).scaleb(-2))


def _month(day: dt.date) -> str:
    return f"{day:%Y-%m}"


class Window:
    """The report window: what is dated from `start` (None: any day) to `until` counts."""

    def __init__(self, start: dt.date | None, until: dt.date):
        self.start, self.until = start, until

    def __contains__(self, day: dt.date | None) -> bool:
        return day is not None and (self.start is None or day >= self.start) and day <= self.until


def _aligned(base: list[Output], proposed: list[Output]) -> Iterable[tuple[Output | None, Output | None]]:
    """One case's outputs of one type on both sides, paired: the same output (day and data) on
    both sides first, then the rest in order (changed), then what is left on one side only."""
    left = list(proposed)
    unmatched_base = []
    for output in base:
        twin = next((i for i, other in enumerate(left) if other.on == output.on and other.data == output.data), None)
        if twin is None:
            unmatched_base.append(output)
        else:
            del left[twin]
    for index in range(max(len(unmatched_base), len(left))):
        yield (unmatched_base[index] if index < len(unmatched_base) else None,
               left[index] if index < len(left) else None)


def _change(base: Output | None, proposed: Output | None) -> dict[str, Any]:
    shown = proposed or base
    assert shown is not None
    change: dict[str, Any] = {"change": "added" if base is None else "dropped" if proposed is None else "changed",
                              "kind": shown.kind, "type": shown.type, "date": shown.on.isoformat()}
    if base is not None and proposed is not None:
        change["was"] = base.on.isoformat()
        change["fields"] = sorted(k for k in set(base.data) | set(proposed.data)
                                  if base.data.get(k) != proposed.data.get(k))
    if shown.type in REFERS:
        if proposed is not None:
            change["about"] = proposed.data.get(REFERS[shown.type])
        if base is not None:
            change["was_about" if proposed is not None else "about"] = base.data.get(REFERS[shown.type])
    if shown.type in MONEY_FIELDS:
        if proposed is not None:
            change["amount"] = _euros(_cents(proposed))
        if base is not None:
            change["was_amount" if proposed is not None else "amount"] = _euros(_cents(base))
    return change


class Tally:
    """The differences of the journeys of one share of the people, as they are compared."""

    def __init__(self, window: Window):
        self.window = window
        self.journeys = self.events = self.unreadable = self.changed_journeys = 0
        self.letters: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(int))))
        self.money: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(int))))
        self.terms: dict = defaultdict(lambda: defaultdict(int))
        self.cases: list[dict] = []

    def add(self, journey: Journey, base: Replayed, proposed: Replayed) -> None:
        self.journeys += 1
        self.events += len(journey.events)
        self.unreadable += journey.unreadable
        for side, replayed in zip(SIDES, (base, proposed)):
            for output in replayed.outputs:
                if output.type in MONEY_FIELDS and output.on in self.window:
                    cell = self.money[output.process][_month(output.on)][output.type]
                    cell[f"{side}_count"] += 1
                    cell[f"{side}_cents"] += _cents(output)
        by_case: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for (process, key, kind, type_), (base_items, proposed_items) in _grouped(base, proposed).items():
            for old, new in _aligned(base_items, proposed_items):
                shown = new if new is not None and new.on in self.window else old
                if (old is not None and old.on in self.window) or (new is not None and new.on in self.window):
                    change = _change(old, new)
                    self.letters[process][_month(shown.on)][f"{kind}:{type_}"][change["change"]] += 1  # type: ignore[union-attr]
                    by_case[(process, key)].append(change)
        for case_key in sorted(set(base.term_ends) | set(proposed.term_ends)):
            was, now = base.term_ends.get(case_key), proposed.term_ends.get(case_key)
            if was != now and (was in self.window or now in self.window):
                self.terms[case_key[0]][_month(was or now)] += 1  # type: ignore[arg-type]
                by_case[case_key].append({"change": "moved", "kind": "term", "type": "term_end",
                                          "date": now.isoformat() if now else None,
                                          "was": was.isoformat() if was else None})
        if by_case:
            self.changed_journeys += 1
        for (process, key), changes in sorted(by_case.items()):
            self.cases.append({"case": journey.case_label(process, key), "person": journey.person_label,
                               "process": process, "changes": sorted(changes, key=lambda c: (c["date"] or "",
                                                                                              c["type"]))})

    def result(self) -> dict:
        """Plain data (counts, cents, lists) that adds up across partitions (`merge`)."""
        return {"journeys": self.journeys, "events": self.events, "unreadable_events": self.unreadable,
                "journeys_changed": self.changed_journeys, "letters": _plain(self.letters),
                "money": _plain(self.money), "terms_moved": _plain(self.terms), "cases": self.cases}


def _grouped(base: Replayed, proposed: Replayed) -> dict[tuple, tuple[list[Output], list[Output]]]:
    groups: dict[tuple, tuple[list[Output], list[Output]]] = defaultdict(lambda: ([], []))
    for index, replayed in enumerate((base, proposed)):
        for output in replayed.outputs:
            groups[(output.process, output.key, output.kind, output.type)][index].append(output)
    return groups


def _plain(value: Any) -> Any:
    return {k: _plain(v) for k, v in value.items()} if isinstance(value, dict) else value


def merge(results: Iterable[dict]) -> dict:
    """Partitions' results added up: numbers summed, lists joined, key by key."""
    total: dict = {}

    def add(into: dict, item: dict) -> None:
        for key, value in item.items():
            if isinstance(value, dict):
                add(into.setdefault(key, {}), value)
            elif isinstance(value, list):
                into.setdefault(key, []).extend(value)
            else:
                into[key] = into.get(key, 0) + value

    for result in results:
        add(total, result)
    return total


def finish(result: dict, *, whatif: str, proposal: list[str], start: dt.date | None, until: dt.date) -> dict:
    """The report of a what-if: totals, per process and per month, the cases changed."""
    letters = [{"process": process, "month": month, "kind": kind_type.split(":")[0], "type": kind_type.split(":")[1],
                **{c: counts.get(c, 0) for c in ("added", "dropped", "changed")}}
               for process, months in result.get("letters", {}).items() for month, types in months.items()
               for kind_type, counts in types.items()]
    money = []
    for process, months in result.get("money", {}).items():
        for month, types in months.items():
            for type_, cell in types.items():
                base, new = cell.get("baseline_cents", 0), cell.get("proposed_cents", 0)
                money.append({"process": process, "month": month, "type": type_,
                              "baseline_count": cell.get("baseline_count", 0),
                              "proposed_count": cell.get("proposed_count", 0),
                              "baseline_euros": _euros(base), "proposed_euros": _euros(new),
                              "difference_euros": _euros(new - base)})
    terms = [{"process": process, "month": month, "moved": count}
             for process, months in result.get("terms_moved", {}).items() for month, count in months.items()]
    key = lambda row: (row["month"], row["process"], row.get("type", ""))  # noqa: E731
    money_totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in money:
        cell = money_totals[row["type"]]
        for side in SIDES:
            cell[f"{side}_count"] += row[f"{side}_count"]
            cell[f"{side}_cents"] += int(Decimal(row[f"{side}_euros"]).scaleb(2))
    cases = sorted(result.get("cases", []), key=lambda c: (_case_number(c["case"] or c["person"]), c["process"]))
    return {
        "whatif": whatif,
        "proposal": proposal,
        "baseline": "the policy in force in the case file",
        "from": start.isoformat() if start else None,
        "until": until.isoformat(),
        "journeys": result.get("journeys", 0),
        "events": result.get("events", 0),
        "unreadable_events": result.get("unreadable_events", 0),
        "journeys_changed": result.get("journeys_changed", 0),
        "cases_changed": len(cases),
        "totals": {
            "letters": {c: sum(row[c] for row in letters) for c in ("added", "dropped", "changed")},
            "money": {type_: {"baseline_count": cell["baseline_count"], "proposed_count": cell["proposed_count"],
                              "baseline_euros": _euros(cell["baseline_cents"]),
                              "proposed_euros": _euros(cell["proposed_cents"]),
                              "difference_euros": _euros(cell["proposed_cents"] - cell["baseline_cents"])}
                      for type_, cell in sorted(money_totals.items())},
            "terms_moved": sum(row["moved"] for row in terms),
        },
        "letters_by_month": sorted(letters, key=key),
        "money_by_month": sorted(money, key=key),
        "terms_moved_by_month": sorted(terms, key=key),
        "cases": cases,
    }


def _case_number(label: str | None) -> int:
    return int(label.split("-")[1]) if label else 0


def changed_money(report: dict) -> list[dict]:
    """The money rows where the proposal changes something."""
    return [row for row in report["money_by_month"]
            if row["baseline_count"] != row["proposed_count"] or row["difference_euros"] != "0.00"]


# ---- the report as files and text --------------------------------------------------------------

MONTH_COLUMNS = ("process", "month", "kind", "type", "added", "dropped", "changed", "baseline_count",
                 "proposed_count", "baseline_euros", "proposed_euros", "difference_euros", "terms_moved")
CASE_COLUMNS = ("case", "person", "process", "change", "kind", "type", "date", "was", "amount", "was_amount",
                "fields")


def month_rows(report: dict) -> list[dict]:
    """Per process and month, one row per output type (letters and money together) and the terms moved."""
    rows: dict[tuple, dict] = {}
    for row in report["letters_by_month"]:
        rows[(row["process"], row["month"], row["type"])] = {**row}
    for row in changed_money(report):
        kind = "payment" if row["type"] not in ("fine", "repayment_notice", "loan_forgiven", "alfa_test_invoice") \
            else "letter"
        rows.setdefault((row["process"], row["month"], row["type"]),
                        {"process": row["process"], "month": row["month"], "kind": kind, "type": row["type"]}
                        ).update({k: v for k, v in row.items() if k not in ("process", "month", "type")})
    for row in report["terms_moved_by_month"]:
        rows[(row["process"], row["month"], "term_end")] = {"process": row["process"], "month": row["month"],
                                                            "kind": "term", "type": "term_end",
                                                            "terms_moved": row["moved"]}
    return [rows[k] for k in sorted(rows, key=lambda k: (k[1], k[0], k[2]))]


def case_rows(report: dict) -> list[dict]:
    return [{"case": case["case"], "person": case["person"], "process": case["process"], **change,
             "fields": ",".join(change.get("fields", []))}
            for case in report["cases"] for change in case["changes"]]


def write_csv(report: dict, path: Path) -> list[Path]:
    """The report as CSV: per process and month in `path`, the cases changed beside it
    (`<name>-cases.csv`). Returns the files written."""
    cases_path = path.with_name(f"{path.stem}-cases{path.suffix or '.csv'}")
    for target, columns, rows in ((path, MONTH_COLUMNS, month_rows(report)),
                                  (cases_path, CASE_COLUMNS, case_rows(report))):
        with open(target, "w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: redact_bsn(str(v)) if v is not None else "" for k, v in row.items()})
    return [path, cases_path]


def money_chart(report: dict, width: int = 24) -> str:
    """The money per month of each type the proposal changes, baseline against proposed, as a
    markdown table of bars (one scale per type)."""
    changed = {row["type"] for row in changed_money(report)}
    rows = [row for row in report["money_by_month"] if row["type"] in changed]
    if not rows:
        return "_The proposal changes no money in the report window._"
    lines = ["| type | month | baseline € | proposed € | difference € | baseline | proposed |",
             "|---|---|---:|---:|---:|---|---|"]
    for type_ in sorted(changed):
        of_type = sorted((row for row in rows if row["type"] == type_), key=lambda row: row["month"])
        months: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for row in of_type:
            for index, side in enumerate(SIDES):
                months[row["month"]][index] += int(Decimal(row[f"{side}_euros"]).scaleb(2))
        largest = max(max(abs(v) for v in pair) for pair in months.values()) or 1
        for month, (base, new) in sorted(months.items()):
            bars = ["█" * round(abs(v) / largest * width) or ("▏" if v else "") for v in (base, new)]
            lines.append(f"| {type_} | {month} | {_euros(base)} | {_euros(new)} | {_euros(new - base)} | {bars[0]} | "
                         f"{bars[1]} |")
    return "\n".join(lines)


def summary_lines(report: dict) -> list[str]:
    totals = report["totals"]
    window = f"{report['from'] or 'the first event'} .. {report['until']}"
    lines = [f"{report['whatif']}: {report['journeys']} journeys replayed ({report['events']} events), window "
             f"{window}",
             f"{report['journeys_changed']} journeys and {report['cases_changed']} cases changed; letters and "
             f"messages: {totals['letters']['added']} added, {totals['letters']['dropped']} dropped, "
             f"{totals['letters']['changed']} changed; terms moved: {totals['terms_moved']}"]
    for type_, cell in totals["money"].items():
        if cell["difference_euros"] != "0.00" or cell["baseline_count"] != cell["proposed_count"]:
            lines.append(f"{type_}: {cell['baseline_count']} → {cell['proposed_count']}, €{cell['baseline_euros']} → "
                         f"€{cell['proposed_euros']} ({cell['difference_euros']})")
    if report.get("unreadable_events"):
        lines.append(f"{report['unreadable_events']} stored events no longer read as events: left out on both sides")
    return lines
