"""Partitions side by side: the engine's ingest and monitor in one process against two processes
that each take one partition (person id mod 2), on the same synthetic journeys, in the same run.

    python -m bench.partitions [--journeys 5000] [--years 1] [--seed 1] [--every 7] [--runs 3]
                               [--database postgresql] [--database sqlite] [--json]

The journeys are received once into a template case file; every run starts from an exact copy
(PostgreSQL `CREATE DATABASE … TEMPLATE`, SQLite `VACUUM INTO`) and replays the simulated days
(ingest, then the monitor), as `bench` does, every `--every` days: with 7, each step has a
week's events and deadlines (about 900 at 5,000 journeys), the size of one day at about 35,000
journeys. With `--every 1` and few journeys a step is a few dozen events, and what every batch
costs whatever its size (its queries, the policy, the claim) is paid once per partition. With two processes each day's partitions run side
by side and the next day starts when both are done — the shape of a parent flow waiting for its
partition runs. Runs alternate (1, 2, 1, 2, …) so a change in the machine's load meets both.

Besides the wall time it reports the CPU seconds of the workers, of PostgreSQL's server
processes and of everything else on the machine during the run (other engineers share it), and
checks that the two-process case file is the one-process case file (tests/casefile_snapshot).
`postgresql` starts a private server as the tests do (INBURGERING_TEST_POSTGRES_URL: use that one).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from bench.run import receive_journeys
from inburgering.engine import service
from inburgering.engine.service import Partition
from inburgering.store.db import CaseFile

TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    database: str
    processes: int
    wall_seconds: float
    worker_cpu_seconds: float  # the partition processes, user + system
    postgres_cpu_seconds: float  # PostgreSQL's server processes (0 on SQLite)
    backend_cpu_seconds: float  # of which the workers' own connections (their queries)
    other_cpu_seconds: float  # everything else on the machine meanwhile
    loadavg: float  # 1-minute load average at the end
    same_as_one_process: bool | None = None


# ---- a partition worker ---------------------------------------------------------------------------


def _worker(url: str, part: int, parts: int, days: list[dt.date], start: multiprocessing.Barrier,
            day_done: multiprocessing.Barrier | None, results: multiprocessing.Queue) -> None:
    case_file = CaseFile(url)  # connects and checks the schema before the clock starts
    partition = Partition(part, parts)
    backend = _backend_cpu(case_file)
    start.wait()
    cpu = os.times()
    for day in days:
        service.ingest(case_file, day, partition=partition)
        service.run_monitor(case_file, day, partition=partition)
        if day_done is not None:
            day_done.wait()
    after = os.times()
    backend = _backend_cpu(case_file) - backend
    case_file.dispose()
    results.put((after.user + after.system - cpu.user - cpu.system, backend))


def _backend_cpu(case_file: CaseFile) -> float:
    """CPU seconds of this process's PostgreSQL backend (a worker uses one connection at a time)."""
    if case_file.engine.dialect.name != "postgresql":
        return 0.0
    with case_file.engine.connect() as conn:
        return _process_cpu(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar(), children=False)


def _replay(url: str, processes: int, days: list[dt.date], probe: Callable[[bool], tuple[float, float]]) -> tuple:
    """Replay the days with `processes` partition processes: wall seconds, their CPU seconds, and
    `probe(ended)` (the machine's and PostgreSQL's CPU counters) at the start and at the end."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes + 1)
    day_done = context.Barrier(processes) if processes > 1 else None
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(url, part, processes, days, start, day_done, results))
               for part in range(processes)]
    for worker in workers:
        worker.start()
    start.wait()
    before = probe(False)
    t0 = time.perf_counter()
    cpu, backends = zip(*(results.get() for _ in workers))
    wall = time.perf_counter() - t0
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise RuntimeError(f"a partition process failed (exit code {worker.exitcode})")
    return wall, sum(cpu), sum(backends), before, probe(True)


# ---- CPU of the machine and of PostgreSQL -----------------------------------------------------------


def _busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / TICK


def _process_cpu(pid: int, children: bool) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in stat[11:15])
    return (utime + stime + (cutime + cstime if children else 0)) / TICK


def _postgres_cpu(postmaster: int | None, database: str | None = None) -> float:
    """CPU seconds of a PostgreSQL server: the postmaster with its ended children, and the live ones.
    With `database`, first waits (up to 10 s) until that database's backends have ended and been
    reaped, so their CPU is in the postmaster's count rather than nowhere."""
    if postmaster is None:
        return 0.0
    deadline = time.monotonic() + 10
    while True:
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                        children.append((int(entry.name), (entry / "cmdline").read_bytes()))
                except (OSError, ValueError):
                    continue
        if database is None or time.monotonic() > deadline \
                or not any(f" {database} ".encode() in cmdline for _, cmdline in children):
            break
        time.sleep(0.05)
    total = _process_cpu(postmaster, children=True)
    for pid, _ in children:
        try:
            total += _process_cpu(pid, children=True)
        except OSError:  # ended since: counted with the postmaster's children once reaped
            continue
    return total


