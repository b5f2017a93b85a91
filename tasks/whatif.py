"""Tasks of the policy what-if: plan it, replay a share of the journeys, publish the report.

The report goes to Prefect as artifacts (case ids only: the report never holds a BSN, a name
or a person's reference) and to files: JSON and CSV under INBURGERING_HOME/whatif/, named
after the what-if's id.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from inburgering import config
from inburgering.domain.calendar import today_in_amsterdam
from inburgering.whatif.correct import corrections_of, enter_corrections
from inburgering.engine.errors import refusals_returned
from inburgering.engine.service import Partition
from inburgering.whatif.proposal import proposal_from_text
from inburgering.whatif.report import changed_money, month_rows, money_chart, summary_lines, write_csv
from inburgering.whatif.run import Plan, compare_share, open_case_file, plan
from tasks.casefile import case_file

ARTIFACT_KEY = "policy-what-if"
CASES_SHOWN = 200  # in the markdown artifact; the table artifact and the files hold every case
EMPTY = {"journeys": 0, "events": 0, "unreadable_events": 0, "journeys_changed": 0, "letters": {}, "money": {},
         "terms_moved": {}, "cases": []}


def reports_dir() -> Path:
    return config.home() / "whatif"


@task(name="plan-what-if")
@refusals_returned
def plan_whatif(proposal: str, start: dt.date | None, until: dt.date, mark: int | None = None,
                whatif: str | None = None) -> Plan:
    """The proposal checked and the inbox's newest event read (a partition is given both)."""
    case_file = open_case_file(config.database_url())
    try:
        if mark is not None and whatif is not None:
            return Plan(whatif, proposal_from_text(proposal), start, until, mark)
        return plan(case_file, proposal_from_text(proposal), start, until)
    finally:
        case_file.dispose()


@task(name="replay-journeys")
@refusals_returned
def replay_share(the_plan: Plan, partition: Partition) -> dict:
    case_file = open_case_file(config.database_url())
    try:
        result = compare_share(case_file, the_plan, partition)
    finally:
        case_file.dispose()
    get_run_logger().info("%s journeys replayed twice, %s changed", result["journeys"], result["journeys_changed"])
    return result


def _table(rows: list[dict], columns: tuple[str, ...]) -> str:
    if not rows:
        return "_none_\n"
    lines = ["| " + " | ".join(c.replace("_", " ") for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join("" if row.get(c) is None else str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def report_markdown(report: dict) -> str:
    totals = report["totals"]
    money = [{"type": t, **cell} for t, cell in totals["money"].items()]
    cases = [{"case": c["case"] or f"(new) of {c['person']}", "process": c["process"],
              "what changed": "; ".join(_said(change) for change in c["changes"])}
             for c in report["cases"][:CASES_SHOWN]]
    more = len(report["cases"]) - len(cases)
    return "\n".join([
        f"# Policy what-if {report['whatif']}",
        "",
        *[f"- {line}" for line in summary_lines(report)],
        "",
        "**Proposed:** " + ("; ".join(report["proposal"]) or "no change") + ". **Baseline:** " + report["baseline"]
        + ".",
        "",
        "## Money, per type (report window)",
        _table(money, ("type", "baseline_count", "proposed_count", "baseline_euros", "proposed_euros",
                       "difference_euros")),
        "## Money per month, baseline against proposed",
        money_chart(report),
        "",
        "## What changed, per process and month",
        _table(month_rows(report), ("process", "month", "kind", "type", "added", "dropped", "changed",
                                    "difference_euros", "terms_moved")),
        f"## Cases changed ({len(report['cases'])})",
        _table(cases, ("case", "process", "what changed")),
        f"_…and {more} more: see the table artifact and the files._" if more > 0 else "",
    ])


def _said(change: dict) -> str:
    text = f"{change['type']} {change['change']} {change['date'] or ''}".strip()
    if change.get("was") and change["was"] != change["date"]:
        text += f" (was {change['was']})"
    if "amount" in change:
        text += f" €{change['amount']}" + (f" (was €{change['was_amount']})" if "was_amount" in change else "")
    return text


@task(name="enter-corrections")
def enter_corrections_now(whatif: str, corrections: list[dict], reason: str) -> dict:
    """Staff approved: enter each correction once and apply it (inburgering/whatif/correct.py)."""
    outcome = enter_corrections(case_file(), whatif, corrections, reason, today_in_amsterdam())
    get_run_logger().info("%s: %s corrections applied, %s skipped, %s entered before", whatif,
                          len(outcome["applied"]), len(outcome["skipped"]), len(outcome["entered_before"]))
    return outcome


@task(name="list-corrections")
def list_corrections(report: dict) -> list[dict]:
    """What the case file must be put right for, up to today (case ids only)."""
    return corrections_of(report, today_in_amsterdam())


@task(name="publish-what-if")
def publish_whatif(report: dict) -> list[str]:
    """The report as artifacts (a markdown report with its chart, the cases as a table) and files."""
    create_markdown_artifact(report_markdown(report), key=ARTIFACT_KEY,
                             description=f"{report['whatif']}: what the proposed policy changes")
    create_table_artifact([{"case": row["case"], "process": row["process"], "changes": len(row["changes"])}
                           for row in report["cases"]] or [{"case": None, "process": None, "changes": 0}],
                          key=f"{ARTIFACT_KEY}-cases", description=f"{report['whatif']}: the cases changed")
    create_table_artifact(changed_money(report) or [{"month": None}], key=f"{ARTIFACT_KEY}-money",
                          description=f"{report['whatif']}: money per process and month where it changes")
    folder = reports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{report['whatif']}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    files = [path, *write_csv(report, folder / f"{report['whatif']}.csv")]
    get_run_logger().info("report written: %s", ", ".join(p.name for p in files))
    return [str(p) for p in files]
