"""The Prefect layer on a real (temporary) Prefect server.

Checks what process owners and staff see: the same timeline through Prefect as
through the embedded engine; a waiting case as a suspended run answered through
its typed form; staff flows; the monitor's artifacts; and no BSN anywhere in Prefect.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, TaskRunFilter
from prefect.client.schemas.sorting import ArtifactSort, FlowRunSort
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from sqlalchemy import func, select

from flows.monitor.flow import deadline_monitor
from flows.staff.flow import record_paper_event
from inburgering.engine import service
from inburgering.domain.calendar import today_in_amsterdam
from inburgering.store.models import Case, ReceivedEvent
from tests.scenario_helpers import entries, replay

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]

BSN = "123456782"


@pytest.fixture(autouse=True)
def _no_heartbeat():
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def _person_waiting_for_brp(cf, today: dt.date) -> int:
    with cf.transaction() as session:
        service.register_person(session, ref="p1", bsn=BSN, name="Amina Yusuf", email="amina@example.org")
        for event in ({"type": "residence_permit_granted"}, {"type": "bsn_registered"}):
            service.receive(session, {**event, "person": "p1", "date": today.isoformat()}, source="test",
                            received_on=today)
    service.ingest(cf, today)
    with cf.transaction() as session:
        return session.scalar(select(Case.id).where(Case.process == "intake"))


def _prefect_contents() -> str:
    """Everything Prefect holds that a person could read: run names, parameters, tags, logs, artifacts."""

    async def read() -> str:
        async with get_client() as client:
            runs = await client.read_flow_runs(limit=200, sort=FlowRunSort.EXPECTED_START_TIME_DESC)
            logs = await client.read_logs(limit=200)
            artifacts = await client.read_artifacts(limit=200, sort=ArtifactSort.CREATED_DESC,
                                                    artifact_filter=ArtifactFilter(), flow_run_filter=FlowRunFilter(),
                                                    task_run_filter=TaskRunFilter())
            return json.dumps([[r.name, r.parameters, r.tags] for r in runs] + [l.message for l in logs]
                              + [a.data for a in artifacts], default=str)

    return asyncio.run(read())


def artifacts(flow_run_id=None, expect: tuple[str, ...] = ()) -> dict:  # noqa: ANN001 - a UUID
    """The newest version of each artifact, by key (of one flow run, when given: other tests' runs
    write the same keys on the shared server). With `expect`, wait up to a minute for those keys: a
    server under load (its own SQLite file locked by its services) may store it a moment late. No
    figure depends on how long."""
    if expect:
        import time

        deadline = time.monotonic() + 60
        while not set(expect) <= (found := artifacts(flow_run_id)).keys() and time.monotonic() < deadline:
            time.sleep(0.5)
        return found
    of_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])) if flow_run_id else \
        ArtifactFilter()

    async def read() -> dict:
        async with get_client() as client:
            found = await client.read_artifacts(limit=50, sort=ArtifactSort.CREATED_DESC,
                                                artifact_filter=of_run, flow_run_filter=FlowRunFilter(),
                                                task_run_filter=TaskRunFilter())
            return {a.key: a.data for a in reversed(found)}

    return asyncio.run(read())


# What each shared scenario must show (its `# expected:` comments; the process tests check the rest).
SHARED_EXPECTATIONS = {
    "start_letter.yaml": [("letter", "start_letter", {"start_date": "2020-02-10", "term_end": "2023-02-10"})],
    "invoice_accept.yaml": [("email", "invoice_waiting", {"invoice_number": "FAC229230568"}),
                            ("payment", "school_paid", {"amount": "250.00", "quarter": "2022-Q2"})],
    "quarter_cap.yaml": [("payment", "school_paid", {"invoice_number": "B-7", "amount": "600.00",
                                                     "quarter": "2022-Q2"}),
                         ("notice", "invoice_refused_to_school", {"invoice_number": "B-7",
                                                                  "amount_not_paid": "300.00"})],
    "quarter_cap_one_school.yaml": [("payment", "payment_deferred", {"invoice_number": "B-7", "amount": "300.00",
                                                                     "to_quarter": "2022-Q3"}),
                                    ("payment", "school_paid", {"invoice_number": "B-7", "amount": "300.00",
                                                                "quarter": "2022-Q3"})],
    "agi_alfa.yaml": [("letter", "alfa_test_invoice", {"amount": "150.00"}),
                      ("letter", "agi_decision", {"decision": "granted", "reasons": []})],
}


@pytest.mark.parametrize("name", sorted(SHARED_EXPECTATIONS))
def test_prefect_engine_gives_the_same_timeline_as_the_embedded_engine(scenarios_dir, name):
    embedded = replay(scenarios_dir / name)
    through_prefect = replay(scenarios_dir / name, engine="prefect")
    assert through_prefect == embedded
    for kind, type_, data in SHARED_EXPECTATIONS[name]:
        assert any(data.items() <= e["data"].items() for e in entries(through_prefect, kind, type_)), (kind, type_)
    assert through_prefect["rejected"] == []
    assert "123456782" not in _prefect_contents() and "111222333" not in _prefect_contents()


def test_letters_held_in_may_go_out_on_june_the_first_through_prefect_as_embedded():
    """A hold ending on the 31st releases on the 1st on both engines (scenarios.md, round three):
    the Prefect replay used to skip days with neither events nor deadlines due, and sent the
    e-mail on 2022-06-07, with the next deadline."""
    from tests.test_driver import held_in_may

    embedded = replay(held_in_may())
    through_prefect = replay(held_in_may(), engine="prefect")
    assert [e["date"] for e in entries(through_prefect, "email", "invoice_waiting")] == ["2022-06-01"]
    assert through_prefect == embedded


def refused_with(state) -> str:  # noqa: ANN001
    """A refused staff action: a Completed state named Refused (not a failed run), its sentence
    as the message, and no traceback in the run's logs (issue 24)."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    assert state.is_completed() and state.name == "Refused", (state.type, state.name, state.message)
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    assert not [log.message for log in logs if "Traceback" in log.message]
    return state.message


