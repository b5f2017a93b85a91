"""The numbers of a month for process owners (engine/numbers.py): an artifact per month with,
per process and week, the work done against its service level and its lead times; and the
waiting and late cases as CSV."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows.refusals import states_refusals, taken
from inburgering import config
from inburgering.domain.calendar import today_in_amsterdam
from inburgering.engine import numbers
from inburgering.engine.errors import refusals_returned
from inburgering.store.db import load_policy
from tasks.casefile import case_file

NUMBERS_KEY = "numbers-of-the-month"
EXPORT_KEY = "waiting-cases-csv"
CSV_IN_ARTIFACT = 100_000  # characters of the CSV the artifact shows; the file has all of it


@task(name="read-the-numbers")
@refusals_returned
def _read(month: str | None) -> dict:
    today = today_in_amsterdam()
    with case_file().reading() as session:
        return numbers.month_numbers(session, load_policy(session), month, today)


@flow(name="numbers-of-the-month", flow_run_name=lambda: "numbers · " + today_in_amsterdam().strftime("%Y-%m-%d"))
@states_refusals
def numbers_of_the_month(month: str | None = None) -> dict:
    """The month's numbers per process and week against the service levels (start letter 8
    weeks, AGI decision by its term, invoice answer within the alert's days), lead times, and
    what waits now: the artifact `numbers-of-the-month`. `month` as YYYY-MM (default: this month
    so far)."""
    result = taken(_read(month))
    create_markdown_artifact(markdown=numbers.numbers_markdown(result), key=NUMBERS_KEY,
                             description=f"The numbers of {result['month']} ({result['from']} to {result['to']})")
    return result


@flow(name="export-waiting-cases", flow_run_name=lambda: "export waiting cases · " + today_in_amsterdam().isoformat())
def export_waiting_cases(late_only: bool = False) -> str:
    """The open cases that wait (or only the late ones) as CSV: a file in var/exports/ (its
    path in the log) and the artifact `waiting-cases-csv`. Case ids only."""
    today = today_in_amsterdam()
    with case_file().reading() as session:
        text = numbers.waiting_csv(session, today, late_only=late_only)
    folder = Path(config.home()) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{'late' if late_only else 'waiting'}-cases-{today}.csv"
    path.write_text(text)
    rows = text.count("\n") - 1
    shown = text if len(text) <= CSV_IN_ARTIFACT else text[:CSV_IN_ARTIFACT].rsplit("\n", 1)[0] + "\n"
    create_markdown_artifact(key=EXPORT_KEY, description=f"{rows} {'late' if late_only else 'waiting'} cases on {today}",
                             markdown=f"# {'Late' if late_only else 'Waiting'} cases on {today}: {rows}\n\n"
                                      f"The file: `{path}`" + ("" if shown == text else " (the artifact shows the "
                                                               "first rows)") + f"\n\n```csv\n{shown}```\n")
    get_run_logger().info("%s cases written to %s", rows, path)
    return str(path)
