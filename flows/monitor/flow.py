from __future__ import annotations

import datetime as dt

from prefect import flow

from inburgering.domain.calendar import today_in_amsterdam
from inburgering.engine.service import ALL, IngestReport, MonitorReport, Partition
from flows.naming import day_run_name, partition_run_name
from tasks.casefile import fire_due_deadlines, ingest_pending, ingest_summary, monitor_summary, read_board
from tasks.partitions import partition_count, run_partition, run_partitions
from tasks.report import publish_monitor_report
from flows.waiting.sync import sync_case_waits


@flow(name="deadline-monitor", flow_run_name=day_run_name("monitor"))
def deadline_monitor(as_of: dt.date | None = None, publish: bool = True, show_waits: bool = True,
                     partitions: int | None = None) -> dict:
    """The day's timers: apply what arrived, fire every deadline due, show what is late.

    Idempotent: running the same day twice fires nothing the second time. With more than one
    partition (default: INBURGERING_PARTITIONS, else 1) each share of the people is done by its
    own `monitor-partition` run on the work pool, side by side; the report sums them."""
    day = as_of or today_in_amsterdam()
    parts = partition_count(partitions)
    if parts == 1:
        done = _bring_up_to_date(day, ALL, pages=show_waits)
    else:
        empty = {"ingest": ingest_summary(IngestReport()), "monitor": monitor_summary(MonitorReport(day))}
        done = run_partitions("monitor-partition/monitor-partition", f"monitor · {day}", day, parts, empty)
    ingest, fired = done["ingest"], done["monitor"]
    if publish:
        publish_monitor_report(day, ingest, fired, read_board(day))
    if show_waits:
        sync_case_waits()
    return {"as_of": day.isoformat(), "ingest": ingest, "monitor": fired}


@flow(name="monitor-partition", flow_run_name=partition_run_name("monitor"))
def monitor_partition(as_of: dt.date, part: int, parts: int) -> dict:
    """The day's events and timers of one share of the people (part 1..parts); `deadline-monitor`
    runs these. Never two runs of the same partition at once."""
    return run_partition(f"monitor · {as_of}", part, parts, lambda share: _bring_up_to_date(as_of, share))


def _bring_up_to_date(as_of: dt.date, share: Partition, pages: bool = True) -> dict:
    """A monitor's work on a share of the people (all of them, or one partition's)."""
    return {"ingest": ingest_pending(as_of, share, pages), "monitor": fire_due_deadlines(as_of, share, pages)}
