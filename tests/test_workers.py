"""Many workers, one truth: ingests and monitors at once apply every event once and fire every
deadline once, and leave exactly what one worker doing the days in turn leaves.

Each simulated day, two ingests and two monitors start together (threads, each with its own
connection), and one of them is paused between claiming its rows and applying them — as a
worker on a loaded machine would be — while the others run. On PostgreSQL the claim is the
row lock on the people a batch works on (`FOR UPDATE ... SKIP LOCKED`); on SQLite it is the
transaction itself (BEGIN IMMEDIATE: one writer at a time). The race is run on at least 20
days per database, each with another worker paused; no figure here depends on speed.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from bench.generate import generate
from bench.run import receive
from inburgering.engine import service
from inburgering.engine.service import Partition
from inburgering.store.db import CaseFile
from inburgering.store.models import Deadline, JournalEntry, ReceivedEvent
from tests.casefile_snapshot import differences, snapshot

JOURNEYS = 60
WINDOW_DAYS = 300  # simulated days, of which RACE_DAYS with events are raced
RACE_DAYS = 24


@pytest.fixture(scope="module")
def journeys():
    return generate(JOURNEYS, years=1, seed=11)


def _loaded(url: str, journeys) -> CaseFile:
    case_file = CaseFile(url)
    receive(case_file, journeys)
    return case_file


def _days(journeys, race_days: int, window: int = WINDOW_DAYS) -> tuple[list[dt.date], set[dt.date]]:
    """Every day of the window, and the days with events to race (spread over the window)."""
    first = min(dt.date.fromisoformat(e["date"]) for e in journeys.events)
    days = [first + dt.timedelta(days=i) for i in range(window)]
    busy = sorted({dt.date.fromisoformat(e["date"]) for e in journeys.events} & set(days))
    step = max(len(busy) // race_days, 1)
    raced = set(busy[::step][:race_days])
    assert len(raced) == race_days
    return days, raced


def _in_turn(case_file: CaseFile, day: dt.date) -> None:
    service.ingest(case_file, day)
    service.run_monitor(case_file, day)


def _race(case_file: CaseFile, day: dt.date, paused: str, partitions: int = 1) -> None:
    """Two ingests and two monitors of `day` at once; the one named `paused` waits after its claim."""
    errors: list[BaseException] = []
    started = threading.Barrier(4)

    def pause(step: str) -> None:
        if threading.current_thread().name == paused and not getattr(pause, "done", False):
            pause.done = True  # type: ignore[attr-defined]
            threading.Event().wait(0.15)  # holds its claim while the others run

    def work(kind: str, index: int) -> None:
        try:
            started.wait()
            partition = Partition(index % partitions, partitions)
            if kind == "ingest":
                service.ingest(case_file, day, batch_size=7, partition=partition)
            else:
                service.run_monitor(case_file, day, batch_size=7, partition=partition)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    service.after_claim = pause
    try:
        threads = [threading.Thread(target=work, args=(kind, i), name=f"{kind}-{i}")
                   for kind in ("ingest", "monitor") for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        service.after_claim = None
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)


def test_two_ingests_and_two_monitors_at_once_leave_what_one_worker_leaves(database_url, tmp_path, journeys):
    reference = _loaded(f"sqlite:///{tmp_path / 'in-turn.db'}", journeys)
    raced = _loaded(database_url, journeys)
    try:
        days, race_days = _days(journeys, RACE_DAYS)
        rng = random.Random(5)
        for day in days:
            _in_turn(reference, day)
            if day in race_days:  # a race, with another worker paused each time
                _race(raced, day, paused=rng.choice(["ingest-0", "ingest-1", "monitor-0", "monitor-1"]))
            else:
                _in_turn(raced, day)

        assert differences(snapshot(reference), snapshot(raced)) == {}
        # and the races had work: events applied, timers fired, letters sent
        with raced.reading() as session:
            statuses = Counter(dict(session.execute(select(ReceivedEvent.status, func.count())
                                                    .group_by(ReceivedEvent.status)).all()))
            fired = session.scalar(select(func.count()).select_from(Deadline).where(Deadline.state == "fired"))
            raced_events = session.scalar(select(func.count()).select_from(ReceivedEvent).where(
                ReceivedEvent.processed_on.in_(sorted(race_days))))
        assert statuses["applied"] > 300 and fired > 30 and raced_events > 40, (statuses, fired, raced_events)
    finally:
        reference.dispose()
        raced.dispose()


def test_workers_on_different_days_apply_each_event_and_fire_each_deadline_once(database_url, journeys):
    """An ingest and a monitor of a day race an ingest and a monitor three days on: whoever
    gets to a person first does its work; no event is applied twice, no deadline fires twice."""
    case_file = _loaded(database_url, journeys)
    try:
        days, race_days = _days(journeys, 12)
        errors: list[BaseException] = []

        def work(run, on) -> None:  # noqa: ANN001
            try:
                run(case_file, on, batch_size=5)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        for day in sorted(race_days):
            later = day + dt.timedelta(days=3)
            threads = [threading.Thread(target=work, args=run) for run in (
                (service.ingest, day), (service.ingest, later), (service.run_monitor, day),
                (service.run_monitor, later))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        assert not errors, errors
        last = max(race_days) + dt.timedelta(days=3)
        with case_file.reading() as session:
            left = session.scalar(select(func.count()).select_from(ReceivedEvent).where(
                ReceivedEvent.status == "pending", ReceivedEvent.event_date <= last))
            applied = session.scalar(select(func.count()).select_from(ReceivedEvent).where(
                ReceivedEvent.status == "applied"))
            journal = session.execute(select(JournalEntry.case_id, JournalEntry.on_date, JournalEntry.kind,
                                             JournalEntry.type, JournalEntry.data)).all()
        assert left == 0 and applied > 40
        # a doubled event or timer would send the same thing twice: nothing is in the journal twice
        repeated = Counter((c, d, k, t, repr(sorted(x.items()))) for c, d, k, t, x in journal)
        assert [entry for entry, n in repeated.items() if n > 1] == []
    finally:
        case_file.dispose()


def test_partitions_split_the_people_and_together_do_all_the_work(database_url, tmp_path, journeys):
    reference = _loaded(f"sqlite:///{tmp_path / 'in-turn.db'}", journeys)
    split = _loaded(database_url, journeys)
    try:
        days, race_days = _days(journeys, 8, window=120)
        for day in days:
            _in_turn(reference, day)
            if day in race_days:  # workers 0 and 1 of each kind take partitions 0 and 1
                _race(split, day, paused="ingest-1", partitions=2)
            else:
                _in_turn(split, day)
        assert differences(snapshot(reference), snapshot(split)) == {}
    finally:
        reference.dispose()
        split.dispose()


def test_a_partition_takes_only_its_own_people(case_file, journeys):
    receive(case_file, journeys)
    first = min(dt.date.fromisoformat(e["date"]) for e in journeys.events)
    day = first + dt.timedelta(days=60)
    service.ingest(case_file, day, partition=Partition(1, 3))
    with case_file.reading() as session:
        applied = session.scalars(select(ReceivedEvent.person_id).where(ReceivedEvent.status != "pending")).all()
        pending_here = session.scalar(select(func.count()).select_from(ReceivedEvent).where(
            ReceivedEvent.status == "pending", ReceivedEvent.event_date <= day, ReceivedEvent.person_id % 3 == 1))
    assert applied and all(person_id % 3 == 1 for person_id in applied)
    assert pending_here == 0
    with pytest.raises(ValueError, match="3 of 3 is not a partition"):
        Partition(3, 3)


def test_a_long_lived_worker_that_forgets_people_leaves_what_one_keeping_everyone_leaves(tmp_path, journeys):
    """A replay's worker keeps what it loads, up to `keep_people`; people forgotten are loaded
    again when next needed (bounded memory in a long run)."""
    days, _ = _days(journeys, 1, window=200)
    snapshots = []
    for keep in (3, 100_000):
        case_file = _loaded(f"sqlite:///{tmp_path / f'keep{keep}.db'}", journeys)
        worker = service.Worker(case_file, keep_loaded=True, keep_people=keep)
        for day in days:
            worker.day(day)
        snapshots.append(snapshot(case_file))
        case_file.dispose()
    assert differences(*snapshots) == {}


def test_a_run_of_a_later_day_waits_for_a_person_a_run_of_an_earlier_day_holds(case_file):
    """A monitor of day D holds a person (their reminder is due) while an ingest of D+3 runs;
    the person has an event of D+2. Skipping them, the ingest would end with that event still
    pending (the monitor of D does not take events after D): it waits for them instead."""
    from tests.test_engine_incidents import DAY, _people_with_invoices

    _people_with_invoices(case_file, 1)  # the invoice's reminder is due DAY + 14
    with case_file.transaction() as session:
        service.receive(session, {"type": "invoice_accepted", "invoice_number": "F-0", "person": "p0",
                                  "date": (DAY + dt.timedelta(days=16)).isoformat()}, source="test", received_on=DAY)
    claimed, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold(step: str) -> None:
        if threading.current_thread().name == "monitor":
            claimed.set()
            release.wait(60)

    def work(run, on) -> None:  # noqa: ANN001
        try:
            run(case_file, on)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    service.after_claim = hold
    try:
        monitor = threading.Thread(target=work, args=(service.run_monitor, DAY + dt.timedelta(days=14)), name="monitor")
        monitor.start()
        assert claimed.wait(60)
        ingest = threading.Thread(target=work, args=(service.ingest, DAY + dt.timedelta(days=17)), name="ingest")
        ingest.start()
        ingest.join(timeout=5)  # a skipping ingest is done by now; a waiting one is not (or was too slow)
        release.set()
        for thread in (monitor, ingest):
            thread.join(timeout=60)
    finally:
        service.after_claim = None
        release.set()
    assert not errors, errors
    with case_file.reading() as session:
        statuses = session.scalars(select(ReceivedEvent.status).where(ReceivedEvent.type == "invoice_accepted")).all()
        reminders = session.scalar(select(func.count()).select_from(JournalEntry)
                                   .where(JournalEntry.type == "invoice_reminder"))
    assert statuses == ["applied"] and reminders == 1
