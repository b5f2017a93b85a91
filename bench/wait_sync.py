"""The wait-run sync at 10^5 waiting cases, against a real Prefect server on SQLite and on
PostgreSQL, and how responsive the server stays meanwhile.

    .venv/bin/python -m bench.wait_sync [--cases 100000] [--late 5000] [--servers sqlite,postgresql] [--json]

A fresh SQLite case file gets N waiting intake cases (a third of a person each), of which
`--late` are late and 50 wait for a staff decision: the actionable ones. Policy
`wait_runs_max` (default 1000) bounds the live wait runs. For each server (a `prefect server
start` of its own: SQLite in a temporary PREFECT_HOME, or PostgreSQL on a private server as the
tests start one), the five wait deployments are applied and then, timed one call each:

1. `fill`: syncs until the bound is reached (each call makes at most 200 runs, suspended with
   their forms: one bulk request per 100 runs and two input requests per run);
2. `steady`: a sync with nothing to do (reads the shown runs' states: 5 requests for 1000);
3. `moved`: 100 shown cases move on (new version): 100 runs cancelled and made again;
4. `next_day`: the next day: every late run is renamed (its days late changed);
5. `lost`: 100 runs deleted in the UI: shown again.

Meanwhile a probe thread asks the server what a process owner's Runs page asks (suspended runs
tagged `late`, 25 a page) every 0.5 s; its latencies (median, p95, max) and failures are the
responsiveness figures. Wall times; a measured time is never divided by without guarding 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

DAY = dt.date(2026, 11, 23)


def fill_case_file(url: str, cases: int, late: int, staff: int) -> None:
    from sqlalchemy import insert

    from inburgering.store.db import CaseFile
    from inburgering.store.models import Case, Person

    case_file = CaseFile(url)
    try:
        with case_file.transaction() as session:
            connection = session.connection()
            people = range(1, cases // 3 + 2)
            connection.execute(insert(Person.__table__), [
                {"id": p, "ref": f"p{p}", "bsn": f"{p:09d}", "name": "N", "email": None, "born": None} for p in people])
            rows = []
            for c in range(1, cases + 1):
                is_late, is_staff = c <= late, late < c <= late + staff
                rows.append({"id": c, "person_id": c // 3 + 1, "process": "exemption" if is_staff else "intake",
                             "key": str(c), "status": "waiting_for_staff_decision" if is_staff
                             else "waiting_for_prerequisites",
                             "waiting_for": "staff decision (staff_decision, case agi)" if is_staff
                             else "municipal registration (BRP)",
                             "waiting_since": DAY - dt.timedelta(days=100 + c % 50),
                             "late_since": DAY - dt.timedelta(days=1 + c % 40) if is_late else None,
                             "state": {"opened_on": "2026-01-01"}, "opened_on": DAY, "updated_on": DAY, "version": 3})
            for start in range(0, len(rows), 5000):
                connection.execute(insert(Case.__table__), rows[start:start + 5000])
    finally:
        case_file.dispose()


class Probe(threading.Thread):
    """What the Runs page asks, every 0.5 s, until stopped: latencies and failures."""

    def __init__(self, api: str):
        super().__init__(daemon=True)
        self.api, self.times, self.failures, self.stopping = api, [], 0, threading.Event()

    def run(self) -> None:
        body = {"flow_runs": {"tags": {"all_": ["late"]}, "state": {"type": {"any_": ["PAUSED"]}}},
                "limit": 25, "offset": 0, "sort": "EXPECTED_START_TIME_DESC"}
        with httpx.Client(timeout=30) as client:
            while not self.stopping.wait(0.5):
                t0 = time.perf_counter()
                try:
                    client.post(f"{self.api}/flow_runs/filter", json=body).raise_for_status()
                    self.times.append(time.perf_counter() - t0)
                except httpx.HTTPError:
                    self.failures += 1

    def figures(self) -> dict:
        times = sorted(self.times)
        if not times:
            return {"probes": 0, "failures": self.failures}
        return {"probes": len(times), "failures": self.failures, "median_ms": round(statistics.median(times) * 1e3, 1),
                "p95_ms": round(times[int(len(times) * 0.95) - 1 if len(times) > 1 else 0] * 1e3, 1),
                "max_ms": round(times[-1] * 1e3, 1)}


def start_server(home: Path, port: int, database: str | None) -> subprocess.Popen:
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_API_URL=f"http://127.0.0.1:{port}/api")
    if database:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database
    log = open(home / "server.log", "ab")  # noqa: SIM115 - closed with the process
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    server.kill()
    raise SystemExit(f"the Prefect server did not start; see {home / 'server.log'}")


def _timed(step) -> tuple[float, dict]:  # noqa: ANN001
    t0 = time.perf_counter()
    result = step()
    return round(time.perf_counter() - t0, 2), result


def measure_server(kind: str, template: Path, directory: Path, *, pg=None) -> dict:  # noqa: ANN001
    import shutil
    import socket

    from bench.prefect_flows import copy_case_file, deploy_wait_flows

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = directory / kind
    home.mkdir()
    database = None
    if kind == "postgresql":
        database = pg.new_database().replace("postgresql+psycopg", "postgresql+asyncpg")
    server = start_server(home, port, database)
    api = f"http://127.0.0.1:{port}/api"
    url = copy_case_file(template, directory / f"{kind}.db")
    os.environ.update(PREFECT_API_URL=api, INBURGERING_DATABASE_URL=url)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.waiting import sync as windows
    from tasks.casefile import _case_files

    figures: dict = {"server": kind}
    probe = Probe(api)
    try:
        with temporary_settings({PREFECT_API_URL: api}):
            deploy_wait_flows()
            probe.start()
            fills = []
            while True:
                seconds, result = _timed(lambda: windows.sync(DAY))
                fills.append((seconds, result["shown"]))
                if not result["shown"]:
                    break
            figures["fill"] = {"calls": len(fills) - 1, "runs_made": sum(n for _, n in fills),
                               "seconds": round(sum(s for s, _ in fills[:-1]), 2),
                               "per_call_seconds": [s for s, _ in fills[:-1]],
                               "runs_per_second": round(sum(n for _, n in fills) / max(sum(s for s, _ in fills), 1e-9),
                                                        1)}
            figures["steady_seconds"], steady = _timed(lambda: windows.sync(DAY))
            assert steady["shown"] == steady["renamed"] == 0, steady
            from sqlalchemy import text

            from inburgering.store.db import CaseFile

            cf = CaseFile(url, create=False)
            with cf.transaction() as session:
                session.execute(text("UPDATE cases SET version = version + 1 WHERE id IN (SELECT id FROM cases "
                                     "WHERE wait_run_id IS NOT NULL ORDER BY id LIMIT 100)"))
            figures["moved_seconds"], moved = _timed(lambda: windows.sync(DAY))
            figures["moved"] = {"shown": moved["shown"], "cancelled": moved["cancelled"]}
            figures["next_day_seconds"], renamed = _timed(lambda: windows.sync(DAY + dt.timedelta(days=1)))
            figures["next_day_renamed"] = renamed["renamed"]
            with cf.transaction() as session:
                lost = [r for r, in session.execute(text("SELECT wait_run_id FROM cases WHERE wait_run_id IS NOT NULL "
                                                         "ORDER BY id DESC LIMIT 100"))]
            cf.dispose()
            deleted = 0
            with httpx.Client(timeout=30) as client:
                for run_id in lost:
                    deleted += client.delete(f"{api}/flow_runs/{run_id}").status_code == 204
            figures["lost_deleted"] = deleted
            figures["lost_seconds"], again = _timed(lambda: windows.sync(DAY + dt.timedelta(days=1)))
            figures["lost_replaced"] = again["replaced"]
            figures["bound"] = again["bound"]
            figures["actionable"] = again["actionable"]
    finally:
        probe.stopping.set()
        probe.join()
        figures["probe"] = probe.figures()
        cached = _case_files.pop(url, None)
        if cached is not None:
            cached.dispose()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(home, ignore_errors=True)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.wait_sync", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--late", type=int, default=5_000)
    parser.add_argument("--staff", type=int, default=50)
    parser.add_argument("--servers", default="sqlite,postgresql")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    results = {"cases": args.cases, "late": args.late, "staff_decisions": args.staff,
               "load_average_at_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-waits-") as tmp:
        directory = Path(tmp)
        template = directory / "template.db"
        t0 = time.perf_counter()
        fill_case_file(f"sqlite:///{template}", args.cases, args.late, args.staff)
        results["fill_case_file_seconds"] = round(time.perf_counter() - t0, 1)
        pg = None
        if "postgresql" in args.servers:
            from tests.postgres_server import PostgresServer

            pg = PostgresServer()
            pg.start()
        try:
            for kind in args.servers.split(","):
                print(f"[{time.strftime('%H:%M:%S')}] {kind}", file=sys.stderr, flush=True)
                results[kind] = measure_server(kind, template, directory, pg=pg)
        finally:
            if pg is not None:
                pg.stop()
    results["load_average_at_end"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
