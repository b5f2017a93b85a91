"""The policy what-if's speed: N synthetic journeys × years replayed twice (the policy in force
and a proposal), from a case file's inbox, in one process and in several.

    .venv/bin/python -m bench.whatif --journeys 1000 [--years 3] [--workers 1 2] [--full]

The case file is made once per (journeys, years, seed) under var/bench-whatif/ and reused:
by default only its inbox (people and received events: what a what-if replays); with --full
the real engine applies them first, as production would have (slow: ~1,000 events/s). The
figure is the what-if's wall time, and per journey; a what-if's time grows with the events,
not with the case file's other tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from pathlib import Path

from bench.generate import generate
from inburgering.scenario.loader import parse_scenario
from inburgering.scenario.runner import embedded_driver, prepare
from inburgering.store.db import CaseFile
from inburgering.whatif.proposal import parse_proposal
from inburgering.whatif.run import run_whatif

PROPOSAL = {"invoice_quarter_cap": [{"from": "2024-01-01", "value": "1500.00"}], "term_reminder_months": [12, 6, 3]}


def case_file_of(journeys: int, years: int, seed: int, full: bool) -> tuple[str, dt.date, int]:
    path = Path("var/bench-whatif") / f"{journeys}x{years}-{seed}{'-full' if full else ''}.db"
    generated = generate(journeys, years=years, seed=seed)
    url = f"sqlite:///{path.resolve()}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        scenario = parse_scenario(generated.scenario_doc())
        case_file = CaseFile(url)
        prepare(case_file, scenario)
        if full:
            embedded_driver(case_file, [scenario.start + dt.timedelta(days=i)
                                        for i in range((scenario.until - scenario.start).days + 1)])
        case_file.dispose()
        print(f"case file made in {time.perf_counter() - started:.0f} s: {path}")
    return url, generated.until, len(generated.events)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journeys", type=int, default=1000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="apply the inbox through the engine first")
    args = parser.parse_args()
    url, until, events = case_file_of(args.journeys, args.years, args.seed, args.full)
    proposal = parse_proposal(PROPOSAL)
    for workers in args.workers:
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            report = run_whatif(url, proposal, None, until, workers=workers)
            times.append(time.perf_counter() - started)
        seconds = statistics.median(times)
        print(f"{args.journeys} journeys × {args.years} years ({events} events, each replayed twice), "
              f"{workers} worker(s): {seconds:.1f} s (median of {len(times)}: {', '.join(f'{t:.1f}' for t in times)}), "
              f"{seconds / args.journeys * 1000:.1f} ms a journey, {2 * events / seconds:,.0f} events/s replayed; "
              f"{report['journeys_changed']} journeys changed")


if __name__ == "__main__":
    main()
