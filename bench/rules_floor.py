"""The rules alone: the benchmark's events through the pure processes in memory — no SQL,
no letters rendered, no deadlines fired — to show what the process logic itself costs per
event, the floor under any engine that keeps these rules as they are written.

    .venv/bin/python -m bench.rules_floor [--journeys 2000] [--runs 3]

Each journey's events are applied in date order to that person's cases (kept as parsed
states in a dict), exactly as `service._apply_event` does it: event validation
(`parse_event`), the process's `case_key`, `new_state` / `on_event`, and the state dumped
to JSON as the engine stores it. Timers are not fired, so this is a lower bound: the
engine's real work per event is larger.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

from bench.generate import generate_chunks
from inburgering.domain.events import parse_event
from inburgering.domain.policy import load_default_policy
from inburgering.domain.process import Context, EventRejected, PersonFacts
from inburgering.domain.registry import process_for


def apply_in_memory(journeys: int, seed: int = 1) -> tuple[int, float, float]:
    """Returns (events, seconds validating them, seconds applying them)."""
    policy = load_default_policy()
    raw = [e for chunk in generate_chunks(journeys, years=3, seed=seed) for e in chunk.events]
    started = time.perf_counter()
    events = [parse_event(e) for e in raw]
    parsed = time.perf_counter()
    cases: dict[str, dict] = defaultdict(dict)  # person -> (process, key) -> state
    for event in events:
        person_cases = cases[event.person]
        process = process_for(event)
        ctx = Context(today=event.date, policy=policy, person=PersonFacts(event.person, "name", None),
                      cases=person_cases)
        try:
            key = process.case_key(event, ctx)
            state = person_cases.get((process.name, key))
            if state is None:
                state = process.new_state(event, ctx)
            transition = process.on_event(state, event, ctx)
        except EventRejected:
            continue
        transition.state.model_dump(mode="json")  # what the engine stores
        person_cases[(process.name, key)] = transition.state
    return len(events), parsed - started, time.perf_counter() - parsed


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--journeys", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    figures = []
    for _ in range(args.runs):
        count, validate, apply = apply_in_memory(args.journeys)
        figures.append((validate + apply, validate, apply))
        print(f"{count} events: validate {validate:.2f} s, apply {apply:.2f} s, "
              f"{count / (validate + apply):,.0f} events/s ({(validate + apply) / count * 1e6:.0f} µs an event)")
    total = statistics.median(f[0] for f in figures)
    print(f"median: {count / total:,.0f} events/s, {total / count * 1e6:.0f} µs an event "
          f"(validate {statistics.median(f[1] for f in figures) / count * 1e6:.0f} µs, "
          f"apply {statistics.median(f[2] for f in figures) / count * 1e6:.0f} µs)")
