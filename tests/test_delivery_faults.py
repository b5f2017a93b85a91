"""The gateway down, hanging, failing or refusing: nothing is given up, nothing is sent twice,
process owners see incidents, and a run with the gateway down is short (counted in messages
tried, not in seconds). The real local gateway on a free port, stopped and started again."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading

import httpx
import pytest
from sqlalchemy import select, update

from inburgering.engine import incidents
from inburgering.engine.dispatch import backoff, dispatch_pending, resend
from inburgering.engine.errors import InputError
from inburgering.engine.service import ingest, receive, register_person
from inburgering.demo import demo_bsn
from inburgering.gateway.client import GatewayClient, GatewaySettings
from inburgering.gateway.server import LocalGateway
from inburgering.store.db import CaseFile
from inburgering.store.models import Incident, OutboxMessage, Person, PolicyValue
from tests.scenario_helpers import replay_into

T0 = dt.datetime(2022, 6, 3, 6, 0, tzinfo=dt.timezone.utc)
LETTERS = 20  # start letters, besides the invoice scenario's e-mail, payment and letter


@pytest.fixture
def outbox(database_url, scenarios_dir):
    """The invoice_accept scenario (an e-mail, a payment order, a letter) and 20 start letters, all pending."""
    case_file = CaseFile(database_url)
    day = replay_into(case_file, scenarios_dir / "invoice_accept.yaml").until
    with case_file.transaction() as session:
        for n in range(LETTERS):
            register_person(session, ref=f"q{n}", bsn=demo_bsn(n), name=f"Person {n}")
            for event in ({"type": "residence_permit_granted"}, {"type": "bsn_registered"},
                          {"type": "municipality_registered", "municipality": "Utrecht"}):
                receive(session, {**event, "person": f"q{n}", "date": day.isoformat()}, source="test", received_on=day)
    ingest(case_file, day)
    yield case_file
    case_file.dispose()


def _client(url: str, retries: int = 0, timeout: float = 5.0) -> GatewayClient:
    # No connection retries inside one call, so that a simulated day of runs stays short.
    return GatewayClient(GatewaySettings(url, "t", timeout=timeout), transport=httpx.HTTPTransport(retries=retries))


def _down_gateway() -> tuple[int, str]:
    """A free port with no gateway on it (started and stopped): connections are refused."""
    gateway = LocalGateway(token="t")
    gateway.stop()
    return gateway.port, gateway.url


def _every(start: dt.datetime, hours: float, minutes: int = 10) -> list[dt.datetime]:
    return [start + dt.timedelta(minutes=m) for m in range(0, int(hours * 60), minutes)]


def _messages(case_file: CaseFile) -> dict[int, OutboxMessage]:
    with case_file.transaction() as session:
        return {m.id: m for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))}


def _delivered_keys(store) -> list[str]:  # noqa: ANN001
    """What the gateway holds, one record per message it took (its own store on disk)."""
    if not store.exists():
        return []
    return [json.loads(line)["idempotency_key"] for line in store.read_text().splitlines()]


def _set_email(case_file: CaseFile, ref: str, email: str | None) -> None:
    with case_file.transaction() as session:
        session.execute(update(Person).where(Person.ref == ref).values(email=email))


def test_gateway_down_for_a_day_then_up_every_message_goes_once_and_its_incident_closes(outbox, tmp_path):
    messages = _messages(outbox)
    assert len(messages) == LETTERS + 3 and {m.status for m in messages.values()} == {"pending"}
    email = next(m.id for m in messages.values() if m.channel == "email")
    _set_email(outbox, "p1", None)  # the gateway will refuse this e-mail: it has no address
    store = tmp_path / "gateway.jsonl"
    port, url = _down_gateway()

    with _client(url) as client:
        day = [dispatch_pending(outbox, client, now=moment) for moment in _every(T0, hours=24)]
    assert _delivered_keys(store) == []
    # Each run tried one message, found no gateway, and postponed the rest untried.
    assert max(r.attempted for r in day) == 1
    assert all(r.stopped_early and r.postponed == len(messages) for r in day if r.attempted)
    # A run every 10 minutes, a back-off of 1, 2, 4, … minutes, at most an hour: attempts at
    # 0, 10, 20, 30, 40, 60 and 100 minutes, then hourly from 160 minutes (22 more) in the day.
    assert sum(1 for r in day if r.attempted) == 29
    opened = [i for r in day for i in r.opened]
    assert sorted(i["incident"] for i in opened) == sorted({i["incident"] for i in opened})  # each announced once
    with outbox.transaction() as session:
        open_now = {i.source_id: i for i in incidents.list_open(session, "delivery")}
        attempts = {m.id: m.attempts for m in session.scalars(select(OutboxMessage))}
    assert set(open_now) == set(messages) and len(opened) == len(messages)  # one incident per message
    assert all(i.state == "open" and i.attempts == attempts[i.source_id] == 29 for i in open_now.values())
    # Opened at the 5th attempt (the policy's delivery_incident_after_attempts), 40 minutes in.
    assert {r.opened[0]["attempts"] for r in day if r.opened} == {5} and day[4].opened
    assert {i["opened_on"] for i in opened} == {"2022-06-03"}
    summary = open_now[email].summary
    assert summary.startswith(f"The e-mail invoice_waiting for case-{messages[email].case_id} is not delivered")
    for text in (i.summary for i in open_now.values()):
        assert "111222333" not in text and "Karim" not in text and "@" not in text and "Person" not in text

    back = T0 + dt.timedelta(hours=24)
    with LocalGateway(token="t", port=port, store=store), _client(url) as client:
        after = [dispatch_pending(outbox, client, now=moment) for moment in _every(back, hours=2)]
    delivered = _delivered_keys(store)
    assert sorted(delivered) == sorted(m.idempotency_key for m in messages.values() if m.id != email)  # once each
    first = next(r for r in after if r.attempted)
    assert (first.sent, first.refused, first.postponed) == (len(messages) - 1, 1, 0)
    assert sum(r.attempted for r in after) == len(messages)  # nothing tried twice once the gateway answered
    assert len(first.closed) == len(messages) - 1 and first.opened == []
    with outbox.transaction() as session:
        rows = {m.id: m for m in session.scalars(select(OutboxMessage))}
        states = {i.source_id: (i.state, i.resolution) for i in session.scalars(select(Incident))}
        assert session.scalar(select(Incident.summary).where(Incident.source_id == email)).startswith(
            f"The e-mail invoice_waiting for case-{messages[email].case_id} was refused by the gateway (HTTP 422)")
    assert {m.status for i, m in rows.items() if i != email} == {"sent"} and rows[email].status == "failed"
    assert states == {i: ("closed", f"delivered after {rows[i].attempts} attempts") if i != email else ("open", None)
                      for i in messages}

    # Staff put the address right and retry the refused message's incident: it goes, once.
    _set_email(outbox, "p1", "karim@example.org")
    with outbox.transaction() as session:
        (refused,) = incidents.list_open(session)
        incidents.retry(session, now=back, on=back.date(), incident_id=refused.id)
    later = back + dt.timedelta(hours=3)
    with LocalGateway(token="t", port=port, store=store) as gateway, _client(url) as client:
        retried = dispatch_pending(outbox, client, now=later)
        nothing = dispatch_pending(outbox, client, now=later + dt.timedelta(hours=1))
        email_sent = [r["message"] for r in gateway.state.messages.values() if r["message"]["channel"] == "email"]
    assert (retried.sent, retried.attempted, nothing.attempted) == (1, 1, 0)
    assert sorted(_delivered_keys(store)) == sorted(m.idempotency_key for m in messages.values())
    assert email_sent[0]["to"]["email"] == "karim@example.org"
    assert retried.closed[0]["incident"] == refused.id
    with outbox.transaction() as session:
        assert session.get(Incident, refused.id).resolution == f"delivered after {rows[email].attempts + 1} attempts"
        with pytest.raises(InputError, match="already closed"):
            incidents.retry(session, now=later, on=later.date(), incident_id=refused.id)


def test_a_run_with_the_gateway_down_tries_one_message_and_postpones_the_rest(outbox):
    _, url = _down_gateway()
    with _client(url, retries=3) as client:  # the production transport: 3 connection retries
        report = dispatch_pending(outbox, client, now=T0)
        again = dispatch_pending(outbox, client, now=T0 + dt.timedelta(seconds=30))
    assert (report.attempted, report.postponed, report.sent, report.stopped_early) == (1, LETTERS + 3, 0, True)
    assert again.attempted == 0  # nothing is due before its back-off
    messages = _messages(outbox).values()
    assert {m.attempts for m in messages} == {1}
    assert {m.next_attempt_at.replace(tzinfo=dt.timezone.utc) for m in messages} == {T0 + backoff(1)}
    tried, *untried = sorted(messages, key=lambda m: m.id)
    assert tried.last_error == "gateway not reachable: ConnectError"
    assert untried[0].last_error.startswith("not tried: the gateway did not answer an earlier message")


def test_a_hanging_gateway_costs_one_timeout_per_run(outbox):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # connections are accepted by the kernel; nothing ever answers
    try:
        with _client(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.3) as client:
            report = dispatch_pending(outbox, client, now=T0)
    finally:
        silent.close()
    assert (report.attempted, report.postponed, report.stopped_early) == (1, LETTERS + 3, True)
    first = min(_messages(outbox).values(), key=lambda m: m.id)
    assert first.last_error == "gateway not reachable: ReadTimeout"


def test_three_5xx_answers_in_a_row_end_the_run(outbox, tmp_path):
    with LocalGateway(token="t") as gateway, _client(gateway.url) as client:
        gateway.state.fail_next = 100
        report = dispatch_pending(outbox, client, now=T0)
        assert gateway.state.fail_next == 97
    assert (report.attempted, report.postponed, report.sent) == (3, LETTERS + 3, 0)
    assert "gateway answered 503" in min(_messages(outbox).values(), key=lambda m: m.id).last_error


def test_a_wrong_token_ends_the_run_and_refuses_no_message(outbox):
    with LocalGateway(token="right") as gateway, GatewayClient(GatewaySettings(gateway.url, "wrong")) as client:
        report = dispatch_pending(outbox, client, now=T0)
    assert (report.attempted, report.postponed, report.refused, report.stopped_early) == (1, LETTERS + 3, 0, True)
    assert {m.status for m in _messages(outbox).values()} == {"pending"}  # they go once the token is put right
    first = min(_messages(outbox).values(), key=lambda m: m.id)
    assert first.last_error.startswith("gateway refused the message: 401")


def test_once_the_gateway_answers_messages_waiting_for_their_back_off_go_in_the_same_run(outbox):
    port, url = _down_gateway()
    with _client(url) as client:
        for minutes in (0, 1, 3, 7):  # four failed attempts: the next one is 8 minutes away
            dispatch_pending(outbox, client, now=T0 + dt.timedelta(minutes=minutes))
    with outbox.transaction() as session:  # a new message, due at once
        case_id = session.scalar(select(OutboxMessage.case_id).where(OutboxMessage.channel == "post").limit(1))
        resend(session, case_id, "start_letter", today=T0.date(), now=T0)
    with LocalGateway(token="t", port=port) as gateway, _client(url) as client:
        report = dispatch_pending(outbox, client, now=T0 + dt.timedelta(minutes=8))
        assert len(gateway.state.messages) == LETTERS + 4
    assert (report.sent, report.attempted, report.postponed) == (LETTERS + 4, LETTERS + 4, 0)


def _two_dispatchers(database_url: str, url: str, now: dt.datetime) -> list:
    reports, errors = [], []

    def run() -> None:
        case_file = CaseFile(database_url, create=False)
        try:
            with _client(url) as client:
                reports.append(dispatch_pending(case_file, client, now=now))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            case_file.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return reports


def test_two_dispatchers_at_once_write_one_outcome_per_attempt(outbox, tmp_path):
    url_of = outbox.engine.url.render_as_string(hide_password=False)
    with outbox.transaction() as session:  # an incident at the first failed attempt
        session.add(PolicyValue(key="delivery_incident_after_attempts", valid_from=dt.date(2022, 1, 1), value=1))
    _, down = _down_gateway()
    reports = _two_dispatchers(url_of, down, T0)
    messages = _messages(outbox)
    assert {m.attempts for m in messages.values()} == {1}  # one failed attempt each, not two
    assert sum(r.postponed for r in reports) == len(messages)
    with outbox.transaction() as session:
        assert sorted(i.source_id for i in session.scalars(select(Incident))) == sorted(messages)
    assert sum(len(r.opened) for r in reports) == len(messages)

    store = tmp_path / "gateway.jsonl"
    with LocalGateway(token="t", store=store) as gateway:
        reports = _two_dispatchers(url_of, gateway.url, T0 + dt.timedelta(minutes=1))
    assert sorted(_delivered_keys(store)) == sorted(m.idempotency_key for m in messages.values())
    assert sum(r.sent for r in reports) == len(messages)  # each marked sent by one of them
    assert {(m.status, m.attempts) for m in _messages(outbox).values()} == {("sent", 2)}
    assert sum(len(r.closed) for r in reports) == len(messages)


def test_resending_a_payment_order_sends_it_with_its_own_key_and_the_school_is_paid_once(outbox, tmp_path):
    store = tmp_path / "gateway.jsonl"
    with LocalGateway(token="t", store=store) as gateway, _client(gateway.url) as client:
        dispatch_pending(outbox, client, now=T0)
        payment = next(m for m in _messages(outbox).values() if m.channel == "payment")
        assert payment.idempotency_key == f"school_paid:case-{payment.case_id}:2022-Q2"
        with outbox.transaction() as session:
            queued = resend(session, payment.case_id, "school_paid", today=T0.date(), now=T0)
            with pytest.raises(InputError, match=f"case-{payment.case_id} has no diploma letter to resend"):
                resend(session, payment.case_id, "diploma", today=T0.date(), now=T0)
            with pytest.raises(InputError, match="case-1 has no school_paid payment order to resend"):
                resend(session, 1, "school_paid", today=T0.date(), now=T0)
        assert queued == {"payment_order": payment.id, "type": "school_paid", "quarter": "2022-Q2", "was": "sent",
                          "same_key": True}
        again = dispatch_pending(outbox, client, now=T0)
    assert (again.sent, again.duplicates) == (1, 1)  # the gateway knew the key: nothing paid twice
    assert _delivered_keys(store).count(payment.idempotency_key) == 1
    assert sum(1 for r in gateway.state.messages.values() if r["message"]["channel"] == "payment") == 1