def test_random_journeys_give_the_same_timeline_through_prefect_as_embedded():
    """Both engines walk the same days (engine/driver.py) in the same order (the deadline-monitor
    flow's): random journeys from the benchmark's generator, one day's flow run each."""
    from bench.generate import generate
    from inburgering.scenario.loader import parse_scenario

    doc = generate(3, years=1, seed=23).scenario_doc()
    embedded = replay(parse_scenario(doc))
    through_prefect = replay(parse_scenario(doc), engine="prefect")
    assert through_prefect == embedded
    assert len(embedded["timeline"]) >= 20  # letters, reminders, fines of three journeys


def test_staff_record_a_paper_event_and_a_refused_one_names_the_problem(flows_database):
    today = dt.date.today()
    case_id = _person_waiting_for_brp(flows_database, today)
    with pytest.raises(Exception, match="municipality"):  # the form's type has the field: refused before the run
        record_paper_event(case_id, {"type": "municipality_registered", "date": today.isoformat()})
    outcome = record_paper_event(case_id, {"type": "municipality_registered", "date": today.isoformat(),
                                           "municipality": "Utrecht"})
    assert outcome["status"] == "applied"
    state = record_paper_event(case_id, {"type": "bsn_registered", "date": today.isoformat()}, return_state=True)
    assert "(duplicate)" in refused_with(state)
    state = record_paper_event(f"case-{case_id}", {"type": "bsn_registered",
                                                   "date": (today - dt.timedelta(days=1)).isoformat()},
                               return_state=True)  # the case as pasted from a run's name
    assert "BSN was already registered on" in refused_with(state)
    assert BSN not in _prefect_contents()


def test_a_paper_event_dated_after_today_or_blank_is_refused_before_anything_is_stored(flows_database):
    today = today_in_amsterdam()
    case_id = _person_waiting_for_brp(flows_database, today)

    def received() -> int:
        with flows_database.transaction() as session:
            return session.scalar(select(func.count(ReceivedEvent.id)))

    before = received()
    for day in (today + dt.timedelta(days=1), dt.date(2099, 1, 1)):
        state = record_paper_event(case_id, {"type": "municipality_registered", "date": day.isoformat(),
                                             "municipality": "Utrecht"}, return_state=True)
        assert f"date: {day} is after today" in refused_with(state) and "None" not in state.message
    with pytest.raises(Exception, match="municipality"):
        record_paper_event(case_id, {"type": "municipality_registered", "date": today.isoformat(),
                                     "municipality": "   "})
    assert received() == before  # nothing stored, nothing left pending to apply in 2099
    outcome = record_paper_event(case_id, {"type": "municipality_registered", "date": today.isoformat(),
                                           "municipality": "Utrecht"})
    assert outcome["status"] == "applied"


