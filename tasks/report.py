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


@task(name="publish-monitor-report")
def publish_monitor_report(as_of: dt.date, ingest: dict, monitor: dict, board: dict) -> None:
    alerts = monitor["alerts"]
    markdown = (
        f"# Deadline monitor, {as_of.isoformat()}\n\n"
        f"## Events applied\n\napplied {ingest['applied']}, rejected {ingest['rejected']}, "
        f"errors {ingest['errors']}\n\n"
        f"## Deadlines fired\n\n{_table(monitor['fired'])}\n"
        f"## Sent today (letters, e-mails, notices, payments)\n\n"
        f"{_table({**ingest['sent'], **{k: ingest['sent'].get(k, 0) + v for k, v in monitor['sent'].items()}})}\n"
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
