"""The production path, as a new user runs it (README "Production"), on one machine.

A Prefect server on PostgreSQL, the case file on PostgreSQL, `inburgering prefect-setup`,
`prefect deploy --all` with prefect.yaml, and two `prefect worker start` processes (each in a
directory of its own, not the checkout: the deployments' pull step finds it). Then:

- a worker machine is lost while its monitor run works (worker and run killed with SIGKILL):
  the automation marks the run Crashed once its heartbeats stop, and a new run of the same
  partition gets the slot the dead one held. Another worker is killed alone: its run carries
  on and completes (its output does not go through the dead worker);
- on several days, two ingests and two monitors are triggered at once (one of each split in 2
  partitions, which run as flow runs of their own on the pool), and the case file ends exactly
  as a sequential replay of the same days leaves it; the runs' reports, summed, count every
  event applied and every deadline fired once.

Run it alone with `bin/test -m production`. Generous timeouts; nothing depends on speed.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from prefect import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import func, select

from bench.generate import generate
from bench.run import receive
from deployments.catalogue import CATALOGUE, QUEUES, queue
from inburgering.engine import service
from inburgering.store.db import CaseFile
from inburgering.store.models import Deadline, ReceivedEvent
from tests.api_server import ROOT, free_port
from tests.casefile_snapshot import differences, snapshot

pytestmark = [pytest.mark.production, pytest.mark.prefect]

JOURNEYS = 60
RACE_DAYS = 3
WAIT = 600  # seconds any one wait may take on a loaded machine before the test gives up


class Stack:
    """The server and the workers, as subprocesses; everything they started is ended at the end."""

    def __init__(self, tmp: Path, prefect_database: str, case_database: str):
        self.tmp = tmp
        self.marker = f"inburgering-production-test-{uuid.uuid4().hex}"  # in every child's environment
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "INBURGERING_"))}
        base.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", INBURGERING_TEST_STACK=self.marker)
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.server_env = {**base, "PREFECT_HOME": str(tmp / "server-home"),
                           "PREFECT_API_DATABASE_CONNECTION_URL": prefect_database,
                           # no scheduled runs of their own: the test triggers every run
                           "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
                           "PREFECT_UI_ENABLED": "false"}
        self.client_env = {**base, "PREFECT_API_URL": self.api_url, "PREFECT_HOME": str(tmp / "client-home"),
                           "INBURGERING_DATABASE_URL": case_database}
        self.processes: list[subprocess.Popen] = []
        self.workers: dict[int, subprocess.Popen] = {}

    def start_server(self) -> None:
        log = (self.tmp / "server.log").open("wb")
        server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                   "--port", str(self.port)], env=self.server_env, cwd=self.tmp, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(server)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert server.poll() is None, (self.tmp / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{self.api_url}/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(1)
        raise AssertionError(f"the Prefect server did not start in 180 s: {(self.tmp / 'server.log').read_text()[-3000:]}")

    def run(self, *args: str, cwd: Path) -> str:
        done = subprocess.run(list(args), env=self.client_env, cwd=cwd, capture_output=True, text=True, timeout=WAIT)
        assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
        return done.stdout

    def start_worker(self, number: int) -> subprocess.Popen:
        machine = self.tmp / f"machine-{number}"  # not the checkout: the pull step finds it
        machine.mkdir(exist_ok=True)
        env = {**self.client_env, "PREFECT_HOME": str(machine / "prefect-home"), "PREFECT_WORKER_QUERY_SECONDS": "2",
               # only so this test can read each run's result (the same disk here)
               "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true", "PREFECT_LOCAL_STORAGE_PATH": str(self.tmp / "results")}
        log = (self.tmp / f"worker-{number}.log").open("wb")
        worker = subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", "inburgering",
                                   "--name", f"worker-{number}"], env=env, cwd=machine, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(worker)
        self.workers[number] = worker
        return worker

    def ours(self) -> dict[int, int]:
        """The processes this test started, anywhere below it (flow runs start their own sessions):
        pid -> parent pid."""
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if self.marker.encode() not in (entry / "environ").read_bytes():
                    continue
                found[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
        return found

    def flow_run_process(self, run_id: uuid.UUID) -> int:
        """The pid of the process running a flow run (its environment names the run)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for pid in self.ours():
                try:
                    if f"PREFECT__FLOW_RUN_ID={run_id}".encode() in Path(f"/proc/{pid}/environ").read_bytes():
                        return pid
                except OSError:
                    continue
            time.sleep(0.5)
        raise AssertionError(f"no process runs flow run {run_id}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for pid in self.ours():  # flow-run processes the workers left
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _states(ids: list[uuid.UUID], until_final: bool = True) -> list[FlowRun]:
    """The runs, once every one of them has ended (or, with until_final False, once every one
    has left Scheduled/Pending)."""
    deadline = time.monotonic() + WAIT
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = [client.read_flow_run(run_id) for run_id in ids]
            if all(r.state.is_final() if until_final else r.state.is_running() or r.state.is_final() for r in runs):
                return runs
            time.sleep(1)
    raise AssertionError(f"runs not done within {WAIT} s: {[(r.name, r.state.name) for r in runs]}")


def _trigger(deployment: str, **parameters) -> uuid.UUID:  # noqa: ANN003
    run = run_deployment(deployment, parameters=parameters, timeout=0, as_subflow=False)
    return run.id


def _race_days(journeys, count: int) -> list[dt.date]:
    first = min(dt.date.fromisoformat(e["date"]) for e in journeys.events)
    return [first + dt.timedelta(days=90 * (i + 1)) for i in range(count)]


def _outcomes(case_file: CaseFile, day: dt.date) -> tuple[int, int, int]:
    """Events applied and rejected, and deadlines fired, on `day`, as the case file has them."""
    with case_file.reading() as session:
        statuses = dict(session.execute(select(ReceivedEvent.status, func.count()).where(
            ReceivedEvent.processed_on == day, ReceivedEvent.status != "duplicate").group_by(ReceivedEvent.status)).all())
        fired = session.scalar(select(func.count()).select_from(Deadline).where(Deadline.state == "fired",
                                                                                Deadline.closed_on == day))
    return statuses.get("applied", 0), statuses.get("rejected", 0), fired


def _reported(result: dict) -> tuple[int, int, int]:
    """Events applied and rejected, and deadlines fired, as one run reported them."""
    if "monitor" not in result:  # an ingest (which fires the timers of the people it brings up to date)
        return result["applied"], result["rejected"], sum(result["fired"].values())
    ingest, monitor = result["ingest"], result["monitor"]
    return (ingest["applied"] + monitor["events"]["applied"], ingest["rejected"] + monitor["events"]["rejected"],
            sum(ingest["fired"].values()) + sum(monitor["fired"].values()))


def test_many_workers_on_postgresql_leave_what_one_worker_leaves(postgres, tmp_path):
    prefect_database = postgres.new_database().replace("postgresql+psycopg", "postgresql+asyncpg")
    case_database = postgres.new_database()
    stack = Stack(tmp_path, prefect_database, case_database)
    journeys = generate(JOURNEYS, years=1, seed=7)
    raced, reference = CaseFile(case_database), CaseFile(f"sqlite:///{tmp_path / 'in-turn.db'}")
    try:
        stack.start_server()
        # README "Production": the set-up (twice: it is safe to repeat), the deployments, the workers
        assert "created" in stack.run(sys.executable, "-m", "inburgering.cli", "prefect-setup", cwd=tmp_path)
        assert "created" not in stack.run(sys.executable, "-m", "inburgering.cli", "prefect-setup", cwd=tmp_path)
        stack.run(sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all", cwd=ROOT)
        receive(raced, journeys)
        receive(reference, journeys)
        for number in (1, 2):
            stack.start_worker(number)

        with temporary_settings(updates={PREFECT_API_URL: stack.api_url}):
            with get_client(sync_client=True) as client:
                deployed = {d.name: d for d in client.read_deployments()}
                priorities = {q.name: q.priority for q in client.read_work_queues(work_pool_name="inburgering")}
            assert {name: d.work_queue_name for name, d in deployed.items()} == {s.name: queue(s) for s in CATALOGUE}
            assert priorities == QUEUES
            assert deployed["deadline-monitor"].global_concurrency_limit.limit == 1

            days = _race_days(journeys, RACE_DAYS)
            # A machine is lost while its monitor works (a partition of 3, which the races below do
            # not use, so they need not wait for it): both runs wait on a lock the test holds.
            lock = psycopg.connect(case_database.replace("postgresql+psycopg", "postgresql"))
            lock.execute("LOCK TABLE people IN ACCESS EXCLUSIVE MODE")
            lost = _trigger("monitor-partition/monitor-partition", as_of=days[0].isoformat(), part=1, parts=3)
            survivor = _trigger("ingest-events/ingest-events", as_of=days[0].isoformat(), show_waits=False)
            _states([lost, survivor], until_final=False)
            lost_run, survivor_run = stack.flow_run_process(lost), stack.flow_run_process(survivor)
            parents = stack.ours()
            lost_worker, survivor_worker = parents[lost_run], parents[survivor_run]
            for pid in {lost_run, lost_worker, survivor_worker}:  # the survivor's run itself lives on
                os.kill(pid, signal.SIGKILL)
            lock.rollback()
            lock.close()
            for number, worker in list(stack.workers.items()):
                if worker.pid in (lost_worker, survivor_worker):
                    worker.wait(timeout=60)
                    stack.start_worker(number + 10)

            reports: dict[dt.date, list[uuid.UUID]] = {days[0]: [survivor]}
            for day in days:
                on = day.isoformat()
                # two ingests and two monitors of the day at once, one of each in 2 partitions
                reports.setdefault(day, []).extend([
                    _trigger("ingest-events/ingest-events", as_of=on, show_waits=False, partitions=2),
                    _trigger("ingest-events/ingest-events", as_of=on, show_waits=False, partitions=1),
                    _trigger("deadline-monitor/deadline-monitor", as_of=on, publish=False, show_waits=False,
                             partitions=2),
                    _trigger("deadline-monitor/deadline-monitor", as_of=on, publish=False, show_waits=False,
                             partitions=1)])
                runs = _states(reports[day])
                assert [(r.name, r.state.name) for r in runs if not r.state.is_completed()] == []
                service.ingest(reference, day)
                service.run_monitor(reference, day)
                # every event applied and every deadline fired once: the reports add up to the case file
                totals = [sum(counts) for counts in zip(*(_reported(r.state.result()) for r in runs))]
                assert tuple(totals) == _outcomes(raced, day) == _outcomes(reference, day), day

            lost_state = _states([lost])[0].state
            assert lost_state.is_crashed() and "No heartbeat" in (lost_state.message or ""), lost_state
            # its partition's slot is free again: a new run of it gets it (and finds nothing left to do)
            again = _states([_trigger("monitor-partition/monitor-partition", as_of=days[-1].isoformat(), part=1,
                                      parts=3)])[0]
            assert again.state.is_completed() and _reported(again.state.result()) == (0, 0, 0), again.state
            with get_client(sync_client=True) as client:
                partition_runs = [r for r in client.read_flow_runs() if " · part " in r.name]
            assert len(partition_runs) == RACE_DAYS * 4 + 2
            assert {r.name for r in partition_runs} >= {f"monitor · {days[-1]} · part 2/2",
                                                       f"ingest · {days[0]} · part 1/2"}

        assert differences(snapshot(reference), snapshot(raced)) == {}
        applied, _, fired = _outcomes(raced, days[-1])
        with raced.reading() as session:
            all_applied = session.scalar(select(func.count()).select_from(ReceivedEvent).where(
                ReceivedEvent.status == "applied"))
        assert all_applied > 300 and fired + applied > 20, (all_applied, applied, fired)  # the races had work
    finally:
        stack.stop()
        raced.dispose()
        reference.dispose()
