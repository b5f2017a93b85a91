from __future__ import annotations

import datetime as dt

from prefect import flow

from inburgering.domain.calendar import today_in_amsterdam
from inburgering.engine.service import IngestReport
from flows.naming import day_run_name, partition_run_name
from tasks.casefile import ingest_pending, ingest_summary
from tasks.partitions import partition_count, run_partition, run_partitions
from tasks.report import publish_boards
from flows.waiting.sync import sync_case_waits


@flow(name="ingest-events", flow_run_name=day_run_name("ingest"))
def ingest_events(as_of: dt.date | None = None, show_waits: bool = True, partitions: int | None = None) -> dict:
    """Apply every received event dated up to `as_of` (default: today in Amsterdam), in batches.

    With more than one partition (default: INBURGERING_PARTITIONS, else 1) each share of the
    people is applied by its own `ingest-partition` run on the work pool, side by side; the
    result is their reports summed."""
    day = as_of or today_in_amsterdam()
    parts = partition_count(partitions)
    if parts == 1:
        report = ingest_pending(day, pages=show_waits)
    else:
        report = run_partitions("ingest-partition/ingest-partition", f"ingest · {day}", day, parts,
                                empty=ingest_summary(IngestReport()))
    if show_waits:
        sync_case_waits()
        publish_boards(day)  # the boards are never older than the last ingest
    return report


@flow(name="ingest-partition", flow_run_name=partition_run_name("ingest"))
def ingest_partition(as_of: dt.date, part: int, parts: int) -> dict:
    """Apply the events of one share of the people (part 1..parts); `ingest-events` runs these.
    Never two runs of the same partition at once: a second one waits for its concurrency slot."""
    return run_partition(f"ingest · {as_of}", part, parts, lambda share: ingest_pending(as_of, share))
