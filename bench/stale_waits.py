"""What `sync-case-waits` pays to find the cases whose Prefect wait run is stale, with and
without the partial index `ix_cases_wait_run_stale`, in the same run.

    .venv/bin/python -m bench.stale_waits [--cases 300000] [--runs 5]

A fresh SQLite case file gets N cases (a third of a person each, a 1.2 KB state, one in
four waiting) whose waits are all shown already: the steady state, where nothing is stale
and the query, without the index, reads the whole cases table to find no row. Then one
case changes version (one stale wait). `stale_waits(100)` is timed with the index, then
after dropping it (the baseline); medians of --runs calls, page cache warm in both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, text, update

from inburgering.store.db import CaseFile
from inburgering.store.models import Case, Person
from tasks.windows import stale_waits

STATE = {"note": "x" * 1200}


def fill(case_file: CaseFile, cases: int) -> None:
    day = dt.date(2024, 1, 1)
    with case_file.transaction() as session:
        connection = session.connection()
        people = range(1, cases // 3 + 2)
        connection.execute(insert(Person.__table__), [
            {"id": p, "ref": f"p{p}", "bsn": f"{p:09d}", "name": "N", "email": None, "born": None} for p in people])
        connection.execute(insert(Case.__table__), [
            {"id": c, "person_id": c // 3 + 1, "process": "invoicing", "key": str(c), "status": "waiting",
             "waiting_for": "acceptance" if c % 4 == 0 else None, "state": STATE, "opened_on": day,
             "updated_on": day, "version": 5, "wait_run_id": "run" if c % 4 == 0 else None,
             "wait_version": 5 if c % 4 == 0 else None} for c in range(1, cases + 1)])
        connection.execute(update(Case.__table__).where(Case.__table__.c.id == cases // 2).values(version=6))


def time_query(case_file: CaseFile, runs: int) -> tuple[float, int]:
    times = []
    with case_file.transaction() as session:
        for _ in range(runs):
            t0 = time.perf_counter()
            found = session.execute(stale_waits(100)).all()
            times.append(time.perf_counter() - t0)
    return statistics.median(times), len(found)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-waits-") as tmp:
        case_file = CaseFile(f"sqlite:///{Path(tmp) / 'waits.db'}")
        try:
            fill(case_file, args.cases)
            time_query(case_file, 1)  # warm the page cache
            indexed, found = time_query(case_file, args.runs)
            with case_file.transaction() as session:
                session.execute(text("DROP INDEX ix_cases_wait_run_stale"))
            time_query(case_file, 1)
            scanned, found_scanning = time_query(case_file, args.runs)
        finally:
            case_file.dispose()
    assert found == found_scanning == 1
    print(f"{args.cases:,} cases, all waits shown but one: stale_waits(100) "
          f"with the index {indexed * 1e3:.3f} ms, without {scanned * 1e3:.1f} ms "
          f"(medians of {args.runs}): {scanned / indexed:,.0f}x")


if __name__ == "__main__":
    main()
