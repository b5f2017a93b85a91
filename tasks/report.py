"""Artifacts for process owners: the day's work, what waits, what is late. Case ids only.

The boards (`case-board`, `late-cases`, `waiting-cases`, `open-incidents`) are written by every
ingest and monitor run, so they are never older than the last ingest (every 5 minutes); the
`deadline-monitor` report is the monitor's own. The board links each late case to its wait
run and the Runs page filtered to late cases.
"""

from __future__ import annotations

import datetime as dt

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.settings import PREFECT_UI_URL

from inburgering.domain.calendar import TIMEZONE as AMSTERDAM_ZONE_NAME
from inburgering.domain.registry import TITLES
from inburgering.engine.board import LATE_TAG
from tasks.casefile import board_data
from tasks.incidents import incidents_artifact


def _table(counts: dict[str, int]) -> str:
    if not counts:
        return "_nothing_\n"
    lines = ["| what | count |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in counts.items()]
    return "\n".join(lines) + "\n"


def _added(one: dict[str, int], other: dict[str, int]) -> dict[str, int]:
    return {k: one.get(k, 0) + other.get(k, 0) for k in sorted({*one, *other})}


def _rows(rows: list[dict], columns: list[str], empty: str) -> str:
    if not rows:
        return f"_{empty}_\n"
    lines = ["| " + " | ".join(c.replace("_", " ") for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join("" if row.get(c) is None else str(row[c]).replace("|", "/") for c in columns) + " |"
              for row in rows]
    return "\n".join(lines) + "\n"


def ui_url() -> str | None:
    return PREFECT_UI_URL.value()


def run_link(run_id: str | None, text: str = "open") -> str:
    ui = ui_url()
    return f"[{text}]({ui}/runs/flow-run/{run_id})" if run_id and ui else "—"


def late_runs_url() -> str | None:
    """The Runs page filtered to the runs tagged `late`, over the last 366 days (a wait run is as
    old as the wait it shows; the page's default is the last 7 days)."""
    ui = ui_url()
    return f"{ui}/runs?tag={LATE_TAG}&type=span&seconds=-31622400" if ui else None


def late_runs_link() -> str:
    url = late_runs_url()
    return f"[the late cases' runs]({url})" if url else f"the runs tagged `{LATE_TAG}`"


def board_markdown(as_of: dt.date, at: str, board: dict) -> str:
    processes = [{**row, "process": TITLES.get(row["process"], row["process"]), "with_a_wait_run": row["with_a_run"]}
                 for row in board["processes"]]
    late = [{**row, "run": run_link(row["run"])} for row in board["late"][:50]]
    (ending_total, ending), (passed_total, passed) = board["terms_ending"], board["terms_passed"]
    incidents = sum(r["incidents"] for r in board["incident_counts"])
    return (
        f"# Case board, {as_of} {at} ({AMSTERDAM_ZONE_NAME})\n\n"
        "Refreshed by every ingest (every 5 minutes) and monitor run. A case where someone must act "
        f"(late, waiting for a staff decision, or opened by staff) has a wait run: see {late_runs_link()}.\n\n"
        "## Waiting and late, per process\n\n"
        + _rows(processes, ["process", "waiting", "late", "with_a_wait_run", "oldest_since"], "no case waits")
        + f"\n## Late now: {board['late_total']} case(s) (longest late first)\n\n"
        + _rows(late, ["case", "process", "status", "waiting_for", "late_since", "days_late", "run"], "nothing is late")
        + f"\n## Terms ending within 3 months: {ending_total}\n\n"
        + _rows([{**r, "run": run_link(r["run"])} for r in ending], ["case", "waiting_for", "since", "run"], "none")
        + f"\n## Terms passed: {passed_total}\n\n"
        + _rows([{**r, "run": run_link(r["run"])} for r in passed], ["case", "status", "waiting_for", "since", "run"],
                "none")
        + _decisions_markdown(board.get("decisions"))
        + "\n## Letters on hold\n\n"
        + _rows(board["holds"], ["letter_type", "held_from", "reason", "letters_waiting"], "no letters on hold")
        + "\nRelease them with the `release-letters` deployment: they go out at once.\n"
        + f"\n## Sent today (letters, e-mails, notices, payments, alerts)\n\n{_table(board['sent'])}"
        + f"\n## Incidents not closed: {incidents}\n\n"
        + _table({f"{r['kind']} ({r['state']}, oldest {r['oldest_since']})": r["incidents"]
                  for r in board["incident_counts"]})
        + "\nSee the `open-incidents` artifact; staff run `retry-incidents` or `close-incident`.\n"
        + "\n## Open cases per status\n\n" + _rows(board["statuses"], ["process", "status", "cases"], "no open cases")
        + _categories(board.get("categories"))
    )


def _decisions_markdown(decisions: dict | None) -> str:
    """Decisions (Awb): late per process, penalties running, objections waiting for staff."""
    if decisions is None:
        return ""
    late = {TITLES.get(p, p): n for p, n in decisions["late"].items()}
    penalties = [{**r, "run": run_link(r["run"])} for r in decisions["penalties"]]
    return (f"\n## Decisions: late (past their Awb term), per process\n\n{_table(late)}"
            f"\n## Penalties running (Awb 4:17): {len(penalties)}\n\n"
            + _rows(penalties, ["case", "process", "decision", "notice_on", "days", "amount_so_far", "run"], "none")
            + f"\n## Objections waiting for a staff decision: {decisions['objections_waiting']}\n")


def _categories(counts: dict[str, int] | None) -> str:
    """Who the people are (domain.md §1): how many have no category known (treated as other)."""
    if counts is None:
        return ""
    return (f"\n## Who the people are: {counts['unknown']} with no category known\n\n"
            "The IND sends the category with the residence permit; without it a person is treated as *other* "
            "(a DUO loan, the fine by the table).\n\n" + _table(counts))


def write_boards(as_of: dt.date, board: dict) -> None:
    import pendulum

    at = pendulum.now(AMSTERDAM_ZONE_NAME).format("HH:mm")
    create_markdown_artifact(board_markdown(as_of, at, board), key="case-board",
                             description=f"Where the cases stand on {as_of} {at}: waiting, late, terms, holds")
    create_table_artifact(board["late"] or [{"case": "—", "process": "", "status": "nothing is late"}],
                          key="late-cases", description=f"Cases late on {as_of} (longest late first)")
    incidents_artifact(board["incidents"], f"Incidents not closed on {as_of} (oldest first)")
    create_table_artifact(board["waiting"] or [{"process": "—", "status": "no case waits"}],
                          key="waiting-cases", description=f"What cases wait for, per process, on {as_of}")


@task(name="publish-boards")
def publish_boards(as_of: dt.date) -> None:
    write_boards(as_of, board_data(as_of))


@task(name="publish-monitor-report")
def publish_monitor_report(as_of: dt.date, ingest: dict, monitor: dict, board: dict) -> None:
    # the monitor applies what was still pending of the people whose timers came due, and the
    # ingest fires the timers of the people it brings up to date: the report adds both
    alerts = monitor["alerts"]
    events = {kind: ingest[kind] + count for kind, count in monitor["events"].items()}
    markdown = (
        f"# Deadline monitor, {as_of.isoformat()}\n\n"
        f"## Events applied\n\napplied {events['applied']}, rejected {events['rejected']}, "
        f"errors {events['errors']}\n\n"
        f"## Deadlines fired\n\n{_table(_added(ingest['fired'], monitor['fired']))}\n"
        f"## Sent today, by every run of the day (letters, e-mails, notices, payments, alerts)\n\n"
        f"{_table(board['sent'])}\n"
        f"## Alerts raised by this run: {len(alerts)}\n\n"
        + "".join(f"- **{a['type']}** {a['case']} ({a['process']})\n" for a in alerts[:50])
        + f"\n## Late now: {board['late_total']} case(s)\n\n"
        f"See the `case-board` artifact, with links to {late_runs_link()}, and the `late-cases` table.\n"
        f"\n## Incidents not closed: {sum(r['incidents'] for r in board['incident_counts'])}\n\n"
        + _table({f"{r['kind']} ({r['state']}, oldest {r['oldest_since']})": r["incidents"]
                  for r in board["incident_counts"]})
        + "\nSee the `open-incidents` table artifact; staff run `retry-incidents` or `close-incident`.\n"
    )
    create_markdown_artifact(markdown, key="deadline-monitor", description=f"What the monitor did on {as_of}")
    write_boards(as_of, board)
