"""Incidents: one open per failed row, listed for process owners, retried and closed by staff;
the policy key that makes a message an incident; the migration that adds them."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import text
from typer.testing import CliRunner

from inburgering.cli import app
from inburgering.domain.policy import PolicyError, load_default_policy, parse_value
from inburgering.engine import board, incidents
from inburgering.engine.errors import InputError
from inburgering.store.db import CaseFile, alembic_config, make_engine
from inburgering.store.models import Case, Incident, OutboxMessage, Person

DAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


def _case_with_messages(case_file: CaseFile, statuses: list[str]) -> tuple[int, list[int]]:
    with case_file.transaction() as session:
        person = Person(ref="p1", bsn="123456782", name="Amina Yusuf", email="amina@example.org")
        session.add(person)
        session.flush()
        case = Case(person_id=person.id, process="intake", key="", status="waiting", state={}, opened_on=DAY,
                    updated_on=DAY)
        session.add(case)
        session.flush()
        rows = [OutboxMessage(case_id=case.id, channel="post", payload={"type": "start_letter"}, created_on=DAY,
                              idempotency_key=f"k{n}", status=status, attempts=5)
                for n, status in enumerate(statuses)]
        session.add_all(rows)
        session.flush()
        return case.id, [r.id for r in rows]


def _open(session, source_id: int, case_id: int, *, kind="delivery", source="outbox", attempts=None, error="boom"):
    return incidents.open_incident(session, kind=kind, source=source, source_id=source_id, case_id=case_id,
                                   summary=f"The letter start_letter for case-{case_id} is not delivered.",
                                   error=error, attempts=attempts, on=DAY)


def _outbox_status(case_file: CaseFile, outbox_id: int) -> str:
    with case_file.transaction() as session:
        return session.get(OutboxMessage, outbox_id).status


def test_opening_twice_for_one_row_keeps_one_open_incident(case_file):
    case_id, (first, second) = _case_with_messages(case_file, ["pending", "pending"])
    with case_file.transaction() as session:
        a, new_a = _open(session, first, case_id, attempts=5)
        again, new_again = _open(session, first, case_id, attempts=6, error="still down")
        other, new_other = _open(session, second, case_id)
        timer, _ = _open(session, 77, case_id, kind="timer", source="deadlines")
        assert (new_a, new_again, new_other) == (True, False, True)
        assert again.id == a.id and again.attempts == 6 and again.last_error == "still down"
        assert other.id != a.id and other.attempts == 1
        assert [i.id for i in incidents.list_open(session, "delivery")] == [a.id, other.id]
        assert [i.id for i in incidents.list_open(session, "timer")] == [timer.id]
        assert board.incident_board(session) == [
            {"kind": "delivery", "state": "open", "incidents": 2, "oldest_since": "2026-03-02"},
            {"kind": "timer", "state": "open", "incidents": 1, "oldest_since": "2026-03-02"}]
        # The step succeeded: its incident closes; a later failure is a new incident.
        assert incidents.resolve_source(session, "outbox", first, "delivered after 7 attempts", DAY).id == a.id
        assert incidents.resolve_source(session, "outbox", first, "delivered", DAY) is None
        reopened, new = _open(session, first, case_id)
        assert new and reopened.id not in (a.id, other.id)
        assert session.get(Incident, a.id).resolution == "delivered after 7 attempts"


def test_staff_retry_one_or_all_and_a_failure_after_a_retry_is_newly_open(case_file):
    case_id, (refused, down, sent) = _case_with_messages(case_file, ["failed", "pending", "pending"])
    with case_file.transaction() as session:
        one = _open(session, refused, case_id)[0].id
        two = _open(session, down, case_id)[0].id
        three = _open(session, sent, case_id)[0].id
        session.execute(text("UPDATE outbox SET status = 'sent' WHERE id = :id"), {"id": sent})
    with case_file.transaction() as session:
        assert [i.id for i in incidents.retry(session, now=NOW, on=DAY, incident_id=one)] == [one]
    assert _outbox_status(case_file, refused) == "pending"  # queued again, for the next dispatch
    with case_file.transaction() as session:
        assert [i.id for i in incidents.retry(session, now=NOW, on=DAY, kind="delivery")] == [two, three]
        states = {i.id: (i.state, i.resolution) for i in session.query(Incident)}
    assert states == {one: ("retried", None), two: ("retried", None),
                      three: ("closed", "nothing left to do: the step was done before the retry")}
    with case_file.transaction() as session:
        incident, newly_open = _open(session, refused, case_id)  # the retry failed again
        assert (incident.id, incident.state, newly_open) == (one, "open", True)
        with pytest.raises(InputError, match="incident 3 is already closed"):
            incidents.retry(session, now=NOW, on=DAY, incident_id=three)
        with pytest.raises(InputError, match="there is no incident 99"):
            incidents.retry(session, now=NOW, on=DAY, incident_id=99)
        with pytest.raises(InputError, match="kind: 'mail' is not an incident kind"):
            incidents.retry(session, now=NOW, on=DAY, kind="mail")


def test_staff_close_gives_the_message_up_with_a_resolution(case_file):
    case_id, (outbox_id,) = _case_with_messages(case_file, ["pending"])
    with case_file.transaction() as session:
        incident_id = _open(session, outbox_id, case_id)[0].id
        with pytest.raises(InputError, match="resolution: say how"):
            incidents.close(session, incident_id, "   ", DAY)
    with case_file.transaction() as session:
        incidents.close(session, incident_id, "letter handed over at the desk", DAY)
    assert _outbox_status(case_file, outbox_id) == "cancelled"
    with case_file.transaction() as session:
        closed = session.get(Incident, incident_id)
        assert (closed.state, closed.closed_on, closed.resolution) == ("closed", DAY, "letter handed over at the desk")
        assert incidents.list_open(session) == []


def test_the_cli_lists_retries_and_closes_incidents(case_file, monkeypatch):
    monkeypatch.setenv("INBURGERING_DATABASE_URL", case_file.engine.url.render_as_string(hide_password=False))
    case_id, (refused, other) = _case_with_messages(case_file, ["failed", "pending"])
    with case_file.transaction() as session:
        first = _open(session, refused, case_id)[0].id
        second = _open(session, other, case_id)[0].id
    runner = CliRunner()
    shown = runner.invoke(app, ["incidents"])
    assert shown.exit_code == 0, shown.output
    assert f"case-{case_id}" in shown.output and "start_letter" in shown.output
    assert "123456782" not in shown.output and "Amina" not in shown.output
    assert runner.invoke(app, ["incidents", "retry"]).exit_code == 2  # neither an id nor --all
    unknown = runner.invoke(app, ["incidents", "retry", "99"])
    assert unknown.exit_code == 2 and "there is no incident 99" in unknown.output
    assert runner.invoke(app, ["incidents", "--kind", "mail"]).exit_code == 2
    retried = runner.invoke(app, ["incidents", "retry", str(first)])
    assert retried.exit_code == 0 and f"incident {first}: retried" in retried.output
    assert _outbox_status(case_file, refused) == "pending"
    closed = runner.invoke(app, ["incidents", "close", str(second), "--resolution", "[bold]sent by hand[/bold]"])
    assert closed.exit_code == 0, closed.output
    with case_file.transaction() as session:
        assert session.get(Incident, second).resolution == "[bold]sent by hand[/bold]"
    again = runner.invoke(app, ["incidents", "close", str(second), "--resolution", "x"])
    assert again.exit_code == 2 and "already closed" in again.output


def test_the_incident_threshold_is_policy():
    assert load_default_policy().value("delivery_incident_after_attempts", DAY) == 5
    assert parse_value("delivery_incident_after_attempts", "3") == 3
    for bad, reason in ((0, "at least 1"), (-2, "at least 1"), ("many", "whole number"), (2.5, "whole number"),
                        (True, "whole number")):
        with pytest.raises(PolicyError, match=reason):
            parse_value("delivery_incident_after_attempts", bad)


def _at_0004_with_given_up_messages(database_url: str):
    """A case file as the old dispatcher left it: one message refused, one given up after 5 tries."""
    engine = make_engine(database_url)
    command.upgrade(alembic_config(engine), "0004")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO people (id, ref, bsn, name) VALUES (1, 'p1', '123456782', 'A')"))
        connection.execute(text("INSERT INTO cases (id, person_id, process, key, status, state, opened_on, updated_on,"
                                " version) VALUES (7, 1, 'invoicing', 'x', 's', '{}', '2026-01-05', '2026-01-05', 1)"))
        for n, error in ((1, "gateway refused the message: 422 no address"),
                         (2, "gateway not reachable: ConnectError")):
            connection.execute(text(
                "INSERT INTO outbox (id, case_id, channel, payload, idempotency_key, status, attempts, created_on,"
                " last_error) VALUES (:id, 7, 'email', '{}', :key, 'failed', 5, '2026-01-05', :error)"),
                {"id": n, "key": f"k{n}", "error": error})
    return engine


def test_migration_requeues_given_up_messages_and_opens_incidents_for_refused_ones(database_url):
    engine = _at_0004_with_given_up_messages(database_url)
    cfg = alembic_config(engine)
    command.upgrade(cfg, "0006")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT id, status FROM outbox ORDER BY id")).all() == [(1, "failed"),
                                                                                               (2, "pending")]
        incident = connection.execute(text("SELECT case_id, kind, source, source_id, state, attempts, summary"
                                           " FROM incidents")).one()
    assert incident[:6] == (7, "delivery", "outbox", 1, "open", 5)
    assert incident[6] == "A email message for case-7 was refused by the gateway; it is not sent until staff retry it."
    # Going back would lose the incident: refused, and nothing changes.
    with pytest.raises(RuntimeError, match="holds 1 incident"):
        command.downgrade(cfg, "0004")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM incidents")).scalar() == 1
        connection.execute(text("DELETE FROM incidents"))
    command.downgrade(cfg, "0004")
    command.upgrade(cfg, "0006")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM outbox WHERE next_attempt_at IS NULL")).scalar() == 2
    engine.dispose()
