"""The commands around the inbound API: sources add|list|revoke, ingest and monitor without
Prefect, and migration 0007's downgrade, which never drops what the sources sent."""

from __future__ import annotations

import datetime as dt
import hashlib

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select
from typer.testing import CliRunner

from inburgering.api.sources import add_source
from inburgering.cli import app
from inburgering.engine import service
from inburgering.store.db import CaseFile, alembic_config
from inburgering.store.models import ReceivedEvent, Source
from tests.api_server import ThreadedApi


@pytest.fixture
def cli(database_url, monkeypatch):
    monkeypatch.setenv("INBURGERING_DATABASE_URL", database_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_a_source_is_added_with_a_token_shown_once_listed_and_revoked_at_once(cli, database_url):
    added = cli("sources", "add", "ind-production", "--kind", "ind")
    assert added.exit_code == 0, added.output
    token = added.stdout.strip().splitlines()[-1]
    assert len(token) >= 40
    case_file = CaseFile(database_url)
    with case_file.transaction() as session:
        source = session.scalar(select(Source))
        assert source.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash is kept
        service.register_person(session, ref="p1", bsn="123456782", name="Amina Yusuf")
    assert cli("sources", "add", "ind-production", "--kind", "ind").exit_code == 2  # the name is taken
    school = cli("sources", "add", "taalhuis", "--kind", "school")
    assert school.exit_code == 2 and "--school" in school.output
    assert cli("sources", "add", "taalhuis", "--kind", "school", "--school", "Taalhuis Noord").exit_code == 0
    assert cli("sources", "add", "x", "--kind", "registry").exit_code == 2

    listed = cli("sources", "list")
    assert "ind-production" in listed.output and "Taalhuis Noord" in listed.output and "never" in listed.output
    with ThreadedApi(database_url) as api, httpx.Client(base_url=api.url,
                                                         headers={"Authorization": f"Bearer {token}"}) as ind:
        event = {"id": "i-1", "date": "2024-02-01", "type": "residence_permit_granted", "person": "p1"}
        assert ind.post("/v1/events", json=event).status_code == 202
        today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
        row = next(line for line in cli("sources", "list").output.splitlines() if "ind-production" in line)
        assert today in row  # last sent
        revoked = cli("sources", "revoke", "ind-production")
        assert revoked.exit_code == 0
        assert ind.post("/v1/events", json={**event, "id": "i-2"}).status_code == 401
    assert cli("sources", "revoke", "nobody").exit_code == 2
    case_file.dispose()


def test_ingest_and_monitor_run_without_prefect(cli, database_url):
    case_file = CaseFile(database_url)
    with case_file.transaction() as session:
        service.register_person(session, ref="p1", bsn="123456782", name="Amina Yusuf")
        for fields in ({"type": "residence_permit_granted"}, {"type": "bsn_registered"},
                       {"type": "municipality_registered", "municipality": "Utrecht"}):
            service.receive(session, {"date": "2024-02-01", "person": "p1", **fields}, source="test",
                            received_on=dt.date(2024, 2, 1))
    ingested = cli("ingest", "--as-of", "2024-02-01")
    assert ingested.exit_code == 0, ingested.output
    assert "2024-02-01: 3 applied, 0 rejected, 0 errors" in ingested.output
    with case_file.transaction() as session:
        assert set(session.scalars(select(ReceivedEvent.status))) == {"applied"}
    monitored = cli("monitor", "--as-of", "2024-12-31")
    assert monitored.exit_code == 0 and "2024-12-31:" in monitored.output and "deadlines fired" in monitored.output
    assert cli("ingest", "--as-of", "2024-02-30").exit_code == 2
    case_file.dispose()


def test_the_downgrade_of_0007_refuses_while_sources_exist(database_url):
    case_file = CaseFile(database_url)
    config = alembic_config(case_file.engine)
    before = ScriptDirectory.from_config(config).get_revision("0007").down_revision
    with case_file.transaction() as session:
        add_source(session, "ind", "ind", now=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    with pytest.raises(RuntimeError, match="downgrade of 0007 refused: 1 sending system"):
        command.downgrade(config, before)
    with case_file.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM sources")).scalar() == 1
    with case_file.transaction() as session:
        session.execute(sa.delete(Source))
    command.downgrade(config, before)
    with case_file.engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert not inspector.has_table("sources")
        assert "sender_event_id" not in {c["name"] for c in inspector.get_columns("received_events")}
    command.upgrade(config, "head")
    case_file.dispose()
