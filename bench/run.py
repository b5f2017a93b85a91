"""Replay synthetic journeys through the embedded engine, as `scenario run` does, and measure.

The same path as `inburgering scenario run`: the people are registered and every event
received into the inbox with `register_people` and `receive_many` (which validate every
event), then each simulated day with something due is one committed transaction of one
long-lived worker (`Worker(keep_loaded=True).day`: the day's events, then its deadline
monitor; days with nothing due skipped, engine/driver.py) — on a fresh
SQLite file with the engine's own settings (WAL, synchronous=NORMAL; nothing is switched
off for the benchmark). Unlike a scenario file, the journeys are generated and received
`CHUNK` at a time, so memory does not grow with their number.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import func, select

from bench.generate import Journeys, generate_chunks
from inburgering.engine import service
from inburgering.engine.driver import skip_days
from inburgering.store.db import CaseFile
from inburgering.store.models import JournalEntry, Letter, ReceivedEvent


@dataclass
class BenchResult:
    journeys: int
    years: int
    seed: int
    events: int
    simulated_days: int
    days_run: int  # the days with something due (the others are skipped)
    generate_seconds: float
    receive_seconds: float  # validate (parse_scenario) + register people + receive into the inbox
    replay_seconds: float  # every day: ingest + deadline monitor
    wall_seconds: float  # receive + replay (generation excluded)
    events_per_second: float  # events / wall
    day_median_seconds: float  # one simulated day: its events and its deadline monitor, one transaction
    day_max_seconds: float
    letters: int
    journal_entries: int
    applied: int
    rejected: int
    peak_rss_mb: float
    database_mb: float

    def as_dict(self) -> dict:
        return asdict(self)


def receive(case_file: CaseFile, chunk: Journeys) -> None:
    """Register a chunk's people and receive its events, as `scenario run` does (the same
    `register_people` and `receive_many`, which validate every event)."""
    with case_file.transaction() as session:
        service.register_people(session, [{"ref": ref, **spec} for ref, spec in chunk.people.items()])
        service.receive_many(session, [(event, "bench", dt.date.fromisoformat(event["date"]))
                                       for event in chunk.events])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


CHUNK = 2000  # journeys generated and received at a time


@dataclass
class Received:
    start: dt.date  # the first and last simulated day
    until: dt.date
    events: int
    generate_seconds: float
    receive_seconds: float


def receive_journeys(case_file: CaseFile, journeys: int, *, years: int, seed: int,
                     each_chunk: Callable[[Journeys], None] | None = None) -> Received:
    """Generate the journeys and receive them into the case file `CHUNK` at a time, timing
    generation and receiving apart. `each_chunk` sees every chunk after it is received
    (outside both timings)."""
    generate_seconds = receive_seconds = 0.0
    events = 0
    t0 = time.perf_counter()
    for chunk in generate_chunks(journeys, years=years, seed=seed, chunk=CHUNK):
        t1 = time.perf_counter()
        generate_seconds += t1 - t0
        receive(case_file, chunk)
        receive_seconds += time.perf_counter() - t1
        events += len(chunk.events)
        if each_chunk:
            each_chunk(chunk)
        t0 = time.perf_counter()
    return Received(chunk.start, chunk.until, events, generate_seconds, receive_seconds)


def run_bench(journeys: int, *, years: int = 3, seed: int = 1, directory: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> BenchResult:
    with tempfile.TemporaryDirectory(prefix="bench-", dir=directory) as tmp:
        path = Path(tmp) / "bench.db"
        case_file = CaseFile(f"sqlite:///{path}")
        try:
            received = receive_journeys(case_file, journeys, years=years, seed=seed)
            start, until = received.start, received.until
            span = (until - start).days + 1
            day_times = []
            worker = service.Worker(case_file, keep_loaded=True)  # as `scenario run` replays

            def timed_day(day: dt.date) -> None:
                a = time.perf_counter()
                worker.day(day)
                day_times.append(time.perf_counter() - a)
                if progress:
                    progress((day - start).days + 1, span)

            t1 = time.perf_counter()
            skip_days(case_file, start, until, timed_day)  # days with nothing due skipped, as replays do
            replay_seconds = time.perf_counter() - t1
            with case_file.transaction() as session:
                letters = session.scalar(select(func.count(Letter.id)))
                journal = session.scalar(select(func.count(JournalEntry.id)))
                outcomes = dict(session.execute(select(ReceivedEvent.status, func.count())
                                                .group_by(ReceivedEvent.status)).all())
        finally:
            case_file.dispose()
        size = sum(os.path.getsize(p) for p in Path(tmp).iterdir())
    wall = received.receive_seconds + replay_seconds
    return BenchResult(
        journeys=journeys, years=years, seed=seed, events=received.events, simulated_days=span, days_run=len(day_times),
        generate_seconds=round(received.generate_seconds, 3), receive_seconds=round(received.receive_seconds, 3),
        replay_seconds=round(replay_seconds, 3), wall_seconds=round(wall, 3),
        events_per_second=round(received.events / wall, 1),
        day_median_seconds=round(statistics.median(day_times), 5),
        day_max_seconds=round(max(day_times), 5),
        letters=letters, journal_entries=journal, applied=outcomes.get("applied", 0),
        rejected=outcomes.get("rejected", 0) + outcomes.get("error", 0),
        peak_rss_mb=round(peak_rss_mb(), 1), database_mb=round(size / 2**20, 1),
    )
