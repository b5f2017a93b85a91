"""The `inburgering` command."""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import click
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from inburgering import config
from inburgering.domain.bsn import redact_bsn

app = typer.Typer(help="Orchestration of Dutch civic-integration journeys (inburgering) for DUO.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
scenario_app = typer.Typer(help="Replay scenario files through the engine.", no_args_is_help=True)
letters_app = typer.Typer(help="Hold and release letters.", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")
app.add_typer(letters_app, name="letters")
incidents_app = typer.Typer(help="Incidents: steps that failed and wait for people (a message not delivered, "
                                 "a timer or event that raised). Without a command: list the open ones.")
app.add_typer(incidents_app, name="incidents")


def _console(stderr: bool = False) -> Console:
    """Input (names, municipalities, reasons) is printed as text: never read as rich markup,
    emoji codes or highlighting, so `[/x]` cannot crash a table and `[link=...]` is not a link."""
    return Console(stderr=stderr, soft_wrap=stderr, markup=False, emoji=False, highlight=False)


err = _console(stderr=True)


def _refuse(message: str) -> typer.Exit:
    """Print why the input is refused (any BSN in it masked); exit status 2."""
    err.print(redact_bsn(message))
    return typer.Exit(2)


@app.callback()
def _private_files() -> None:
    """Every file a command creates (the case file, its -wal and -shm, logs, spools) is readable
    by its owner only: they hold BSNs, names and letters."""
    os.umask(0o077)


# A run that finds the SQLite case file locked waits db.BUSY_TIMEOUT seconds, then tries again
# (the commands are safe to run again: what was done is not done twice), this many times in all.
LOCK_ATTEMPTS = 3
LOCKED = ("the case file is locked by another process (an ingest, a monitor, a migration or a backup?) and stayed "
          "locked for {seconds:.0f} s; what was done before is kept: run the command again when that process is done")
DISK_FULL = ("the disk of the case file is full: nothing more could be written (what was committed before is kept); "
             "free space and run the command again")


def _database_fault(exc: BaseException) -> tuple[str, bool] | None:
    """A fault of the case file's database as (a sentence for the operator, whether waiting and
    trying again may help), or None when `exc` is something else."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return DISK_FULL, False
    if not isinstance(exc, DBAPIError):
        return None
    text = str(exc.orig).lower()
    code = getattr(exc.orig, "sqlstate", None)
    if "database is locked" in text or "database table is locked" in text or code in ("55P03", "40P01"):
        from inburgering.store import db

        return LOCKED.format(seconds=db.BUSY_TIMEOUT * LOCK_ATTEMPTS), True
    if "disk is full" in text or "no space left" in text or code == "53100":
        return DISK_FULL, False
    first_line = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0][:200]
    return f"the case file could not be used: {first_line}", False


def _locked_notice(attempt: int) -> None:
    from inburgering.store import db

    err.print(f"the case file is locked by another process; waited {db.BUSY_TIMEOUT:.0f} s, trying again "
              f"(attempt {attempt + 1} of {LOCK_ATTEMPTS})")


def _guarded(command):  # noqa: ANN001, ANN202
    """A command on the case file: a locked database is waited for and tried again; a locked,
    full or unreachable one ends in a sentence and exit status 1, never a traceback."""

    @functools.wraps(command)
    def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        for attempt in range(1, LOCK_ATTEMPTS + 1):
            try:
                return command(*args, **kwargs)
            except (typer.Exit, typer.Abort, click.exceptions.ClickException):
                raise
            except Exception as exc:  # noqa: BLE001 - only database faults are answered here
                fault = _database_fault(exc)
                if fault is None:
                    raise
                sentence, may_help = fault
                if not (may_help and attempt < LOCK_ATTEMPTS):
                    err.print(redact_bsn(sentence))
                    raise typer.Exit(1) from None
                _locked_notice(attempt)
        raise AssertionError("unreachable")

    return run


@scenario_app.command("run")
@_guarded
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


REVISION = re.compile(r"[0-9A-Za-z_]{1,32}")  # alembic's revision ids here: 0001 .. , or base


@app.command()
@_guarded
def migrate(down_to: Optional[str] = typer.Option(
        None, "--down-to", help="Take the schema back to this revision instead; refused when that would drop "
                                "data the older schema cannot hold.")) -> None:
    """Bring the case file's schema up to date (INBURGERING_DATABASE_URL or the SQLite default)."""
    from alembic.util import CommandError

    from inburgering.store.db import CaseFile, DowngradeRefused, downgrade, make_engine

    if down_to is None:
        CaseFile().dispose()
        _console().print(f"case file up to date: {config.shown_url(config.database_url())}")
        return
    if not REVISION.fullmatch(down_to):
        raise _refuse(f"--down-to: {down_to!r} is not a revision; give one such as 0009 (the files in "
                      "inburgering/store/migrations/versions/), or base")
    engine = make_engine()
    try:
        downgrade(engine, down_to)
    except (DowngradeRefused, CommandError) as exc:
        raise _refuse(f"--down-to: {exc}") from None
    finally:
        engine.dispose()
    _console().print(f"case file taken back to revision {down_to}")


@app.command()
@_guarded
def cases(
    process: Optional[str] = typer.Option(None, help="Only this process."),
    late: bool = typer.Option(False, help="Only late cases."),
    categories: bool = typer.Option(False, help="Who the people are: asylum, family, other, and no category known."),
) -> None:
    """What cases wait for, since when, and what is late; with --process, every open case of it."""
    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.engine import board
    from inburgering.store.db import CaseFile

    if categories:
        with CaseFile().transaction() as session:
            counts = board.people_by_category(session)
        _console().print(_text_table(f"people by category: {counts['unknown']} with no category known",
                                     [{"category": k, "people": v} for k, v in counts.items()]))
        return
    with CaseFile().transaction() as session:
        rows = board.late_cases(session, today_in_amsterdam())[1] if late else board.waiting_cases(session, process)
    title = "late cases" if late else f"open {process} cases" if process else "waiting cases"
    _console().print(_text_table(title, rows) if rows else "no cases")


@app.command("case")
def case_command(lookup: str = typer.Argument(..., help="case-12, 12, or the sending system's reference for the "
                                                       "person (e.g. p-4711); never a BSN.")) -> None:
    """One case as its page shows it: status, what it waits for and since when, late or not,
    decisions, letters, payments, status history, events; for a person's reference, each case."""
    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.engine.casepage import case_page, find_cases, page_markdown

    with _staff_action() as session:
        pages = [page_markdown(case_page(session, case_id, today_in_amsterdam()))
                 for case_id in find_cases(session, lookup)]
    print("\n\n".join(pages))


@app.command()
def numbers(month: Optional[str] = typer.Option(None, help="YYYY-MM (default: this month so far).")) -> None:
    """The numbers of a month: per process and week, the work done against its service level,
    lead times, and what waits now."""
    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.engine import numbers as month_numbers
    from inburgering.store.db import load_policy

    with _staff_action() as session:
        result = month_numbers.month_numbers(session, load_policy(session), month, today_in_amsterdam())
    print(month_numbers.numbers_markdown(result))


@app.command("export-waiting")
def export_waiting(late: bool = typer.Option(False, "--late", help="Only the late cases."),
                   out: Optional[Path] = typer.Option(None, help="Write to this file (default: print).")) -> None:
    """The open cases that wait (or only the late ones) as CSV: case ids only, never personal data."""
    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.engine.numbers import waiting_csv

    with _staff_action() as session:
        text = waiting_csv(session, today_in_amsterdam(), late_only=late)
    if out is None:
        print(text, end="")
    else:
        out.write_text(text)
        _console().print(f"{text.count(chr(10)) - 1} cases written to {out}")


@app.command()
@_guarded
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
    for column in ("case", "school", "invoice_number", "invoice_date", "total", "status", "paid", "not paid"):
        invoices.add_column(column, justify="right" if column in ("total", "paid", "not paid") else "left")
    for row in overview["invoices"]:
        invoices.add_row(*row.values())
    console.print(invoices if overview["invoices"] else "no invoices")


@letters_app.command("hold")
@_guarded
def letters_hold(letter_type: str = typer.Argument("*", help="Letter type, or * for all."),
                 reason: str = typer.Option(..., help="Why, for the record.")) -> None:
    """Hold letters from today (deadlines keep running and alert when passed)."""
    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.engine.service import hold_letters

    with _staff_action() as session:
        hold_letters(session, letter_type, from_day=today_in_amsterdam(), reason=reason)
    _console().print(f"letters {letter_type} held from today")


@letters_app.command("release")
@_guarded
def letters_release(letter_type: str = typer.Argument("*", help="Letter type, or * for all.")) -> None:
    """Let held letters go out again from today (with the next ingest or monitor run)."""
    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.engine.service import release_letters

    with _staff_action() as session:
        n = len(release_letters(session, letter_type, on_day=today_in_amsterdam()))
    _console().print(f"{n} hold(s) on {letter_type} released")


@letters_app.command("holds")
@_guarded
def letters_holds() -> None:
    """The holds in force today, with the letters waiting in them."""
    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.engine.service import active_holds

    with _staff_action() as session:
        rows = active_holds(session, today_in_amsterdam())
    _console().print(_text_table("letters on hold", rows) if rows else "no letters on hold")


MAX_ID = 2**63 - 1  # a database id is a 64-bit integer


@incidents_app.callback(invoke_without_command=True)
@_guarded
def incidents_list(ctx: typer.Context,
                   kind: Optional[str] = typer.Option(None, help="Only this kind: delivery, timer or event.")) -> None:
    """The incidents not closed, oldest first, and how many per kind."""
    if ctx.invoked_subcommand is not None:
        return
    from inburgering.engine import board

    with _staff_action() as session:
        counts, rows = board.incident_board(session), board.open_incidents(session, kind)
    console = _console()
    if not rows:
        console.print("no open incidents")
        return
    console.print(_text_table("incidents not closed, per kind", counts))
    for row in rows:
        console.print(f"incident {row['incident']} · {row['case'] or 'no case'} · {row['kind']} · {row['state']} · "
                      f"{row['attempts']} attempt(s) · since {row['opened_on']}", markup=False, highlight=False)
        console.print(f"    {row['summary']}", markup=False, highlight=False)


@incidents_app.command("retry")
@_guarded
def incidents_retry(
    incident: Optional[int] = typer.Argument(None, min=1, max=MAX_ID, help="The incident's id (see `inburgering "
                                                                            "incidents`)."),
    retry_all: bool = typer.Option(False, "--all", help="Every open incident (of --kind, if given)."),
    kind: Optional[str] = typer.Option(None, help="With --all: only this kind (delivery, timer, event)."),
) -> None:
    """Queue an incident's step again (a message goes with the next dispatch-letters run)."""
    import datetime as dt

    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.engine import incidents

    if (incident is None) == (not retry_all):
        err.print("give an incident id, or --all for every open incident")
        raise typer.Exit(2)
    with _staff_action() as session:
        retried = incidents.retry(session, now=dt.datetime.now(dt.timezone.utc), on=today_in_amsterdam(),
                                  incident_id=incident, kind=kind)
        states = [(i.id, i.state) for i in retried]
    for incident_id, state in states:
        _console().print(f"incident {incident_id}: " + ("retried: its step is queued again" if state == "retried"
                                                        else "closed: its step was already done"), markup=False)
    if not states:
        _console().print("no open incidents to retry")


@incidents_app.command("close")
@_guarded
def incidents_close(
    incident: int = typer.Argument(..., min=1, max=MAX_ID, help="The incident's id."),
    resolution: str = typer.Option(..., help="How it was resolved; kept with the incident."),
) -> None:
    """Close an incident with a resolution: its step is given up (a message is not sent)."""
    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.engine import incidents

    with _staff_action() as session:
        incidents.close(session, incident, resolution, today_in_amsterdam())
    _console().print(f"incident {incident} closed")


@contextmanager
def _staff_action():
    """A transaction on the case file; bad input (InputError) is exit 2 with its sentence."""
    from inburgering.engine.errors import InputError
    from inburgering.store.db import CaseFile

    case_file = CaseFile()
    try:
        with case_file.transaction() as session:
            yield session
    except InputError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    finally:
        case_file.dispose()


def _text_table(title: str, rows: list[dict]) -> Table:
    """A table whose cells are printed as text, never as markup."""
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(Text("" if v is None else str(v)) for v in row.values()))
    return table


@app.command()
@_guarded
def api(
    host: str = typer.Option("127.0.0.1", help="Address to bind; keep 127.0.0.1 behind a TLS proxy."),
    port: int = typer.Option(8030, min=1, max=65535, help="Port (1-65535)."),
    workers: int = typer.Option(1, min=1, max=64, help="Processes serving the port (PostgreSQL; SQLite has one "
                                                         "writer)."),
) -> None:
    """Serve the inbound API (shared/api.md); OpenAPI at /docs and /openapi.json."""
    from inburgering.api.server import serve

    try:
        serve(host, port, workers=workers)
    except OSError as exc:  # the address is taken, or not one of this machine's
        err.print(f"cannot serve on {host}:{port}: {exc.strerror or exc}")
        raise typer.Exit(1) from None


# ⚠ An operator's date more than this many days before the case file's last run is refused
# unless forced: it is almost always a typo (2016 for 2026), and would date letters in the past.
FAR_BEFORE_LAST_RUN_DAYS = 31
FORCE_DATE = typer.Option(False, "--force-date", help="Run for an --as-of after today (Europe/Amsterdam) or far "
                                                     "before the last run anyway; what it will fire is printed "
                                                     "first.")


def _as_of(value: Optional[str]) -> "dt.date":
    """The day of a run: today in Amsterdam, or --as-of as a real date the system takes."""
    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.domain.events import calendar_day

    if value is None:
        return today_in_amsterdam()
    try:
        return calendar_day(value.strip())
    except ValueError as exc:
        raise _refuse(f"--as-of: {exc}") from None


def _checked_day(case_file, day: "dt.date", *, forced: bool, command: str) -> None:  # noqa: ANN001
    """Refuse (exit 2) a day after today or far before the last run, saying what a run for it
    would fire; with --force-date print that and go on."""
    import datetime as dt

    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.engine import board

    today = today_in_amsterdam()
    with case_file.reading() as session:
        last = board.last_run_day(session)
        why = None
        if day > today:
            why = f"{day} is after today ({today}, Europe/Amsterdam)"
        elif last is not None and day < last - dt.timedelta(days=FAR_BEFORE_LAST_RUN_DAYS):
            why = (f"{day} is {(last - day).days} days before the case file's last run ({last}); letters would be "
                   "dated in the past")
        if why is None:
            return
        due = board.due_by(session, day)
    fired = ", ".join(f"{kind} {n}" for kind, n in sorted(due["deadlines"].items())) or "none"
    what = (f"as of {day} it would fire {sum(due['deadlines'].values())} deadlines ({fired}) and apply "
            f"{due['events']} pending events, with the letters, messages and payments they make")
    if not forced:
        raise _refuse(f"--as-of: {why}: refused. {what[0].upper() + what[1:]}. If that is meant, run "
                      f"`inburgering {command} --as-of {day} --force-date`.")
    err.print(f"--as-of: {why}; --force-date: {what}.")


def _engine_step(as_of: Optional[str], step, *, forced: bool, command: str):  # noqa: ANN001, ANN202
    """Run service.ingest or service.run_monitor on the case file for the day: (day, report)."""
    from inburgering.store.db import CaseFile

    day = _as_of(as_of)
    case_file = CaseFile()
    try:
        _checked_day(case_file, day, forced=forced, command=command)
        return day, step(case_file, day)
    finally:
        case_file.dispose()


@app.command()
@_guarded
def ingest(as_of: Optional[str] = typer.Option(None, "--as-of", help="The day to process (default: today)."),
           force_date: bool = FORCE_DATE) -> None:
    """Apply the inbox's pending events dated up to the day, without Prefect."""
    from inburgering.engine import service

    day, report = _engine_step(as_of, service.ingest, forced=force_date, command="ingest")
    _console().print(f"{day}: {report.applied} applied, {report.rejected} rejected, {report.errors} errors, "
                    f"{sum(report.journal.values())} letters/messages/payments")
    if report.errors:
        raise typer.Exit(1)


@app.command()
@_guarded
def monitor(as_of: Optional[str] = typer.Option(None, "--as-of", help="The day to process (default: today)."),
            force_date: bool = FORCE_DATE) -> None:
    """Fire the deadlines due up to the day (the daily monitor), without Prefect."""
    from inburgering.engine import service

    day, report = _engine_step(as_of, service.run_monitor, forced=force_date, command="monitor")
    _console().print(f"{day}: {sum(report.fired.values())} deadlines fired, {sum(report.journal.values())} "
                    f"letters/messages/payments, {len(report.alerts)} alerts")


sources_app = typer.Typer(help="The systems that send events through the inbound API.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")


@sources_app.command("add")
@_guarded
def sources_add(
    name: str = typer.Argument(..., help="A name for the sending system, e.g. ind-production."),
    kind: str = typer.Option(..., "--kind", help="ind, brp, municipality, school, portal, exams, payments or medical."),
    school: Optional[str] = typer.Option(None, "--school", help="For a school: the school name it sends for."),
) -> None:
    """Register a sending system and print its token (once: only a hash is kept)."""
    import datetime as dt

    from inburgering.api.sources import add_source
    from inburgering.engine.errors import InputError
    from inburgering.store.db import CaseFile

    try:
        with CaseFile().transaction() as session:
            token = add_source(session, name, kind, school=school, now=dt.datetime.now(dt.timezone.utc))
    except InputError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    err.print(f"source {name} ({kind}) registered; its token (shown only now):", markup=False, highlight=False)
    print(token)


@sources_app.command("list")
@_guarded
def sources_list() -> None:
    """The sending systems: name, kind, school, when each last sent, revoked."""
    from inburgering.api.sources import list_sources
    from inburgering.store.db import CaseFile

    with CaseFile().transaction() as session:
        rows = list_sources(session)
    table = Table(title="sources")
    for column in ("name", "kind", "school", "last sent (UTC)", "revoked (UTC)"):
        table.add_column(column)
    for s in rows:
        table.add_row(s.name, s.kind, s.school or "", _minute(s.last_sent_at) or "never", _minute(s.revoked_at))
    _console().print(table if rows else "no sources")


def _minute(moment) -> str:  # noqa: ANN001
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


@sources_app.command("revoke")
@_guarded
def sources_revoke(name: str = typer.Argument(..., help="The source's name.")) -> None:
    """End a source's token at once (what it sent stays)."""
    import datetime as dt

    from inburgering.api.sources import revoke_source
    from inburgering.engine.errors import InputError
    from inburgering.store.db import CaseFile

    try:
        with CaseFile().transaction() as session:
            revoke_source(session, name, now=dt.datetime.now(dt.timezone.utc))
    except InputError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    _console().print(f"source {name} revoked: its token is refused from now on")


@app.command()
def bench(
    journeys: int = typer.Option(1000, "--journeys", min=1, max=10_000_000, help="How many synthetic journeys."),
    years: int = typer.Option(3, "--years", min=1, max=40, help="Simulated years."),
    seed: int = typer.Option(1, "--seed", min=0, max=2**63 - 1, help="The same seed gives the same journeys."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON (no progress bar)."),
    compare: bool = typer.Option(False, "--compare", help="Also measure the peers (see bench/README.md)."),
) -> None:
    """Replay N synthetic journeys through the embedded engine and print throughput figures."""
    from bench.cli import main

    main(journeys=journeys, years=years, seed=seed, as_json=as_json, compare=compare)


@app.command()
def whatif(
    policy: Path = typer.Option(..., "--policy", help="The proposed policy: overrides in the policy file's format "
                                "(inburgering/policy/defaults.yaml), dated entries allowed."),
    start: Optional[str] = typer.Option(None, "--from", help="First day of the report window (default: every "
                                        "day from each journey's first event)."),
    until: Optional[str] = typer.Option(None, "--until", help="Last day replayed and reported (default: today); "
                                        "may lie in the future: then only timers run."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    csv_file: Optional[Path] = typer.Option(None, "--csv", help="Also write the report as CSV: per process and "
                                            "month to FILE, the cases changed to FILE's name + -cases.csv."),
    workers: int = typer.Option(1, "--workers", help="Processes to split the people over (partitions)."),
) -> None:
    """Replay every journey of the case file under the policy in force and under a proposed one,
    and report the difference: letters, payments and fines, terms, and the cases changed. The
    case file is only read."""
    from inburgering.domain.events import calendar_day
    from inburgering.engine.errors import InputError
    from inburgering import config
    from inburgering.whatif.proposal import load_proposal
    from inburgering.whatif.report import write_csv
    from inburgering.whatif.run import run_whatif

    def day(option: str, value: Optional[str]):  # noqa: ANN202
        try:
            return calendar_day(value)
        except ValueError as exc:
            raise _refuse(f"{option}: {exc}") from None

    first = day("--from", start) if start is not None else None
    last = day("--until", until) if until is not None else _as_of(None)
    try:
        proposal = load_proposal(policy)
    except InputError as exc:
        raise _refuse(f"{policy}: {exc}") from None
    try:
        report = run_whatif(config.database_url(), proposal, first, last, workers=workers)
    except InputError as exc:
        raise _refuse(str(exc)) from None
    written = write_csv(report, csv_file) if csv_file is not None else []
    if as_json:
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    _print_whatif(report, written)


def _print_whatif(report: dict, written: list[Path]) -> None:
    from inburgering.whatif.report import case_rows, month_rows, summary_lines

    console = _console()
    for line in summary_lines(report):
        console.print(line)
    rows = month_rows(report)
    if rows:
        console.print(_text_table("per process and month", [{c: row.get(c, "") for c in (
            "process", "month", "kind", "type", "added", "dropped", "changed", "difference_euros", "terms_moved")}
            for row in rows]))
    changes = case_rows(report)
    if changes:
        console.print(_text_table("cases changed", [{c: row.get(c) for c in (
            "case", "process", "change", "type", "date", "was", "amount", "was_amount")} for row in changes]))
    for path in written:
        console.print(f"written: {path}")


@app.command("prefect-setup")
def prefect_setup(
    pool: str = typer.Option("inburgering", "--pool", help="The process work pool's name."),
    notify_url: Optional[str] = typer.Option(None, "--notify-url", help="The process owners' webhook (a chat channel, "
                                             "an e-mail relay): every alert is posted there as JSON {channel, "
                                             "subject, body}."),
) -> None:
    """Production: create (or bring up to date) the work pool, its queues (staff before scheduled
    work), the automation that marks a run Crashed when its heartbeats stop and, with --notify-url,
    the automation that tells process owners about every alert (Prefect events inburgering.alert.*).
    Run it before `prefect deploy --all`, with PREFECT_API_URL set; safe to run again."""
    import httpx

    from deployments.automations import ensure_alert_automation
    from deployments.setup import set_up

    if notify_url is not None and not notify_url.startswith(("https://", "http://")):
        raise _refuse(f"--notify-url: {notify_url!r} is not an http(s) URL")
    try:
        done = set_up(pool)
        done.append(ensure_alert_automation(notify_url) if notify_url else
                    "no --notify-url: alerts are Prefect events (inburgering.alert.*) only, posted nowhere")
    except httpx.TransportError as exc:
        err.print(f"the Prefect server did not answer ({type(exc).__name__}); is PREFECT_API_URL right?",
                  markup=False, highlight=False)
        raise typer.Exit(1) from None
    for line in done:
        _console().print(line)


if __name__ == "__main__":
    app()
