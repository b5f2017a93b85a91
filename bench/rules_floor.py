"""The engine without its database: the benchmark's journeys through the casebook in memory
(engine/casebook.py, the engine's one way of applying events, timers, facts and holds) — no
SQL, no letters rendered — to show what the rules and the casebook cost per event, the floor
under the engine with its case file.

    .venv/bin/python -m bench.rules_floor [--journeys 2000] [--runs 3]

Each journey's events are validated (`parse_event`), then applied day by day with the timers
they open fired when due, exactly as the engine's day does it (`casebook.drive`: days with
nothing due skipped), the new rows numbered in memory as a flush would.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.generate import generate
from inburgering.domain.events import parse_event
from inburgering.domain.policy import load_default_policy
from inburgering.domain.process import PersonFacts
from inburgering.engine.casebook import Casebook, drive


def apply_in_memory(journeys: int, seed: int = 1, years: int = 3) -> tuple[int, float, float]:
    """Returns (events, seconds validating them, seconds applying them)."""
    generated = generate(journeys, years=years, seed=seed)
    book = Casebook(generated.start, load_default_policy())
    ids = {ref: n for n, ref in enumerate(generated.people, start=1)}
    for ref, person in generated.people.items():
        book.add_person(ids[ref], PersonFacts(ref, person["name"], None, person.get("email") is not None))
    started = time.perf_counter()
    events = [(ids[e["person"]], parse_event(e)) for e in generated.events]
    parsed = time.perf_counter()
    drive(book, events, generated.start, generated.until)
    return len(events), parsed - started, time.perf_counter() - parsed


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--journeys", type=int, default=2000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    figures = []
    for _ in range(args.runs):
        count, validate, apply = apply_in_memory(args.journeys, years=args.years)
        figures.append((validate + apply, validate, apply))
        print(f"{count} events: validate {validate:.2f} s, apply {apply:.2f} s, "
              f"{count / (validate + apply):,.0f} events/s ({(validate + apply) / count * 1e6:.0f} µs an event)")
    total = statistics.median(f[0] for f in figures)
    print(f"median: {count / total:,.0f} events/s, {total / count * 1e6:.0f} µs an event "
          f"(validate {statistics.median(f[1] for f in figures) / count * 1e6:.0f} µs, "
          f"apply {statistics.median(f[2] for f in figures) / count * 1e6:.0f} µs)")
