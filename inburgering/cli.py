"""The `inburgering` command."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from inburgering.domain.bsn import conceal_bsns

app = typer.Typer(help="Orchestration of Dutch civic-integration journeys (inburgering) for DUO.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
scenario_app = typer.Typer(help="Replay scenario files through the engine.", no_args_is_help=True)
letters_app = typer.Typer(help="Hold and release letters.", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")
app.add_typer(letters_app, name="letters")


def _console(stderr: bool = False) -> Console:
    """Input (names, municipalities, reasons) is printed as text: never read as rich markup,
    emoji codes or highlighting, so `[/x]` cannot crash a table and `[link=...]` is not a link."""
    return Console(stderr=stderr, soft_wrap=stderr, markup=False, emoji=False, highlight=False)


err = _console(stderr=True)


def _refuse(message: str) -> typer.Exit:
    """Print why the input is refused (any BSN in it masked); exit status 2."""
    err.print(conceal_bsns(message))
    return typer.Exit(2)


@scenario_app.command("run")
def scenario_run(
    file: Path = typer.Argument(..., help="The scenario YAML file."),
    as_json: bool = typer.Option(False, "--json", help="Print the timeline as JSON."),
    engine: str = typer.Option("embedded", "--engine", help="embedded (fast) or prefect (real flow runs)."),
    database: Optional[str] = typer.Option(None, "--database", help="Database URL (default: a fresh SQLite file)."),
) -> None:
    """Replay FILE day by day and print the timeline. Exit 2 when the file is malformed."""
    from inburgering.scenario.loader import ScenarioError, load_scenario
    from inburgering.scenario.runner import run_scenario

    if engine not in ("embedded", "prefect"):
        raise _refuse(f"--engine: {engine!r} is not an engine; use embedded or prefect")
    try:
        scenario = load_scenario(file)
    except ScenarioError as exc:
        raise _refuse(f"{file}: {exc}") from None
    started = time.perf_counter()
    if engine == "prefect":
        from flows.replay.flow import prefect_driver

        result = run_scenario(scenario, driver=prefect_driver, database_url=database)
    else:
        result = run_scenario(scenario, database_url=database)
    seconds = time.perf_counter() - started
    if as_json:
        json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    _print_timeline(result, seconds, engine)


def _print_timeline(result: dict, seconds: float, engine: str) -> None:
    console = _console()
    table = Table(title=result["scenario"], show_lines=False)
    for column in ("date", "person", "kind", "type", "data"):
        table.add_column(column)
    for entry in result["timeline"]:
        data = ", ".join(f"{k}={v}" for k, v in entry["data"].items())
        table.add_row(entry["date"], entry["person"], entry["kind"], entry["type"], data)
    console.print(table)
    if result["rejected"]:
        rejected = Table(title="rejected events")
        for column in ("date", "person", "event", "reason"):
            rejected.add_column(column)
        for r in result["rejected"]:
            rejected.add_row(r["date"], r["person"], str(r["event"]), r["reason"])
        console.print(rejected)
    console.print(f"{len(result['timeline'])} entries, {len(result['rejected'])} rejected, "
                  f"{seconds:.2f} s ({engine})")


@app.command()
def up(demo: bool = typer.Option(True, help="Load and feed the example journeys.")) -> None:
    """Run the embedded default: Prefect server, local gateway, every deployment served."""
    from deployments.embedded import run

    run(demo=demo)


@app.command()
def migrate(down_to: Optional[str] = typer.Option(
        None, "--down-to", help="Take the schema back to this revision instead; refused when that would drop "
                                "data the older schema cannot hold.")) -> None:
    """Bring the case file's schema up to date (INBURGERING_DATABASE_URL or the SQLite default)."""
    from alembic.util import CommandError

    from inburgering import config
    from inburgering.store.db import CaseFile, DowngradeRefused, downgrade, make_engine

    if down_to is None:
        CaseFile().dispose()
        _console().print(f"case file up to date: {config.database_url()}")
        return
    engine = make_engine()
    try:
        downgrade(engine, down_to)
    except (DowngradeRefused, CommandError) as exc:
        raise _refuse(f"--down-to: {exc}") from None
    finally:
        engine.dispose()
    _console().print(f"case file taken back to revision {down_to}")


@app.command()
def cases(
    process: Optional[str] = typer.Option(None, help="Only this process."),
    late: bool = typer.Option(False, help="Only late cases."),
) -> None:
    """What cases wait for, since when, and what is late."""
    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.engine import board
    from inburgering.store.db import CaseFile

    with CaseFile().transaction() as session:
        rows = board.late_cases(session, today_in_amsterdam())[1] if late else board.waiting_cases(session, process)
    table = Table(title="late cases" if late else "waiting cases")
    if rows:
        for column in rows[0]:
            table.add_column(column)
        for row in rows:
            table.add_row(*(str(v) for v in row.values()))
    _console().print(table if rows else "no cases")


@app.command()
def loan(person: str = typer.Argument(..., help="The person's reference in the case file (not the BSN).")) -> None:
    """A person's loan: borrowed, paid out, promised to a later quarter, left; and the invoices."""
    from inburgering.engine.board import loan_overview
    from inburgering.store.db import CaseFile

    with CaseFile().transaction() as session:
        overview = loan_overview(session, person)
    if overview is None:
        raise _refuse(f"person: no person {person!r} in the case file")
    console = _console()
    summary = Table(title=f"Lening / loan — {person}")
    for column in ("geleend / borrowed", "uitbetaald / paid out", "later te betalen / promised later",
                   "over / left"):
        summary.add_column(column, justify="right")
    summary.add_row(*overview["loan"].values())
    console.print(summary)
    invoices = Table(title="Facturen / invoices")
    for column in ("case", "school", "invoice_number", "invoice_date", "total", "status", "paid"):
        invoices.add_column(column, justify="right" if column in ("total", "paid") else "left")
    for row in overview["invoices"]:
        invoices.add_row(*row.values())
    console.print(invoices if overview["invoices"] else "no invoices")


@letters_app.command("hold")
def letters_hold(letter_type: str = typer.Argument("*", help="Letter type, or * for all."),
                 reason: str = typer.Option(..., help="Why, for the record.")) -> None:
    """Hold letters from today (deadlines keep running and alert when passed)."""
    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.engine.service import hold_letters
    from inburgering.store.db import CaseFile

    with CaseFile().transaction() as session:
        hold_letters(session, letter_type, from_day=today_in_amsterdam(), reason=reason)
    _console().print(f"letters {letter_type} held from today")


@letters_app.command("release")
def letters_release(letter_type: str = typer.Argument("*", help="Letter type, or * for all.")) -> None:
    """Let held letters go out again from today."""
    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.engine.service import release_letters
    from inburgering.store.db import CaseFile

    with CaseFile().transaction() as session:
        n = release_letters(session, letter_type, on_day=today_in_amsterdam())
    _console().print(f"{n} hold(s) on {letter_type} released")


@app.command()
def bench(
    journeys: int = typer.Option(1000, "--journeys", help="How many synthetic journeys."),
    years: int = typer.Option(3, "--years", help="Simulated years."),
    seed: int = typer.Option(1, "--seed", help="The same seed gives the same journeys."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON (no progress bar)."),
    compare: bool = typer.Option(False, "--compare", help="Also measure the peers (see bench/README.md)."),
) -> None:
    """Replay N synthetic journeys through the embedded engine and print throughput figures."""
    from bench.cli import main

    main(journeys=journeys, years=years, seed=seed, as_json=as_json, compare=compare)


if __name__ == "__main__":
    app()
