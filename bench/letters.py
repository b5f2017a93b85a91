"""Letters rendered per second: the engine's own `render` (compiled templates, cached
formatting), re-rendering every letter of a small benchmark run from its journal data.

    .venv/bin/python -m bench.letters [--letters 20000] [--runs 3]

With `--runs N` the same sample is rendered N times and each figure and the median are
printed (the sample is taken once; the machine is noisy, compare medians).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from bench.generate import generate
from inburgering.letters.render import render
from inburgering.scenario.loader import parse_scenario
from inburgering.scenario.runner import embedded_driver, prepare
from inburgering.store.db import CaseFile
from inburgering.store.models import JournalEntry, Letter


def sample_letters(journeys: int = 200) -> list[tuple]:
    scenario = parse_scenario(generate(journeys, years=1).scenario_doc())
    with tempfile.TemporaryDirectory(prefix="bench-letters-") as tmp:
        case_file = CaseFile(f"sqlite:///{Path(tmp) / 'letters.db'}")
        prepare(case_file, scenario)
        days = (scenario.until - scenario.start).days + 1
        embedded_driver(case_file, [scenario.start + dt.timedelta(days=i) for i in range(days)])
        with case_file.transaction() as session:
            rows = session.execute(select(Letter.type, Letter.kind, Letter.case_id, Letter.on_date, JournalEntry.data)
                                   .join(JournalEntry, JournalEntry.id == Letter.journal_id)).all()
        case_file.dispose()
    return [tuple(r) for r in rows]


def letters_per_second(n: int, letters: list[tuple]) -> float:
    started = time.perf_counter()
    for i in range(n):
        letter_type, kind, case_id, on_date, data = letters[i % len(letters)]
        render(letter_type, kind=kind, recipient_name="A. Yusuf", case_label=f"case-{case_id}", on_date=on_date,
               data=data)
    return n / (time.perf_counter() - started)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--letters", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    sample = sample_letters()
    figures = [letters_per_second(args.letters, sample) for _ in range(args.runs)]
    if len(figures) > 1:
        print("runs: " + ", ".join(f"{f:.0f}" for f in figures) + " letters/s")
    print(f"{statistics.median(figures):.0f} letters/s{' (median)' if len(figures) > 1 else ''} "
          f"(over {len(sample)} distinct letters)")
