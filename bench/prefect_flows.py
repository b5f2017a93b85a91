"""The engine measured through Prefect: one `ingest-events` flow run over a backlog, then
`deadline-monitor` flow runs, against the same work through the embedded engine.

    .venv/bin/python -m bench.prefect_flows --journeys 1000 [--seed 1] [--days 365] [--json]

N journeys are generated (`bench.generate`), people registered and every event received
into the inbox of a fresh SQLite case file, 2,000 journeys at a time as `bench.run` does;
that file is copied, page for page, once per path, so every path starts from the same bytes:

- embedded: `service.ingest` / `service.run_monitor` called directly (no Prefect);
- prefect: the real flows (`flows/ingest/flow.py`, `flows/monitor/flow.py`) with
  `show_waits=False`; the flows find the case file through INBURGERING_DATABASE_URL;
- prefect_waits: the same flows with their deployment defaults (`show_waits=True`): each
  flow run also shows the cases where someone must act (late, staff decisions) as wait runs,
  up to 200 new ones a run, and the ingest publishes the boards (skip with --skip-waits).

On each path, with D = the first simulated day + `--days` (the journeys all started):

1. ingest(D): one `ingest-events` flow run applies every event dated up to D (the backlog);
2. monitor(D): one `deadline-monitor` flow run (publish=True) for D: it ingests what is
   pending (nothing), fires every deadline due up to D (the catch-up) and publishes the report;
3. daily monitor(D+1): one `deadline-monitor` flow run for the next day: that day's events
   and deadlines, the N journeys open — the run the ≤ 10 s target is about.

Every time is wall time in this process around the call. For a flow run ("end to end") it
covers creating the run on the server, its task runs, the engine's batches (load, apply,
render letters, commit) and the run reaching Completed on the server — from the call of
the flow function to its return, flow heartbeat off (settings context, as bench/compare.py).
It does not cover receiving the events into the inbox (`receive_seconds`, done once before).
`ingest_events_per_second` = events taken from the inbox (applied + rejected) ÷ that wall
time; `ingest_engine_task_seconds` is the ingest task run's own duration as the server
records it; `ingest_outside_engine_seconds` = wall − that (Prefect's orchestration, plus
`sync-case-waits` on the prefect_waits path).

After each flow run its task runs are read back from the API (filtered on the flow run,
explicit limit and sort) once the server shows them all final; `EXPECTED_TASK_RUNS` is
what each flow run makes whatever the size of the backlog. Before anything is timed a
5-journey case file is replayed (imports, templates) and each Prefect path makes one
no-op ingest and monitor flow run (flow registration, first connections).

The Prefect server is a temporary one (`prefect_test_harness`, as bench/compare.py does)
unless PREFECT_API_URL is set. The `outcome` of each path (inbox statuses, deadlines,
cases, letters, journal) must equal the embedded one: the same work was done.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.generate import Journeys
from bench.run import receive_journeys
from inburgering.engine import service
from inburgering.store.db import CaseFile
from inburgering.store.models import Case, Deadline, JournalEntry, Letter, ReceivedEvent

# Task runs each flow run makes (publish=True for the monitor), whatever the backlog:
# ingest-events: ingest-pending-events (one task over all batches) [+ sync-case-waits, publish-boards];
# deadline-monitor: ingest-pending-events, fire-due-deadlines, read-case-board,
# publish-monitor-report [+ sync-case-waits]. Retries reuse the same task run.
EXPECTED_TASK_RUNS = {
    ("ingest", False): 1, ("ingest", True): 3,
    ("monitor", False): 4, ("monitor", True): 5,
}
TASK_RUN_LIMIT = 200  # what we read per flow run; a count reaching it would mean "unbounded"
CASE_WAITS_PER_SYNC = 200  # flows.waiting.sync.CREATE_LIMIT

PATHS = ("embedded", "prefect", "prefect_waits")
STEPS = ("ingest", "monitor", "daily")
PATH_KEYS = (
    "ingest_seconds", "ingest_processed", "ingest_applied", "ingest_rejected", "ingest_events_per_second",
    "ingest_task_runs", "ingest_engine_task_seconds", "ingest_outside_engine_seconds",
    "monitor_seconds", "monitor_fired", "monitor_task_runs",
    "daily_seconds", "daily_applied", "daily_fired", "daily_task_runs",
    "task_seconds", "task_runs_recorded_after_seconds", "pending_left", "case_wait_runs", "actionable_cases", "outcome",
)
SETUP_KEYS = ("journeys", "seed", "years", "events", "first_day", "as_of", "daily_day", "events_due",
              "generate_seconds", "receive_seconds", "heartbeat", "prefect_api")
RATIO_KEYS = ("ingest", "monitor", "daily")


# ---- the case file ----------------------------------------------------------------------------


def prepare_template(journeys: int, *, seed: int, years: int, days: int, directory: Path) -> tuple[Path, dict]:
    """Generate the journeys and receive them all into a fresh case file, a chunk at a time
    as `bench.run` does (so 10^5 journeys never sit in memory together); return its path."""
    path = directory / "template.db"
    case_file = CaseFile(f"sqlite:///{path}")
    due = 0

    def count_due(chunk: Journeys) -> None:
        nonlocal due
        as_of = (chunk.start + dt.timedelta(days=days)).isoformat()
        due += sum(1 for event in chunk.events if event["date"] <= as_of)  # ISO dates sort as dates

    try:
        received = receive_journeys(case_file, journeys, years=years, seed=seed, each_chunk=count_due)
    finally:
        case_file.dispose()
    as_of = received.start + dt.timedelta(days=days)
    setup = {"journeys": journeys, "seed": seed, "years": years, "events": received.events,
             "first_day": received.start.isoformat(), "as_of": as_of.isoformat(),
             "daily_day": (as_of + dt.timedelta(days=1)).isoformat(), "events_due": due,
             "generate_seconds": round(received.generate_seconds, 3),
             "receive_seconds": round(received.receive_seconds, 3)}
    return path, setup


def copy_case_file(template: Path, target: Path) -> str:
    """A page-for-page copy (SQLite's backup API: consistent whatever is in the WAL)."""
    src, dst = sqlite3.connect(template), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return f"sqlite:///{target}"


def pending_up_to(case_file: CaseFile, day: dt.date) -> int:
    with case_file.transaction() as session:
        return session.scalar(select(func.count(ReceivedEvent.id)).where(
            ReceivedEvent.status == "pending", ReceivedEvent.event_date <= day)) or 0


def outcome(case_file: CaseFile) -> dict:
    """What the work left in the case file: the same on every path when the engines agree."""
    with case_file.transaction() as session:
        statuses = dict(session.execute(select(ReceivedEvent.status, func.count())
                                        .group_by(ReceivedEvent.status)).all())
        deadlines = dict(session.execute(select(Deadline.state, func.count()).group_by(Deadline.state)).all())
        return {"inbox": dict(sorted(statuses.items())), "deadlines": dict(sorted(deadlines.items())),
                "cases": session.scalar(select(func.count(Case.id))),
                "letters": session.scalar(select(func.count(Letter.id))),
                "journal": session.scalar(select(func.count(JournalEntry.id)))}


def case_wait_runs(case_file: CaseFile) -> int:
    with case_file.transaction() as session:
        return session.scalar(select(func.count(Case.id)).where(Case.wait_run_id.is_not(None))) or 0


def actionable_cases(case_file: CaseFile) -> int:
    """Cases where someone must act (late, a staff decision): each shows a wait run."""
    from flows.waiting.cases import count_actionable

    with case_file.transaction() as session:
        return count_actionable(session)


def warm_up(directory: Path, *, seed: int, years: int, days: int) -> None:
    """Pay the process's one-time costs (imports, letter templates, policy parsing) on a
    small case file of its own, so neither path is charged for them."""
    path, setup = prepare_template(5, seed=seed, years=years, days=days, directory=directory / "warm")
    case_file = CaseFile(f"sqlite:///{path}", create=False)
    try:
        as_of = dt.date.fromisoformat(setup["as_of"])
        for day in (as_of, as_of + dt.timedelta(days=1)):
            service.ingest(case_file, day)
            service.run_monitor(case_file, day)
    finally:
        case_file.dispose()


# ---- embedded --------------------------------------------------------------------------------


def run_embedded(url: str, first_day: dt.date, as_of: dt.date) -> dict:
    """The same three steps with the engine's service called directly."""
    case_file = CaseFile(url, create=False)
    try:
        before = first_day - dt.timedelta(days=1)  # warm-up: nothing pending or due yet
        service.ingest(case_file, before)
        service.run_monitor(case_file, before)

        t0 = time.perf_counter()
        ingest = service.ingest(case_file, as_of)
        ingest_seconds = time.perf_counter() - t0

        t1 = time.perf_counter()
        service.ingest(case_file, as_of)  # what the monitor flow does first
        monitor = service.run_monitor(case_file, as_of)
        monitor_seconds = time.perf_counter() - t1

        daily_day = as_of + dt.timedelta(days=1)
        t2 = time.perf_counter()
        daily_ingest = service.ingest(case_file, daily_day)
        daily = service.run_monitor(case_file, daily_day)
        daily_seconds = time.perf_counter() - t2

        processed = ingest.applied + ingest.rejected + ingest.errors
        return {
            "ingest_seconds": round(ingest_seconds, 3), "ingest_processed": processed,
            "ingest_applied": ingest.applied, "ingest_rejected": ingest.rejected + ingest.errors,
            "ingest_events_per_second": round(processed / ingest_seconds, 1),
            "ingest_task_runs": None, "ingest_engine_task_seconds": None, "ingest_outside_engine_seconds": None,
            "monitor_seconds": round(monitor_seconds, 3), "monitor_fired": sum(monitor.fired.values()),
            "monitor_task_runs": None,
            "daily_seconds": round(daily_seconds, 3), "daily_applied": daily_ingest.applied,
            "daily_fired": sum(daily.fired.values()), "daily_task_runs": None,
            "task_seconds": None, "task_runs_recorded_after_seconds": None,
            "pending_left": pending_up_to(case_file, daily_day),
            "case_wait_runs": case_wait_runs(case_file), "actionable_cases": actionable_cases(case_file),
            "outcome": outcome(case_file),
        }
    finally:
        case_file.dispose()


# ---- through Prefect --------------------------------------------------------------------------


@contextmanager
def _database(url: str):
    """Point the flows' tasks at this case file (they read INBURGERING_DATABASE_URL)."""
    previous = os.environ.get("INBURGERING_DATABASE_URL")
    os.environ["INBURGERING_DATABASE_URL"] = url
    try:
        yield
    finally:
        from tasks import casefile

        cached = casefile._case_files.pop(url, None)  # the tasks' pool for this file
        if cached is not None:
            cached.dispose()
        if previous is None:
            os.environ.pop("INBURGERING_DATABASE_URL", None)
        else:
            os.environ["INBURGERING_DATABASE_URL"] = previous


def _timed_flow_run(flow_fn, **parameters) -> tuple[float, dict, uuid.UUID]:
    t0 = time.perf_counter()
    state = flow_fn(**parameters, return_state=True)
    seconds = time.perf_counter() - t0
    if not state.is_completed():
        raise RuntimeError(f"{flow_fn.name} ended {state.type.value}: {state.message}")
    return seconds, state.result(), state.state_details.flow_run_id


def task_runs_of(flow_run_id: uuid.UUID, *, poll_seconds: float = 0.25,
                 timeout: float = 120.0) -> tuple[list[dict], float]:
    """The task runs the server recorded for a flow run, and how long after the flow run
    returned the server showed them all final. The server records task-run states in the
    background, so read until every run is in a final state and two reads agree."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    started = time.monotonic()
    deadline = started + timeout
    previous: list | None = None
    settled_after = 0.0
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                                         sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=TASK_RUN_LIMIT, offset=0)
            seen = [(r.id, r.state_type) for r in runs]
            final = all(r.state is not None and r.state.is_final() for r in runs)
            if final and seen == previous:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"task runs of flow run {flow_run_id} did not settle in {timeout} s: {seen}")
            if final and seen != previous:
                settled_after = time.monotonic() - started
            previous = seen if final else None
            time.sleep(poll_seconds)
    if len(runs) >= TASK_RUN_LIMIT:
        raise RuntimeError(f"flow run {flow_run_id} has at least {TASK_RUN_LIMIT} task runs: not bounded")
    return [{"name": r.name, "task": r.task_key, "state": r.state_type.value,
             "seconds": round(r.total_run_time.total_seconds(), 3)} for r in runs], round(settled_after, 2)


def _engine_seconds(runs: list[dict], task_prefix: str) -> float:
    return sum(r["seconds"] for r in runs if r["name"].startswith(task_prefix))


def deploy_wait_flows() -> None:
    """The five process wait flows' deployments, as the catalogue names them."""
    from deployments.catalogue import CATALOGUE
    from deployments.serve import load_flow

    for spec in CATALOGUE:
        if "wait" in spec.tags:
            load_flow(spec.entrypoint).to_deployment(name=spec.name, tags=list(spec.tags)).apply()


def run_prefect(url: str, first_day: dt.date, as_of: dt.date, *, show_waits: bool) -> dict:
    """The same three steps as one flow run each, against the Prefect API in the settings."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.ingest.flow import ingest_events
    from flows.monitor.flow import deadline_monitor

    if show_waits:
        deploy_wait_flows()  # sync_case_waits makes runs of these deployments

    daily_day = as_of + dt.timedelta(days=1)
    with _database(url), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        before = first_day - dt.timedelta(days=1)  # warm-up: flow and task registration, first connections
        _timed_flow_run(ingest_events, as_of=before, show_waits=show_waits)
        _timed_flow_run(deadline_monitor, as_of=before, show_waits=show_waits)

        ingest_seconds, ingest, ingest_id = _timed_flow_run(ingest_events, as_of=as_of, show_waits=show_waits)
        ingest_runs, ingest_recorded = task_runs_of(ingest_id)
        monitor_seconds, monitor, monitor_id = _timed_flow_run(deadline_monitor, as_of=as_of, show_waits=show_waits)
        monitor_runs, monitor_recorded = task_runs_of(monitor_id)
        daily_seconds, daily, daily_id = _timed_flow_run(deadline_monitor, as_of=daily_day, show_waits=show_waits)
        daily_runs, daily_recorded = task_runs_of(daily_id)

        case_file = CaseFile(url, create=False)
        try:
            pending, waits, result = (pending_up_to(case_file, daily_day), case_wait_runs(case_file),
                                      outcome(case_file))
            actionable = actionable_cases(case_file)
        finally:
            case_file.dispose()

    processed = ingest["applied"] + ingest["rejected"] + ingest["errors"]
    engine_seconds = _engine_seconds(ingest_runs, "ingest-pending-events")
    return {
        "ingest_seconds": round(ingest_seconds, 3), "ingest_processed": processed,
        "ingest_applied": ingest["applied"], "ingest_rejected": ingest["rejected"] + ingest["errors"],
        "ingest_events_per_second": round(processed / ingest_seconds, 1),
        "ingest_task_runs": len(ingest_runs), "ingest_engine_task_seconds": round(engine_seconds, 3),
        "ingest_outside_engine_seconds": round(ingest_seconds - engine_seconds, 3),
        "monitor_seconds": round(monitor_seconds, 3), "monitor_fired": sum(monitor["monitor"]["fired"].values()),
        "monitor_task_runs": len(monitor_runs),
        "daily_seconds": round(daily_seconds, 3), "daily_applied": daily["ingest"]["applied"],
        "daily_fired": sum(daily["monitor"]["fired"].values()), "daily_task_runs": len(daily_runs),
        "task_seconds": {"ingest": {r["name"]: r["seconds"] for r in ingest_runs},
                         "monitor": {r["name"]: r["seconds"] for r in monitor_runs},
                         "daily": {r["name"]: r["seconds"] for r in daily_runs}},
        "task_runs_recorded_after_seconds": {"ingest": ingest_recorded, "monitor": monitor_recorded,
                                             "daily": daily_recorded},
        "pending_left": pending, "case_wait_runs": waits, "actionable_cases": actionable, "outcome": result,
    }


# ---- the whole measurement ---------------------------------------------------------------------


def measure(journeys: int, *, seed: int = 1, years: int = 3, days: int = 365, waits: bool = True,
            directory: str | None = None, progress=None) -> dict:
    """Prepare once, then every path on its own copy of the case file. Needs a Prefect API
    (PREFECT_API_URL or a test harness around the call)."""
    from prefect.settings import PREFECT_API_URL

    say = progress or (lambda message: None)
    with tempfile.TemporaryDirectory(prefix="bench-prefect-", dir=directory) as tmp:
        say(f"generating {journeys} journeys and receiving them into the inbox")
        template, setup = prepare_template(journeys, seed=seed, years=years, days=days, directory=Path(tmp))
        first_day, as_of = dt.date.fromisoformat(setup["first_day"]), dt.date.fromisoformat(setup["as_of"])
        setup.update(heartbeat="off", prefect_api=PREFECT_API_URL.value())
        figures: dict[str, Any] = {"setup": setup}
        (Path(tmp) / "warm").mkdir()
        warm_up(Path(tmp), seed=seed, years=years, days=days)
        say(f"embedded: {setup['events_due']} events due up to {as_of}")
        figures["embedded"] = run_embedded(copy_case_file(template, Path(tmp) / "embedded.db"), first_day, as_of)
        say("prefect (show_waits=False)")
        figures["prefect"] = run_prefect(copy_case_file(template, Path(tmp) / "prefect.db"), first_day, as_of,
                                         show_waits=False)
        if waits:
            say("prefect (show_waits=True)")
            figures["prefect_waits"] = run_prefect(copy_case_file(template, Path(tmp) / "waits.db"), first_day,
                                                   as_of, show_waits=True)
    base = figures["embedded"]
    figures["ratios"] = {
        path: {step: ratio(figures[path][f"{step}_seconds"], base[f"{step}_seconds"]) for step in RATIO_KEYS}
        for path in PATHS[1:] if path in figures
    }
    figures["expected_task_runs"] = {f"{flow}{' + waits' if w else ''}": n
                                     for (flow, w), n in EXPECTED_TASK_RUNS.items()}
    return figures


def ratio(seconds: float, base_seconds: float) -> float | None:
    """Prefect's time over the embedded engine's for one step; None when the embedded step
    was too quick to measure (a fast machine runs a day in under the 1 ms the figures keep)."""
    return round(seconds / base_seconds, 2) if base_seconds > 0 else None


# ---- output ------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def print_table(figures: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    setup = figures["setup"]
    console = Console()
    head = Table(title=f"prefect flows: {setup['journeys']} journeys (seed {setup['seed']}), "
                       f"backlog up to {setup['as_of']}, daily run {setup['daily_day']}")
    head.add_column("setup")
    head.add_column("value", justify="right")
    for key in SETUP_KEYS:
        head.add_row(key, _show(setup[key]))
    console.print(head)

    paths = [p for p in PATHS if p in figures]
    table = Table(title="embedded engine vs the same work through Prefect flow runs (wall seconds)")
    table.add_column("figure")
    for path in paths:
        table.add_column(path, justify="right")
    for key in PATH_KEYS:
        if key in ("task_seconds", "task_runs_recorded_after_seconds", "outcome"):
            continue
        table.add_row(key, *(_show(figures[p][key]) for p in paths))
    for step in RATIO_KEYS:
        table.add_row(f"{step}: ÷ embedded (same run)",
                      *(_show(figures["ratios"].get(p, {}).get(step)) for p in paths))
    table.add_row("case file as embedded left it", *("yes" if figures[p]["outcome"] == figures["embedded"]["outcome"]
                                                    else "NO" for p in paths))
    console.print(table)
    for path in paths[1:]:
        console.print(f"[bold]{path}[/] task runs (s): {_show(figures[path]['task_seconds'])}")
        console.print(f"[bold]{path}[/] task runs all final on the server after the flow run returned (s): "
                      f"{_show(figures[path]['task_runs_recorded_after_seconds'])}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.prefect_flows", description=__doc__.split("\n\n")[0])
    parser.add_argument("--journeys", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--days", type=int, default=365, help="the backlog: events up to first day + DAYS")
    parser.add_argument("--skip-waits", action="store_true", help="do not measure the show_waits=True path")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

    def say(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    run = lambda: measure(args.journeys, seed=args.seed, years=args.years, days=args.days,  # noqa: E731
                          waits=not args.skip_waits, progress=say)
    if os.environ.get("PREFECT_API_URL"):
        figures = run()
    else:
        from prefect.testing.utilities import prefect_test_harness

        say("starting a temporary Prefect server")
        with prefect_test_harness(server_startup_timeout=180):
            figures = run()
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_table(figures)


if __name__ == "__main__":
    main()
