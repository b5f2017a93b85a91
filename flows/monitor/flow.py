from __future__ import annotations

import datetime as dt

from prefect import flow

from inburgering.domain.calendar import today_in_amsterdam
from flows.naming import day_run_name
from tasks.casefile import fire_due_deadlines, ingest_pending, read_board
from tasks.report import publish_monitor_report
from tasks.windows import sync_case_waits


@flow(name="deadline-monitor", flow_run_name=day_run_name("monitor"))
def deadline_monitor(as_of: dt.date | None = None, publish: bool = True, show_waits: bool = True) -> dict:
    """The day's timers: apply what arrived, fire every deadline due, show what is late.

    Idempotent: running the same day twice fires nothing the second time."""
    day = as_of or today_in_amsterdam()
    ingest = ingest_pending(day)
    fired = fire_due_deadlines(day)
    if publish:
        publish_monitor_report(day, ingest, fired, read_board(day))
    if show_waits:
        sync_case_waits()
    return {"as_of": day.isoformat(), "ingest": ingest, "monitor": fired}