# ---- databases -----------------------------------------------------------------------------------


class PostgresCopies:
    def __init__(self, server=None) -> None:  # noqa: ANN001 - a started tests.postgres_server.PostgresServer
        from tests.postgres_server import PostgresServer

        self.own = server is None
        self.server = server or PostgresServer()
        if self.own:
            self.server.start()
        self.template = self.server.new_database()
        self.admin = sa.create_engine(self.server.url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        # the postmaster is the parent of every backend
        self.postmaster = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) \
            if Path(f"/proc/{pid}").exists() else None
        self.count = 0

    def loaded(self) -> None:
        """The template is filled: its statistics made now, so no copy is analysed or vacuumed mid-run."""
        engine = sa.create_engine(self.template, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
        engine.dispose()

    def copy(self) -> str:
        self.count += 1
        name = f"{self.template.rsplit('/', 1)[1]}_copy{self.count}"
        with self.admin.connect() as conn:
            # FILE_COPY and a checkpoint: the copy's pages are written before the clock starts
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template.rsplit("/", 1)[1]}" '
                                 "STRATEGY FILE_COPY"))
            conn.execute(sa.text("CHECKPOINT"))
        return self.template.rsplit("/", 1)[0] + f"/{name}"

    def drop(self, url: str) -> None:
        """A copy that was measured goes at once: autovacuum cleaning it up would bill the next run."""
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))

    def close(self) -> None:
        self.admin.dispose()
        if self.own:
            self.server.stop()


class SqliteCopies:
    postmaster = None

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.template = f"sqlite:///{self.directory / 'template.db'}"
        self.count = 0

    def loaded(self) -> None:
        pass

    def copy(self) -> str:
        self.count += 1
        target = self.directory / f"copy{self.count}.db"
        engine = sa.create_engine(self.template)
        with engine.connect() as conn:
            conn.exec_driver_sql(f"VACUUM INTO '{target}'")
        engine.dispose()
        # The copy is in rollback-journal mode: switch it to WAL here, once. Two workers opening
        # it at the same moment would both try, and the loser's switch fails at once ("database
        # is locked": SQLite's busy timeout does not cover the change of journal mode).
        CaseFile(f"sqlite:///{target}").dispose()
        return f"sqlite:///{target}"

    def drop(self, url: str) -> None:
        Path(url.removeprefix("sqlite:///")).unlink()

    def close(self) -> None:
        pass


# ---- the benchmark -------------------------------------------------------------------------------