def test_monitor_publishes_what_it_did_and_what_is_late(flows_database):
    day = dt.date(2026, 1, 5)
    with flows_database.transaction() as session:
        service.hold_letters(session, "start_letter", from_day=day, reason="gateway down")
    _person_waiting_for_brp(flows_database, day)
    with flows_database.transaction() as session:
        service.receive(session, {"type": "municipality_registered", "municipality": "Utrecht", "person": "p1",
                                  "date": day.isoformat()}, source="test", received_on=day)
    late_day = day + dt.timedelta(days=57)
    deadline_monitor(as_of=day, show_waits=False)
    state = deadline_monitor(as_of=late_day, show_waits=False, return_state=True)
    result = state.result()
    assert result["monitor"]["alerts"][0]["type"] == "start_letter_overdue"
    published = artifacts(state.state_details.flow_run_id, expect=("deadline-monitor", "late-cases"))
    assert "start_letter_overdue" in published["deadline-monitor"]
    assert "Late now: 1 case(s)" in published["deadline-monitor"]
    late = json.loads(published["late-cases"]) if isinstance(published["late-cases"], str) else published["late-cases"]
    assert (late[0]["status"], late[0]["waiting_for"]) == ("waiting_for_pip",  # Wi2021: the PIP comes next
                                                           "PIP from the municipality — on hold: start_letter")
    assert BSN not in _prefect_contents()


def test_staff_resend_a_letter_and_it_reaches_the_gateway_again(flows_database):
    from flows.staff.flow import resend_letter
    from inburgering.engine.dispatch import dispatch_pending
    from inburgering.gateway.client import GatewayClient, GatewaySettings
    from inburgering.gateway.server import LocalGateway

    today = dt.date.today()
    case_id = _person_waiting_for_brp(flows_database, today)
    record_paper_event(case_id, {"type": "municipality_registered", "date": today.isoformat(),
                                 "municipality": "Utrecht"})
    refused = resend_letter(case_id, "diploma", reason="asked by phone", return_state=True)
    assert refused.is_completed() and refused.name == "Refused", (refused.type, refused.name)
    assert "no diploma letter" in refused.message
    resend_letter(case_id, "start_letter", reason="lost in the post")
    with LocalGateway(token="t") as gateway, GatewayClient(GatewaySettings(gateway.url, "t")) as client:
        dispatch_pending(flows_database, client, now=dt.datetime.now(dt.timezone.utc))
        posted = [r["message"] for r in gateway.state.messages.values() if r["message"]["channel"] == "post"]
    assert [m["type"] for m in posted] == ["start_letter", "start_letter"]
    assert posted[0]["body"] == posted[1]["body"]
    assert BSN not in _prefect_contents()


def _events(name: str, resource_id: str) -> list:
    """The Prefect events of a name on a resource. Events travel to the server in the
    background: wait for them (up to a minute; no figure depends on how long)."""
    import time

    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    deadline = time.monotonic() + 60
    while True:
        with get_client(sync_client=True) as client:
            events = client.read_events(filter=EventFilter(event=EventNameFilter(name=[name]),
                                                           resource=EventResourceFilter(id=[resource_id])),
                                        limit=50).events  # the client's default, 100, the server refuses
        if events or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


def _wait_for(found):  # noqa: ANN001, ANN202
    import time

    deadline = time.monotonic() + 60
    while not found() and time.monotonic() < deadline:
        time.sleep(0.5)
    return found()


