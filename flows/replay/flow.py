"""`scenario run --engine prefect`: the same days through real Prefect flow runs.

One parent run replays the scenario; each simulated day with something due runs the real
`deadline-monitor` flow (the day's events, then its timers) as a subflow. A day with
nothing due is a no-op in the embedded engine too, so both skip it (engine/driver.py).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
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
    with _database(url), _prefect_api(), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        replay_scenario(days[0], days[-1])


# A loaded 2-core machine: the ephemeral server's start (its database migrations) took longer than
# Prefect's 20 seconds (3 failures in 36 runs, issue #23); its stop is waited for, not cut short.
SERVER_START_SECONDS = 180
SERVER_START_ATTEMPTS = 3
SERVER_STOP_SECONDS = 60


@contextmanager
def _prefect_api():
    """The Prefect API the replay talks to: the one configured (PREFECT_API_URL), else a temporary
    server of its own, started patiently (and again, should a start fail) and stopped only once
    the logs and events the runs sent have reached it."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        yield
        return
    server = _start_server(SubprocessASGIServer)
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            yield
            _drain()
    finally:
        _stop_server(server)


def _start_server(server_class):  # noqa: ANN001, ANN202
    for attempt in range(1, SERVER_START_ATTEMPTS + 1):
        server = server_class(port=server_class().find_available_port())
        # Prefect's own code asks for the server without a port (SubprocessASGIServer()): this one.
        server_class._instances[None] = server
        try:
            server.start(timeout=SERVER_START_SECONDS)
            return server
        except RuntimeError as exc:
            _stop_server(server)
            if attempt == SERVER_START_ATTEMPTS:
                raise RuntimeError(f"the temporary Prefect server did not start in {SERVER_START_ATTEMPTS} attempts "
                                   f"of {SERVER_START_SECONDS} s each: {exc}") from None
    raise AssertionError("unreachable")


def _drain() -> None:
    """Wait until the logs and events the flow runs sent are with the server."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=SERVER_STOP_SECONDS)
        except Exception:  # noqa: BLE001 - a worker never started has nothing to drain
            pass


def _stop_server(server) -> None:  # noqa: ANN001
    """Stop the server and wait for it to finish (Prefect's own stop kills it after 5 s)."""
    process = server.server_process
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=SERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pass
    try:
        server.stop()
    except Exception:  # noqa: BLE001 - the replay is done; a server that stops badly does not undo it
        pass
    type(server)._instances.pop(None, None)
