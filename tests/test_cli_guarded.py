"""The commands as a careless operator meets them (issue 25, items 1, 2 and 8): every date and
number checked with a sentence, a date after today (or far before the last run) refused
unless forced, and then only after saying what it would fire; no password printed; a locked
or full case file a sentence and a non-zero exit, retried where waiting helps."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.pool import Pool
from typer.testing import CliRunner

from inburgering import cli as cli_module
from inburgering.cli import app
from inburgering.domain.calendar import today_in_amsterdam
from inburgering.engine import service
from inburgering.store import db
from inburgering.store.db import CaseFile
from inburgering.store.models import JournalEntry

TRACEBACK = re.compile(r"Traceback|Error\b|Exception\b|File \"")


@pytest.fixture
def cli(database_url, monkeypatch):
    monkeypatch.setenv("INBURGERING_DATABASE_URL", database_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def _invoices(case_file: CaseFile, day: dt.date, people: int = 2) -> None:
    """People whose invoice waits: a reminder due 14 days after `day`."""
    with case_file.transaction() as session:
        for n in range(people):
            service.register_person(session, ref=f"p{n}", bsn=["123456782", "111222333"][n], name=f"P {n}")
            for fields in ({"type": "loan_granted", "amount": "5000.00"},
                           {"type": "invoice_submitted", "school": "Taalhuis Noord", "invoice_number": f"F-{n}",
                            "contract_number": "C", "course_type": "Inburgering", "description": "x",
                            "invoice_date": day.isoformat(), "period_from": day.isoformat(),
                            "period_to": day.isoformat(), "courses": 1, "course_fee": "100.00",
                            "materials_fee": "0.00", "exam_fee": "0.00"}):
                service.receive(session, {**fields, "person": f"p{n}", "date": day.isoformat()}, source="t",
                                received_on=day)
    service.ingest(case_file, day)


def _sent(case_file: CaseFile) -> int:
    with case_file.reading() as session:
        return session.scalar(select(func.count()).select_from(JournalEntry))


@pytest.mark.parametrize("args, words", [
    (("monitor", "--as-of", "9999-12-31"), "--as-of: 9999-12-31 is outside the dates this system takes"),
    (("ingest", "--as-of", "10000-01-01"), "--as-of: '10000-01-01' is not a date"),
    (("monitor", "--as-of", ""), "--as-of: '' is not a date"),
    (("migrate", "--down-to", ""), "--down-to: '' is not a revision"),
    (("migrate", "--down-to", "../../etc"), "is not a revision"),
    (("api", "--port", "70000"), "--port"),
    (("api", "--port", "0"), "--port"),
    (("api", "--workers", "-1"), "--workers"),
    (("bench", "--journeys", "-5"), "--journeys"),
    (("bench", "--years", "0"), "--years"),
])
def test_a_bad_date_or_number_is_a_sentence_and_exit_2(cli, args, words):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert words in result.output
    assert "Traceback" not in result.output


def test_a_day_after_today_is_refused_with_what_it_would_fire_and_runs_only_when_forced(cli, database_url):
    case_file = CaseFile(database_url)
    today = today_in_amsterdam()
    _invoices(case_file, today)
    sent = _sent(case_file)
    later = today + dt.timedelta(days=60)
    refused = cli("monitor", "--as-of", later.isoformat())
    assert refused.exit_code == 2, refused.output
    said = " ".join(refused.output.split())
    assert f"{later} is after today ({today}, Europe/Amsterdam)" in said
    assert "invoice_reminder 2" in said and "--force-date" in said
    assert _sent(case_file) == sent  # nothing fired
    assert cli("ingest", "--as-of", later.isoformat()).exit_code == 2
    forced = cli("monitor", "--as-of", later.isoformat(), "--force-date")
    assert forced.exit_code == 0, forced.output
    assert "invoice_reminder 2" in " ".join(forced.output.split())
    assert _sent(case_file) > sent
    case_file.dispose()


def test_a_day_far_before_the_last_run_is_refused(cli, database_url):
    case_file = CaseFile(database_url)
    today = today_in_amsterdam()
    _invoices(case_file, today)
    typo = today.replace(year=today.year - 10)
    refused = cli("monitor", "--as-of", typo.isoformat())
    assert refused.exit_code == 2 and "days before the case file's last run" in " ".join(refused.output.split())
    assert cli("monitor", "--as-of", (today - dt.timedelta(days=3)).isoformat()).exit_code == 0  # a recent day
    case_file.dispose()


def test_migrate_never_prints_the_password(postgres, monkeypatch):
    url = postgres.new_database().replace("postgres@", "postgres:s3cret-pw@")  # trust auth: any password is taken
    monkeypatch.setenv("INBURGERING_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "s3cret-pw" not in result.output and "***" in result.output
    monkeypatch.setenv("INBURGERING_DATABASE_URL", url.replace("127.0.0.1:", "127.0.0.1:1"))  # nothing listens
    unreachable = CliRunner().invoke(app, ["migrate"])
    assert unreachable.exit_code == 1 and "the case file could not be used" in unreachable.output
    assert "s3cret-pw" not in unreachable.output and not TRACEBACK.search(unreachable.output)


# ---- a locked and a full case file (SQLite) -------------------------------------------------------------


@pytest.fixture
def sqlite_cli(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'case.db'}"
    monkeypatch.setenv("INBURGERING_DATABASE_URL", url)
    monkeypatch.setattr(db, "BUSY_TIMEOUT", 0.2)  # seconds a statement waits for the lock (30 in use)
    case_file = CaseFile(url)
    yield case_file, tmp_path / "case.db", lambda *args: CliRunner().invoke(app, list(args))
    case_file.dispose()


def _lock(path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
    return holder


def test_a_locked_case_file_is_tried_again_then_a_sentence_and_exit_1(sqlite_cli):
    case_file, path, cli = sqlite_cli
    _invoices(case_file, today_in_amsterdam() - dt.timedelta(days=20))
    holder = _lock(path)
    try:
        result = cli("monitor")
    finally:
        holder.rollback()
        holder.close()
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "(attempt 2 of 3)" in said and "(attempt 3 of 3)" in said
    assert "the case file is locked by another process" in said and "run the command again" in said
    assert not TRACEBACK.search(result.output)


def test_a_lock_that_ends_while_the_command_waits_is_waited_out(sqlite_cli, monkeypatch):
    case_file, path, cli = sqlite_cli
    _invoices(case_file, today_in_amsterdam() - dt.timedelta(days=20))
    holder = _lock(path)
    notice = cli_module._locked_notice

    def release_then_notice(attempt: int) -> None:  # the other process commits while we wait
        holder.rollback()
        notice(attempt)

    monkeypatch.setattr(cli_module, "_locked_notice", release_then_notice)
    try:
        result = cli("monitor")
    finally:
        holder.close()
    assert result.exit_code == 0, result.output
    assert "deadlines fired" in result.output and "(attempt 2 of 3)" in result.output


def test_a_full_case_file_is_a_sentence_and_exit_1(sqlite_cli):
    case_file, path, cli = sqlite_cli
    day = today_in_amsterdam() - dt.timedelta(days=20)
    with case_file.transaction() as session:
        from inburgering.demo import demo_bsn

        for n in range(200):
            service.register_person(session, ref=f"p{n}", bsn=demo_bsn(n), name=f"P {n}")
            service.receive(session, {"type": "residence_permit_granted", "person": f"p{n}",
                                      "date": day.isoformat()}, source="t", received_on=day)
    case_file.dispose()
    raw = sqlite3.connect(path)
    raw.execute("VACUUM")  # no free page left inside the file
    pages = raw.execute("PRAGMA page_count").fetchone()[0]
    raw.close()

    def no_room(dbapi_connection, _record) -> None:  # the disk holds no page more than the file has now
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(Pool, "connect", no_room)
    try:
        result = cli("ingest")
    finally:
        event.remove(Pool, "connect", no_room)
    assert result.exit_code == 1, result.output
    assert "the disk of the case file is full" in " ".join(result.output.split())
    assert not TRACEBACK.search(result.output)
