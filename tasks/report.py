"""Artifacts for process owners: the day's work and what is late. Case ids only."""

from __future__ import annotations

import datetime as dt

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tasks.incidents import incidents_artifact


def _table(counts: dict[str, int]) -> str:
    if not counts:
        return "_nothing_\n"
    lines = ["| what | count |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in counts.items()]
    return "\n".join(lines) + "\n"


def _added(one: dict[str, int], other: dict[str, int]) -> dict[str, int]:
    return {k: one.get(k, 0) + other.get(k, 0) for k in sorted({*one, *other})}


@task(name="publish-monitor-report")
def publish_monitor_report(as_of: dt.date, ingest: dict, monitor: dict, board: dict) -> None:
    # the monitor applies what was still pending of the people whose timers came due, and the
    # ingest fires the timers of the people it brings up to date: the report adds both
    alerts = monitor["alerts"]
    events = _added({k: ingest[k] for k in ("applied", "rejected", "errors")}, monitor["events"])
    markdown = (
        f"# Deadline monitor, {as_of.isoformat()}\n\n"
        f"## Events applied\n\napplied {events['applied']}, rejected {events['rejected']}, "
        f"errors {events['errors']}\n\n"
        f"## Deadlines fired\n\n{_table(_added(ingest['fired'], monitor['fired']))}\n"
        f"## Sent today (letters, e-mails, notices, payments)\n\n"
        f"{_table(_added(ingest['sent'], monitor['sent']))}\n"
        f"## Alerts raised today: {len(alerts)}\n\n"
        + "".join(f"- **{a['type']}** {a['case']} ({a['process']})\n" for a in alerts[:50])
        + f"\n## Late now: {board['late_total']} case(s)\n\n"
        "See the `late-cases` table artifact for the list.\n"
        f"\n## Incidents not closed: {sum(r['incidents'] for r in board['incident_counts'])}\n\n"
        + _table({f"{r['kind']} ({r['state']}, oldest {r['oldest_since']})": r["incidents"]
                  for r in board["incident_counts"]})
        + "\nSee the `open-incidents` table artifact; staff run `retry-incidents` or `close-incident`.\n"
    )
    create_markdown_artifact(markdown, key="deadline-monitor", description=f"What the monitor did on {as_of}")
    create_table_artifact(board["late"] or [{"case": "—", "process": "", "status": "nothing is late"}],
                          key="late-cases", description=f"Cases late on {as_of} (longest late first)")
    incidents_artifact(board["incidents"], f"Incidents not closed on {as_of} (oldest first)")
    create_table_artifact(board["waiting"] or [{"process": "—", "status": "no case waits"}],
                          key="waiting-cases", description=f"What cases wait for, per process, on {as_of}")
