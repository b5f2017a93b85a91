"""Peers for `inburgering bench --compare` (see bench/README.md).

- floor: the same inbox rows inserted with raw sqlite3 (executemany, one transaction,
  the engine's pragmas) — the least any engine storing these events must pay;
- naive Prefect: one flow run per event (receive + ingest of that one event) on a sample
  of 200 events, on a temporary Prefect server, heartbeat off (its best case);
- SpiffWorkflow: the invoice-acceptance stream through a BPMN process (bench/invoice.bpmn),
  each workflow's serialized state stored in SQLite after every event.

Every ratio is measured in the same process run as the figure it is compared with.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from bench.generate import generate


def floor_seconds(events: list[dict], person_ids: dict[str, int]) -> float:
    """Raw SQLite inserts of the inbox rows `receive` stores for these events."""
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        con = sqlite3.connect(Path(tmp) / "floor.db")
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("CREATE TABLE received_events (id INTEGER PRIMARY KEY, idempotency_key TEXT UNIQUE, "
                    "person_id INTEGER, type TEXT, event_date DATE, payload JSON, source TEXT, received_on DATE, "
                    "status TEXT, reason TEXT, case_id INTEGER, processed_on DATE, duplicate_of INTEGER)")
        started = time.perf_counter()
        with con:
            con.executemany(
                "INSERT INTO received_events (idempotency_key, person_id, type, event_date, payload, source, "
                "received_on, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                ((f"k{i}", person_ids[e["person"]], e["type"], e["date"], json.dumps(e), f"scenario:{i}", e["date"])
                 for i, e in enumerate(events)))
        seconds = time.perf_counter() - started
        con.close()
    return seconds


def naive_prefect_seconds_per_event(sample: list[dict], people: dict[str, dict]) -> float:
    """One Prefect flow run per event: receive it and ingest it."""
    from prefect import flow
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    from inburgering.engine import service
    from inburgering.store.db import CaseFile

    with tempfile.TemporaryDirectory(prefix="bench-naive-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'naive.db'}"
        case_file = CaseFile(url)
        with case_file.transaction() as session:
            service.register_people(session, [{"ref": ref, **spec} for ref, spec in people.items()])

        @flow(name="naive-one-event")
        def one_event(event: dict) -> None:
            day = dt.date.fromisoformat(event["date"])
            with case_file.transaction() as session:
                service.receive(session, event, source="naive", received_on=day)
            service.ingest(case_file, day)

        with prefect_test_harness(server_startup_timeout=180), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            one_event(sample[0])  # warm up: flow registration, first connection
            started = time.perf_counter()
            for event in sample[1:]:
                one_event(event)
            seconds = (time.perf_counter() - started) / (len(sample) - 1)
        case_file.dispose()
    return seconds


def compare_peers(*, seed: int, ours_events_per_second: float, journeys: int = 2000) -> dict:
    generated = generate(journeys, seed=seed)
    person_ids = {ref: i for i, ref in enumerate(generated.people, start=1)}
    floor = floor_seconds(generated.events, person_ids)
    floor_per_event = floor / len(generated.events)
    ours_per_event = 1 / ours_events_per_second
    result = {
        "floor_events_per_second": round(len(generated.events) / floor, 1),
        "ours_over_floor": round(ours_per_event / floor_per_event, 1),
    }
    sample = generated.events[:200]
    naive = naive_prefect_seconds_per_event(sample, {ref: generated.people[ref]
                                                     for ref in {e["person"] for e in sample}})
    result["naive_prefect_seconds_per_event"] = round(naive, 4)
    result["naive_prefect_over_ours_per_event"] = round(naive / ours_per_event, 1)
    try:
        from bench.spiff import spiff_events_per_second
    except ImportError:  # the optional `bench` extra is not installed
        result["spiffworkflow"] = "not installed: pip install -e '.[bench]'"
    else:
        spiff, invoice_events = spiff_events_per_second(generated)
        result["spiff_events_per_second"] = round(spiff, 1)
        result["spiff_invoice_events"] = invoice_events
        result["ours_over_spiff_events_per_second"] = round(ours_events_per_second / spiff, 2)
    return result
