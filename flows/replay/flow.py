"""`scenario run --engine prefect`: the same days through real Prefect flow runs.

One parent run replays the scenario; each simulated day with something due runs the real
`deadline-monitor` flow (the day's events, then its timers) as a subflow. A day with
nothing due is a no-op in the embedded engine too, so both skip it (engine/driver.py).
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager

from prefect import flow
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from flows.monitor.flow import deadline_monitor
from inburgering.engine.driver import skip_days
from inburgering.store.db import CaseFile


@flow(name="replay-scenario", flow_run_name="replay {first} .. {last}")
def replay_scenario(first: dt.date, last: dt.date) -> int:
    """The real `deadline-monitor` flow (the day's events, then its timers) on each day with
    something due — an event, a deadline, a hold ending, a held letter overdue, a policy date —
    as the embedded engine does it (engine/driver.py)."""
    from tasks.casefile import case_file

    return skip_days(case_file(), first, last,
                     lambda day: deadline_monitor(as_of=day, publish=False, show_waits=False))


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
