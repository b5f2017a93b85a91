"""`scenario run --engine prefect`: the same days through real Prefect flow runs.

One parent run replays the scenario; each simulated day with work runs the real
`ingest-events` and `deadline-monitor` flows as subflows. A day without pending
events or due deadlines is a no-op in the embedded engine too, so it is skipped.
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager

from prefect import flow
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from sqlalchemy import func, select

from flows.ingest.flow import ingest_events
from flows.monitor.flow import deadline_monitor
from inburgering.engine.service import next_due_date
from inburgering.store.db import CaseFile
from inburgering.store.models import ReceivedEvent


def _has_pending(case_file: CaseFile, day: dt.date) -> bool:
    with case_file.transaction() as session:
        return bool(session.scalar(select(func.count(ReceivedEvent.id)).where(
            ReceivedEvent.status == "pending", ReceivedEvent.event_date <= day)))


def _due(case_file: CaseFile, day: dt.date) -> bool:
    with case_file.transaction() as session:
        due = next_due_date(session)
    return due is not None and due <= day


@flow(name="replay-scenario", flow_run_name="replay {first} .. {last}")
def replay_scenario(first: dt.date, last: dt.date) -> int:
    from tasks.casefile import case_file

    cf = case_file()
    runs = 0
    day = first
    while day <= last:
        if _has_pending(cf, day):
            ingest_events(as_of=day, show_waits=False)
            runs += 1
        if _due(cf, day):
            deadline_monitor(as_of=day, publish=False, show_waits=False)
            runs += 1
        day += dt.timedelta(days=1)
    return runs


@contextmanager
def _database(url: str):
    previous = os.environ.get("INBURGERING_DATABASE_URL")
    os.environ["INBURGERING_DATABASE_URL"] = url
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("INBURGERING_DATABASE_URL", None)
        else:
            os.environ["INBURGERING_DATABASE_URL"] = previous


def prefect_driver(case_file: CaseFile, days: list[dt.date]) -> None:
    """Drive the days through Prefect. The flows find the scenario's case file by URL."""
    url = case_file.engine.url.render_as_string(hide_password=False)
    with _database(url), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        replay_scenario(days[0], days[-1])