def measure(database: str, journeys: int, years: int, seed: int, every: int, runs: int, directory: str,
            postgres=None) -> dict:  # noqa: ANN001 - a started PostgresServer to use instead of a new one
    from tests.casefile_snapshot import differences, snapshot

    copies = PostgresCopies(postgres) if database == "postgresql" else SqliteCopies(directory)
    try:
        template = CaseFile(copies.template)
        received = receive_journeys(template, journeys, years=years, seed=seed)
        template.dispose()
        copies.loaded()
        days = [received.start + dt.timedelta(days=i) for i in range(0, (received.until - received.start).days + 1,
                                                                     every)]
        results: list[Run] = []
        reference = None
        for _ in range(runs):
            for processes in (1, 2):
                url = copies.copy()
                copy = url.rsplit("/", 1)[1]
                wall, worker_cpu, backend_cpu, (busy0, pg0), (busy1, pg1) = _replay(
                    url, processes, days,
                    lambda ended: (_busy_seconds(), _postgres_cpu(copies.postmaster, copy if ended else None)))
                pg_cpu = pg1 - pg0
                other = max(busy1 - busy0 - worker_cpu - pg_cpu, 0.0)
                run = Run(database, processes, round(wall, 2), round(worker_cpu, 2), round(pg_cpu, 2),
                          round(backend_cpu, 2), round(other, 2), round(os.getloadavg()[0], 2))
                case_file = CaseFile(url)
                if processes == 1 and reference is None:
                    reference = snapshot(case_file)
                else:
                    run.same_as_one_process = differences(reference, snapshot(case_file)) == {}
                case_file.dispose()
                copies.drop(url)
                results.append(run)
    finally:
        copies.close()
    return summary(database, received.events, len(days), every, results)


def summary(database: str, events: int, days: int, every: int, runs: list[Run]) -> dict:
    def median(processes: int, field: str) -> float:
        values = [getattr(r, field) for r in runs if r.processes == processes]
        return round(statistics.median(values), 2)

    one, two = median(1, "wall_seconds"), median(2, "wall_seconds")
    # runs alternate 1, 2, 1, 2: each pair met about the same load from the rest of the machine
    pairs = [a.wall_seconds / b.wall_seconds for a, b in zip(runs[::2], runs[1::2]) if b.wall_seconds > 0]
    return {
        "database": database, "events": events, "steps": days, "every_days": every, "runs": [asdict(r) for r in runs],
        "median_wall_1": one, "median_wall_2": two,
        "speedup": round(one / two, 2) if two > 0 else None,
        "median_pair_speedup": round(statistics.median(pairs), 2) if pairs else None,
        "median_cpu_1": round(median(1, "worker_cpu_seconds") + median(1, "postgres_cpu_seconds"), 2),
        "median_cpu_2": round(median(2, "worker_cpu_seconds") + median(2, "postgres_cpu_seconds"), 2),
        "median_other_cpu_2": median(2, "other_cpu_seconds"),
        "all_the_same": all(r.same_as_one_process is not False for r in runs),
    }


def report(result: dict) -> str:
    lines = [f"{result['database']}: {result['events']} events in {result['steps']} steps of {result['every_days']} "
             "simulated day(s)",
             "  processes  wall s  workers' CPU s  PostgreSQL CPU s (their backends)  others' CPU s  load  "
             "same case file"]
    for r in result["runs"]:
        same = {None: "(reference)", True: "yes", False: "NO"}[r["same_as_one_process"]]
        lines.append(f"  {r['processes']:>9}  {r['wall_seconds']:>6}  {r['worker_cpu_seconds']:>14}  "
                     f"{r['postgres_cpu_seconds']:>16} ({r['backend_cpu_seconds']:>14})  {r['other_cpu_seconds']:>13}  "
                     f"{r['loadavg']:>4}  {same}")
    speedup = result["speedup"]
    lines.append(f"  median wall: 1 process {result['median_wall_1']} s, 2 processes {result['median_wall_2']} s: "
                 f"speed-up {speedup}x (median of the runs' pairs: {result['median_pair_speedup']}x)")
    two = result["median_wall_2"]
    if two > 0:
        lines.append(f"  CPU used by this benchmark while 2 processes ran: {result['median_cpu_2']} s over {two} s "
                     f"= {result['median_cpu_2'] / two:.2f} of 2 cores; others on the machine: "
                     f"{result['median_other_cpu_2'] / two:.2f} cores")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=5000)
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--every", type=int, default=7, help="simulated days per step (ingest + monitor)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (1 and 2 processes), alternating")
    parser.add_argument("--database", action="append", choices=["postgresql", "sqlite"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-partitions-") as directory:
        for database in args.database or ["postgresql", "sqlite"]:
            result = measure(database, args.journeys, args.years, args.seed, args.every, args.runs, directory)
            results.append(result)
            if not args.json:
                print(report(result), flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    if not all(r["all_the_same"] for r in results):
        raise SystemExit("the partitions left another case file than one process")


if __name__ == "__main__":
    main()
