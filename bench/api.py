"""The inbound API under load: the real server (`inburgering api`, its own process) over N
concurrent connections, events in lists of 100 and one by one, on SQLite and PostgreSQL.

    python -m bench.api [--list-events 20000] [--singles 5000] [--connections 20]
                        [--database sqlite] [--database postgresql] [--database URL] [--workers 1] [--json]

`postgresql` starts a private server (Debian's postgresql, as the tests do); a URL names an
empty database of your own. Prints, per database and phase: requests, events, wall seconds,
requests/s, events/s, p50 and p99 latency; then checks that every accepted id is in the inbox
once (`missing` and `extra` must be 0). api.md's targets: >= 1,000 events/s in lists of 100,
>= 300 single-event requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import func, select

from inburgering.api.sources import add_source
from inburgering.engine import service
from inburgering.store.db import CaseFile
from inburgering.store.models import ReceivedEvent
from tests.api_server import ApiProcess

PEOPLE = 1000
LIST_SIZE = 100
TARGETS = {"lists": 1000.0, "singles": 300.0}  # events/s in lists, requests/s one by one (api.md)


@dataclass
class Phase:
    database: str
    phase: str
    requests: int
    events: int
    seconds: float
    requests_per_s: float | None
    events_per_s: float | None
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]


def _bsns(count: int) -> list[str]:
    """`count` numbers that pass the eleven-test (synthetic people)."""
    found: list[str] = []
    first8 = 10_000_000
    while len(found) < count:
        check = sum(int(d) * w for d, w in zip(f"{first8:08d}", range(9, 1, -1))) % 11
        if check <= 9:
            found.append(f"{first8:08d}{check}")
        first8 += 1
    return found


def prepare(database_url: str) -> str:
    """People p0.. and a brp source; returns its token."""
    case_file = CaseFile(database_url)
    with case_file.transaction() as session:
        service.register_people(session, [{"ref": f"p{i}", "bsn": bsn, "name": f"Person {i}"}
                                          for i, bsn in enumerate(_bsns(PEOPLE))])
        token = add_source(session, "bench-brp", "brp", now=dt.datetime.now(dt.timezone.utc))
    case_file.dispose()
    return token


def event(n: int, prefix: str) -> dict:
    """Event n: a municipality registration of its own content (person, day and town vary)."""
    day = dt.date(2024, 1, 1) + dt.timedelta(days=n % 365)
    return {"id": f"{prefix}-{n}", "date": day.isoformat(), "type": "municipality_registered",
            "person": f"p{n % PEOPLE}", "municipality": f"Gemeente {n}"}


async def _drive(url: str, token: str, bodies: list[bytes], connections: int) -> tuple[list[float], list[int], list, float]:
    """POST every body over `connections` keep-alive connections at once; (latencies, statuses,
    answers, wall). A plain HTTP/1.1 client on asyncio streams: httpx's async client costs so much
    CPU per request that on 2 cores it, not the server, set the pace (~450 requests/s of
    /v1/health, where this client reaches ~3,900)."""
    address = urlparse(url)
    latencies: list[float] = []
    statuses: list[int] = []
    answers: list = []
    queue = iter(range(len(bodies)))
    head = (f"POST /v1/events HTTP/1.1\r\nHost: {address.netloc}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: ").encode()

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i in queue:
            started = time.perf_counter()
            writer.write(head + str(len(bodies[i])).encode() + b"\r\n\r\n" + bodies[i])
            status, body = await _response(reader)
            latencies.append(time.perf_counter() - started)
            statuses.append(status)
            answers.append(json.loads(body))

    streams = [await asyncio.open_connection(address.hostname, address.port) for _ in range(connections)]
    started = time.perf_counter()
    await asyncio.gather(*(worker(reader, writer) for reader, writer in streams))
    wall = time.perf_counter() - started
    for _, writer in streams:
        writer.close()
    return latencies, statuses, answers, wall


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length:"))
    return int(lines[0].split(b" ", 2)[1]), await reader.readexactly(length)


def _phase(database: str, name: str, events: int, latencies: list[float], statuses: list[int], wall: float) -> Phase:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))] if ordered else 0.0
    counts: dict[str, int] = {}
    for status in statuses:
        counts[str(status)] = counts.get(str(status), 0) + 1
    return Phase(database, name, len(statuses), events, round(wall, 3),
                 round(len(statuses) / wall, 1) if wall > 0 else None,
                 round(events / wall, 1) if wall > 0 else None,
                 round(statistics.median(ordered) * 1000, 2) if ordered else 0.0, round(p99 * 1000, 2), counts)


def _accepted_ids(answers: list) -> list[str]:
    flat = [a for answer in answers for a in (answer if isinstance(answer, list) else [answer])]
    return [a["id"] for a in flat if a.get("status") in ("accepted", "duplicate")]


def run(database_url: str, label: str, *, list_events: int, singles: int, connections: int, workers: int = 1,
        log_dir: Path | None = None) -> dict:
    token = prepare(database_url)
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="bench-api-"))
    with ApiProcess(database_url, log_dir / f"api-{label}.log", workers=workers) as server:
        warm = [json.dumps(event(n, "warm")).encode() for n in range(min(50, max(connections, 1)))]
        asyncio.run(_drive(server.url, token, warm, connections))
        lists = [json.dumps([event(n, "list") for n in range(start, min(start + LIST_SIZE, list_events))]).encode()
                 for start in range(0, list_events, LIST_SIZE)]
        l_lat, l_status, l_answers, l_wall = asyncio.run(_drive(server.url, token, lists, connections))
        ones = [json.dumps(event(n, "one")).encode() for n in range(singles)]
        s_lat, s_status, s_answers, s_wall = asyncio.run(_drive(server.url, token, ones, connections))
    phases = [_phase(label, "lists of 100", list_events, l_lat, l_status, l_wall),
              _phase(label, "single events", singles, s_lat, s_status, s_wall)]
    accepted = set(_accepted_ids(l_answers) + _accepted_ids(s_answers))
    case_file = CaseFile(database_url, create=False)
    with case_file.transaction() as session:
        stored = session.scalars(select(ReceivedEvent.sender_event_id)
                                 .where(ReceivedEvent.sender_event_id.like("list-%")
                                        | ReceivedEvent.sender_event_id.like("one-%"))).all()
        rows = session.scalar(select(func.count()).select_from(ReceivedEvent))
    case_file.dispose()
    return {"database": label, "workers": workers, "connections": connections,
            "phases": [asdict(p) for p in phases], "accepted": len(accepted), "inbox_rows": rows,
            "missing": len(accepted - set(stored)), "extra": len(stored) - len(set(stored))
            + len(set(stored) - accepted)}


def _print(result: dict) -> None:
    print(f"\n{result['database']}: {result['connections']} connections, {result['workers']} worker process(es)")
    print(f"  {'phase':<15}{'requests':>9}{'events':>8}{'wall s':>9}{'req/s':>9}{'events/s':>10}"
          f"{'p50 ms':>9}{'p99 ms':>9}  statuses")
    for p in result["phases"]:
        print(f"  {p['phase']:<15}{p['requests']:>9}{p['events']:>8}{p['seconds']:>9.2f}{p['requests_per_s'] or 0:>9.1f}"
              f"{p['events_per_s'] or 0:>10.1f}{p['p50_ms']:>9.2f}{p['p99_ms']:>9.2f}  {p['statuses']}")
    print(f"  accepted ids {result['accepted']}, inbox rows {result['inbox_rows']}, "
          f"missing {result['missing']}, extra {result['extra']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--list-events", type=int, default=20000, help="events sent in lists of 100")
    parser.add_argument("--singles", type=int, default=5000, help="single-event requests")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="server processes (inburgering api --workers)")
    parser.add_argument("--database", action="append", help="sqlite, postgresql or a URL (repeatable)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = []
    postgres = None
    for database in args.database or ["sqlite", "postgresql"]:
        if database == "sqlite":
            url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-api-')) / 'case.db'}"
        elif database == "postgresql":
            if postgres is None:
                from tests.postgres_server import PostgresServer

                postgres = PostgresServer()
                postgres.start()
            url = postgres.new_database()
        else:
            url = database
        label = database if database in ("sqlite", "postgresql") else url.split("://")[0]
        result = run(url, label, list_events=args.list_events, singles=args.singles, connections=args.connections,
                     workers=args.workers)
        results.append(result)
        if not args.json:
            _print(result)
    if postgres is not None:
        postgres.stop()
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    if any(r["missing"] or r["extra"] for r in results):
        raise SystemExit("accepted events are missing from the inbox (or stored twice)")


if __name__ == "__main__":
    main()
