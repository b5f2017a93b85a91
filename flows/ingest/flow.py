from __future__ import annotations

import datetime as dt

from prefect import flow

from inburgering.domain.calendar import today_in_amsterdam
from flows.naming import day_run_name
from tasks.casefile import ingest_pending
from tasks.report import publish_boards
from tasks.windows import sync_case_waits


@flow(name="ingest-events", flow_run_name=day_run_name("ingest"))
def ingest_events(as_of: dt.date | None = None, show_waits: bool = True) -> dict:
    """Apply every received event dated up to `as_of` (default: today in Amsterdam), in batches."""
    day = as_of or today_in_amsterdam()
    report = ingest_pending(day)
    if show_waits:
        sync_case_waits()
        publish_boards(day)  # the boards are never older than the last ingest
    return report
