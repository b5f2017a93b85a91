"""Migrations never silently destroy data, and two `migrate` runs at once are safe.

A downgrade that would drop rows the older schema cannot hold (the loan ledger, a process
owner's policy entry, any case) is refused with a sentence, and nothing changes; one that
drops only what migrating up restores goes through. `migrate` holds a lock (PostgreSQL's
advisory lock, SQLite's exclusive transaction), so processes starting at once on a fresh
database migrate one after the other. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select

from inburgering.domain.policy import load_default_policy
from inburgering.engine import service
from inburgering.scenario.loader import load_scenario
from inburgering.scenario.runner import run_scenario
from inburgering.store.db import CaseFile, DowngradeRefused, alembic_config, downgrade, make_engine, migrate
from inburgering.store.models import (AlertAnnounced, Base, Case, HeldLetter, Incident, JournalEntry, LetterHold,
                                      PolicyValue, Source)

ROOT = Path(__file__).resolve().parent.parent


def _counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {name: connection.scalar(select(func.count()).select_from(table))
                for name, table in Base.metadata.tables.items()}


def _counts_of(engine, table: str) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Base.metadata.tables[table]))


def _revision(engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _filled(database_url: str, scenarios_dir: Path) -> CaseFile:
    """A case file with a loan ledger, letters and the rest of a journey, and a process owner's
    own policy entry."""
    run_scenario(load_scenario(scenarios_dir / "quarter_cap.yaml"), database_url=database_url)
    cf = CaseFile(database_url)
    with cf.transaction() as session:
        session.add(LetterHold(letter_type="*", held_from=dt.date(2022, 5, 1), reason="print house moves"))
        session.add(PolicyValue(key="invoice_reminders_max", valid_from=dt.date(2025, 1, 1), value=5,
                                note="process owner: five reminders from 2025"))
    return cf


def _every_table_filled(cf: CaseFile) -> None:
    """Rows in the tables a journey does not fill: a held letter, an incident, a sending system."""
    now = dt.datetime(2022, 7, 1, tzinfo=dt.timezone.utc)
    with cf.transaction() as session:
        case_id = session.scalar(select(Case.id).limit(1))
        session.add(HeldLetter(case_id=case_id, kind="letter", type="start_letter", recipient="person", data={},
                               held_on=dt.date(2022, 7, 1)))
        session.add(Incident(case_id=case_id, kind="timer", source="deadlines", source_id=1, summary="raised",
                             opened_on=dt.date(2022, 7, 1)))
        session.add(Source(name="brp", kind="brp", token_hash="0" * 64, created_at=now))
        session.add(AlertAnnounced(journal_id=session.scalar(select(JournalEntry.id).limit(1)), announced_at=now))


def _refused_and_unchanged(cf: CaseFile, target: str) -> str:
    before = _counts(cf.engine)
    head = _revision(cf.engine)
    with pytest.raises(DowngradeRefused) as refused:
        downgrade(cf.engine, target)
    assert _revision(cf.engine) == head
    assert _counts(cf.engine) == before
    indexes = {ix["name"] for ix in inspect(cf.engine).get_indexes("cases")}
    assert "ix_cases_actionable" in indexes  # the steps before the refused one were undone too
    migrate(cf.engine)
    assert _counts(cf.engine) == before
    return str(refused.value)


@pytest.mark.parametrize("target", ["0001", "base"])
def test_a_downgrade_with_data_in_every_table_is_refused_and_changes_nothing(database_url, scenarios_dir, target):
    cf = _filled(database_url, scenarios_dir)
    _every_table_filled(cf)
    counts = _counts(cf.engine)
    assert all(counts.values()), f"every table has rows before the downgrade: {counts}"
    assert _refused_and_unchanged(cf, target).startswith("downgrade of 0007 refused: 1 sending system")
    cf.dispose()


def test_the_loan_ledger_and_an_owners_policy_entry_stop_a_downgrade_below_0002(database_url, scenarios_dir):
    cf = _filled(database_url, scenarios_dir)
    ledger = _counts(cf.engine)["loan_ledger"]
    assert ledger > 0
    assert _refused_and_unchanged(cf, "0001") == (
        f"cannot downgrade below 0002: loan_ledger holds {ledger} rows and policy_values holds 1 "
        "entry that is not a shipped default (invoice_reminders_max from 2025-01-01); the older schema has no "
        "place for them, so nothing was changed. Keep this version, or move the data elsewhere first.")
    cf.dispose()


def test_dropping_the_case_file_is_refused_while_it_holds_a_person(database_url):
    cf = CaseFile(database_url)
    with cf.transaction() as session:
        service.register_person(session, ref="p1", bsn="123456782", name="Amina Yusuf")
    downgrade(cf.engine, "0001")  # no loan ledger rows, only shipped policy: nothing is lost
    with pytest.raises(DowngradeRefused, match="^cannot downgrade below 0001: people holds 1 rows;"):
        downgrade(cf.engine, "base")
    assert _revision(cf.engine) == "0001"
    assert _counts_of(cf.engine, "people") == 1
    cf.dispose()


def test_a_downgrade_that_drops_only_what_migrating_up_restores_goes_through(database_url):
    cf = CaseFile(database_url)
    policy = _counts(cf.engine)["policy_values"]
    downgrade(cf.engine, "0001")
    assert _revision(cf.engine) == "0001"
    assert "loan_ledger" not in inspect(cf.engine).get_table_names()
    migrate(cf.engine)
    assert _counts(cf.engine)["policy_values"] == policy
    assert "loan_ledger" in inspect(cf.engine).get_table_names()
    cf.dispose()


def test_migrate_commands_at_once_on_a_fresh_database(database_url):
    env = {**os.environ, "INBURGERING_DATABASE_URL": database_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    command = [sys.executable, "-c", "from inburgering.cli import app; app()", "migrate"]
    runs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)]
    outcomes = [(run.wait(timeout=300), run.stdout.read(), run.stderr.read()) for run in runs]
    assert [code for code, _, _ in outcomes] == [0, 0, 0], outcomes
    assert all("case file up to date" in out for _, out, _ in outcomes)
    engine = make_engine(database_url)
    assert _revision(engine) == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert _counts(engine)["policy_values"] == len(load_default_policy().entries())
    engine.dispose()


def test_the_migrate_command_refuses_a_downgrade_with_the_sentence(database_url, scenarios_dir, monkeypatch):
    from typer.testing import CliRunner

    from inburgering.cli import app

    _filled(database_url, scenarios_dir).dispose()
    monkeypatch.setenv("INBURGERING_DATABASE_URL", database_url)
    refused = CliRunner().invoke(app, ["migrate", "--down-to", "0001"])
    assert refused.exit_code == 2
    assert "--down-to: cannot downgrade below 0002: loan_ledger holds" in refused.stderr
    unknown = CliRunner().invoke(app, ["migrate", "--down-to", "0099"])
    assert unknown.exit_code == 2 and "0099" in unknown.stderr and "Traceback" not in unknown.output