def webhook() -> tuple[list[dict], str]:
    """A webhook (a real local HTTP server, stopped with the process): what was posted to it
    ({"headers", "body"} each) and its URL."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    told: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            told.append({"headers": dict(self.headers),
                         "body": json.loads(self.rfile.read(int(self.headers["Content-Length"])))})
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return told, f"http://127.0.0.1:{server.server_port}/"


def _process_owners_notified_by_webhook():  # noqa: ANN202
    """A webhook and the automation README "Incidents" shows."""
    from prefect.automations import Automation, EventTrigger, SendNotification
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    told, url = webhook()
    block_id = CustomWebhookNotificationBlock(name="incidents", url=url,
                                              json_data={"text": "{{subject}}: {{body}}"}).save("incidents",
                                                                                                overwrite=True)
    automation = Automation(
        name="tell process owners about incidents",
        trigger=EventTrigger(expect={"inburgering.incident.opened"},
                             match={"prefect.resource.id": "inburgering.case.*"}, posture="Reactive", threshold=1),
        actions=[SendNotification(block_document_id=block_id, subject="Incident on {{ event.resource.name }}",
                                  body="{{ event.payload.summary }}")],
    ).create()
    return told, automation


def test_an_undelivered_letter_is_an_incident_announced_as_a_prefect_event_and_staff_retry_it(flows_database,
                                                                                              monkeypatch):
    from flows.dispatch.flow import dispatch_letters
    from flows.staff.flow import close_incident, retry_incidents
    from inburgering.gateway.server import LocalGateway
    from inburgering.store.models import Incident, OutboxMessage, PolicyValue
    from tasks.incidents import CLOSED, OPENED

    today = dt.date.today()
    case_id = _person_waiting_for_brp(flows_database, today)
    record_paper_event(case_id, {"type": "municipality_registered", "date": today.isoformat(),
                                 "municipality": "Utrecht"})  # the start letter is in the outbox
    with flows_database.transaction() as session:  # an incident at the first failed attempt
        session.add(PolicyValue(key="delivery_incident_after_attempts", valid_from=dt.date(2020, 1, 1), value=1))
    down = LocalGateway(token="t")
    down.stop()
    monkeypatch.setenv("INBURGERING_GATEWAY_URL", down.url)
    monkeypatch.setenv("INBURGERING_GATEWAY_TOKEN", "t")
    told, automation = _process_owners_notified_by_webhook()

    report = dispatch_letters()
    assert (report["attempted"], report["sent"], report["stopped_early"]) == (1, 0, True)
    [incident] = report["incidents_opened"]
    assert (incident["case"], incident["kind"], incident["source"]) == (f"case-{case_id}", "delivery", "outbox")
    [opened] = _events(OPENED, f"inburgering.case.{case_id}")
    assert opened.payload["incident"] == incident["incident"]
    assert opened.payload["summary"].startswith(f"The letter start_letter for case-{case_id} is not delivered")
    assert opened.resource.name == f"case-{case_id}"
    assert [r.id for r in opened.related if r.role == "incident"] == [f"inburgering.incident.{incident['incident']}"]
    # The automation of the README told the process owners (a webhook here; e-mail, Slack, … alike).
    assert [t["body"] for t in _wait_for(lambda: told)] == [
        {"text": f"Incident on case-{case_id}: {incident['summary']}"}]
    automation.delete()

    with LocalGateway(token="t", port=down.port) as gateway:
        result = retry_incidents()  # every open incident, and a dispatch at once
        assert result["retried"] == [incident["incident"]] and result["dispatch"]["sent"] == 1
        assert [r["message"]["type"] for r in gateway.state.messages.values()] == ["start_letter"]
    [closed] = _events(CLOSED, f"inburgering.case.{case_id}")
    assert closed.payload["state"] == "closed"
    state = close_incident(incident["incident"], resolution="sent by hand", return_state=True)
    assert refused_with(state).startswith(f"refused: incident {incident['incident']} is already "
                                          "closed")  # said where staff read it: the state
    with flows_database.transaction() as session:
        assert session.get(Incident, incident["incident"]).resolution == "delivered after 2 attempts"
        assert session.scalar(select(OutboxMessage.status)) == "sent"
    contents = _prefect_contents() + json.dumps([opened.model_dump(mode="json"), closed.model_dump(mode="json")])
    assert BSN not in contents and "Amina" not in contents


def test_a_paper_event_through_its_own_typed_flow_is_applied_and_a_refusal_says_refused(flows_database):
    from flows.staff.paper import paper_bsn_registered, paper_municipality_registered

    today = today_in_amsterdam()
    case_id = _person_waiting_for_brp(flows_database, today)
    outcome = paper_municipality_registered(f"case-{case_id}", {"date": today.isoformat(), "municipality": "Ede"})
    assert outcome["status"] == "applied"
    state = paper_bsn_registered(case_id, {"date": today.isoformat()}, return_state=True)
    assert "(duplicate)" in refused_with(state)
