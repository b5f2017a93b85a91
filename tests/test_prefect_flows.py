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
from prefect.client.schemas.filters import ArtifactFilter, FlowRunFilter, TaskRunFilter
from prefect.client.schemas.sorting import ArtifactSort, FlowRunSort
from prefect.deployments import run_deployment
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow
from prefect.flow_runs import resume_flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from sqlalchemy import func, select, update

from flows.casewait.flow import case_wait
from flows.monitor.flow import deadline_monitor
from flows.staff.flow import PaperEvent, record_paper_event
from inburgering.engine import service
from inburgering.domain.calendar import today_in_amsterdam
from inburgering.store.models import Case, JournalEntry, ReceivedEvent
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


def test_waiting_case_is_a_suspended_run_answered_through_its_form(flows_database):
    today = dt.date(2026, 11, 23)
    case_id = _person_waiting_for_brp(flows_database, today)
    case_wait.to_deployment(name="case-wait").apply()
    flow_run = run_deployment("case-wait/case-wait", parameters={"case_id": case_id}, timeout=0, as_subflow=False)

    with pytest.raises(Pause):
        run_flow(case_wait, flow_run=flow_run, parameters={"case_id": case_id})

    # A form without the municipality is refused and the run stays suspended
    with pytest.raises(Exception, match="municipality"):
        resume_flow_run(flow_run.id, run_input={"prerequisite": "municipality_registered", "date": "2026-11-23"})
    # ... and so are a blank municipality and an absurd date, by the server's schema check
    for blank in ("", "   "):
        with pytest.raises(Exception, match="municipality"):
            resume_flow_run(flow_run.id, run_input={"prerequisite": "municipality_registered", "date": "2026-11-23",
                                                    "municipality": blank})
    with pytest.raises(Exception, match="date"):
        resume_flow_run(flow_run.id, run_input={"prerequisite": "municipality_registered", "date": "2200-11-23",
                                                "municipality": "Utrecht"})
    resume_flow_run(flow_run.id, run_input={"prerequisite": "municipality_registered", "date": "2026-11-23",
                                            "municipality": "Utrecht"})
    with get_client(sync_client=True) as client:  # the resumed run, as a worker would read it
        flow_run = client.read_flow_run(flow_run.id)
    result = run_flow(case_wait, flow_run=flow_run, parameters={"case_id": case_id})
    assert result["status"] == "applied"

    with flows_database.transaction() as session:
        letters = session.scalars(select(JournalEntry.type).where(JournalEntry.case_id == case_id)).all()
        case = session.get(Case, case_id)
    assert "start_letter" in letters
    assert case.waiting_for == "PIP from the municipality"  # a 2026 obligation: Wi2021 waits for the PIP
    assert BSN not in _prefect_contents()


def test_staff_record_a_paper_event_and_a_refused_one_names_the_problem(flows_database):
    today = dt.date.today()
    case_id = _person_waiting_for_brp(flows_database, today)
    with pytest.raises(Exception, match="municipality: is required"):
        record_paper_event(case_id, PaperEvent(type="municipality_registered", date=today))
    outcome = record_paper_event(case_id, PaperEvent(type="municipality_registered", date=today,
                                                     fields={"municipality": "Utrecht"}))
    assert outcome["status"] == "applied"
    with pytest.raises(Exception, match="duplicate"):
        record_paper_event(case_id, PaperEvent(type="bsn_registered", date=today))
    with pytest.raises(Exception, match="BSN was already registered on"):
        record_paper_event(case_id, PaperEvent(type="bsn_registered", date=today - dt.timedelta(days=1)))
    assert BSN not in _prefect_contents()


def test_a_paper_event_dated_after_today_or_blank_is_refused_before_anything_is_stored(flows_database):
    today = today_in_amsterdam()
    case_id = _person_waiting_for_brp(flows_database, today)

    def received() -> int:
        with flows_database.transaction() as session:
            return session.scalar(select(func.count(ReceivedEvent.id)))

    before = received()
    for day in (today + dt.timedelta(days=1), dt.date(2099, 1, 1)):
        with pytest.raises(Exception, match=f"date: {day} is after today") as refused:
            record_paper_event(case_id, PaperEvent(type="municipality_registered", date=day,
                                                   fields={"municipality": "Utrecht"}))
        assert "None" not in str(refused.value)
    with pytest.raises(Exception, match="municipality: is blank"):
        record_paper_event(case_id, PaperEvent(type="municipality_registered", date=today,
                                               fields={"municipality": "   "}))
    assert received() == before  # nothing stored, nothing left pending to apply in 2099
    outcome = record_paper_event(case_id, PaperEvent(type="municipality_registered", date=today,
                                                     fields={"municipality": "Utrecht"}))
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
    result = deadline_monitor(as_of=late_day, show_waits=False)
    assert result["monitor"]["alerts"][0]["type"] == "start_letter_overdue"

    async def artifacts() -> dict:
        async with get_client() as client:
            found = await client.read_artifacts(limit=50, sort=ArtifactSort.CREATED_DESC,
                                                artifact_filter=ArtifactFilter(), flow_run_filter=FlowRunFilter(),
                                                task_run_filter=TaskRunFilter())
            return {a.key: a.data for a in reversed(found)}

    published = asyncio.run(artifacts())
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
    record_paper_event(case_id, PaperEvent(type="municipality_registered", date=today,
                                           fields={"municipality": "Utrecht"}))
    with pytest.raises(Exception, match="no diploma letter"):
        resend_letter(case_id, "diploma", reason="asked by phone")
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


def _process_owners_notified_by_webhook():  # noqa: ANN202
    """A webhook (a real local HTTP server) and the automation README "Incidents" shows."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from prefect.automations import Automation, EventTrigger, SendNotification
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    told: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            told.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    block_id = CustomWebhookNotificationBlock(name="incidents", url=f"http://127.0.0.1:{server.server_port}/",
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
    from inburgering.engine.errors import InputError
    from inburgering.gateway.server import LocalGateway
    from inburgering.store.models import Incident, OutboxMessage, PolicyValue
    from tasks.incidents import CLOSED, OPENED

    today = dt.date.today()
    case_id = _person_waiting_for_brp(flows_database, today)
    record_paper_event(case_id, PaperEvent(type="municipality_registered", date=today,
                                           fields={"municipality": "Utrecht"}))  # the start letter is in the outbox
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
    assert _wait_for(lambda: told) == [{"text": f"Incident on case-{case_id}: {incident['summary']}"}]
    automation.delete()

    with LocalGateway(token="t", port=down.port) as gateway:
        result = retry_incidents()  # every open incident, and a dispatch at once
        assert result["retried"] == [incident["incident"]] and result["dispatch"]["sent"] == 1
        assert [r["message"]["type"] for r in gateway.state.messages.values()] == ["start_letter"]
    [closed] = _events(CLOSED, f"inburgering.case.{case_id}")
    assert closed.payload["state"] == "closed"
    with pytest.raises(InputError, match=f"incident {incident['incident']} is already closed"):
        close_incident(incident["incident"], resolution="sent by hand")
    with flows_database.transaction() as session:
        assert session.get(Incident, incident["incident"]).resolution == "delivered after 2 attempts"
        assert session.scalar(select(OutboxMessage.status)) == "sent"
    contents = _prefect_contents() + json.dumps([opened.model_dump(mode="json"), closed.model_dump(mode="json")])
    assert BSN not in contents and "Amina" not in contents


def _people_waiting_for_brp(cf, today: dt.date, count: int) -> list[int]:
    """`count` people with a residence permit and a BSN: intake cases that wait for the municipality."""
    from inburgering.demo import demo_bsn

    with cf.transaction() as session:
        for n in range(count):
            service.register_person(session, ref=f"p{n}", bsn=demo_bsn(n), name=f"Person {n}")
            for event in ({"type": "residence_permit_granted"}, {"type": "bsn_registered"}):
                service.receive(session, {**event, "person": f"p{n}", "date": today.isoformat()}, source="test",
                                received_on=today)
    service.ingest(cf, today)
    with cf.transaction() as session:
        return list(session.scalars(select(Case.id).where(Case.process == "intake").order_by(Case.id)))


def _case_wait_runs() -> dict[str, object]:
    """Every run of the case-wait flow, by id."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["case-wait"])), limit=200)
    return {str(run.id): run for run in runs}


def _forget_case_wait_runs() -> None:
    """Idempotency keys (case-<id>-v<version>) repeat in every fresh case file: start without other tests' runs."""
    with get_client(sync_client=True) as client:
        for run_id in _case_wait_runs():
            client.delete_flow_run(run_id)


def _waits(cf) -> dict[int, Case]:
    with cf.transaction() as session:
        return {c.id: c for c in session.scalars(select(Case).where(Case.process == "intake"))}


@pytest.fixture
def sync_waits():
    from prefect import flow

    from tasks.windows import sync_case_waits

    @flow
    def sync(limit: int = 100) -> dict:
        return sync_case_waits(limit=limit)

    case_wait.to_deployment(name="case-wait").apply()
    _forget_case_wait_runs()
    return sync


def test_each_waiting_case_gets_one_wait_run_which_is_replaced_when_the_case_moves_on(flows_database, sync_waits):
    from inburgering.demo import demo_bsn

    today = dt.date.today()
    ids = _people_waiting_for_brp(flows_database, today, 3)
    assert sync_waits(limit=2) == {"created": 2, "closed": 0, "cancelled": 0}  # bounded: the rest follows on the next call
    assert sync_waits() == {"created": 1, "closed": 0, "cancelled": 0}
    assert sync_waits() == {"created": 0, "closed": 0, "cancelled": 0}  # showing a wait does not change the case

    # One run per waiting case, as run_deployment made them: on the case-wait deployment, scheduled for a
    # worker, named and tagged after the case (no BSN), one per case version.
    cases = _waits(flows_database)
    runs = _case_wait_runs()
    with get_client(sync_client=True) as client:
        deployment_id = client.read_deployment_by_name("case-wait/case-wait").id
    assert sorted(runs) == sorted(c.wait_run_id for c in cases.values())
    for case in cases.values():
        run = runs[case.wait_run_id]
        assert case.wait_version == case.version
        assert run.name == f"intake · case-{case.id} · waits for {case.waiting_for}"
        assert set(run.tags) == {"process:intake", f"status:{case.status}"}
        assert run.parameters == {"case_id": case.id}
        assert run.deployment_id == deployment_id and run.parent_task_run_id is None
        assert run.idempotency_key == f"case-{case.id}-v{case.version}"
        assert run.state.is_scheduled()

    # A worker runs one: it suspends with its form.
    first = runs[cases[ids[0]].wait_run_id]
    with pytest.raises(Pause):
        run_flow(case_wait, flow_run=first, parameters={"case_id": ids[0]})
    assert _case_wait_runs()[str(first.id)].state.name == "Suspended"

    # The record of the shown runs is lost (Prefect answered, the case file write did not happen):
    # the next call finds the same runs again, it does not show a case twice.
    with flows_database.transaction() as session:
        session.execute(update(Case.__table__).values(wait_run_id=None, wait_version=None))
    assert sync_waits() == {"created": 3, "closed": 0, "cancelled": 0}
    assert {c.wait_run_id for c in _waits(flows_database).values()} == set(runs) == set(_case_wait_runs())

    # The first case moves on: its suspended run is cancelled, a new one shows the next wait.
    with flows_database.transaction() as session:
        service.receive(session, {"type": "municipality_registered", "municipality": "Utrecht", "person": "p0",
                                  "date": today.isoformat()}, source="test", received_on=today)
    service.ingest(flows_database, today)  # the start letter goes; the Wi2021 case now waits for the PIP
    assert sync_waits() == {"created": 1, "closed": 1, "cancelled": 1}
    after = _waits(flows_database)
    now = _case_wait_runs()
    assert now[str(first.id)].state.name == "Cancelled"
    assert now[str(first.id)].state.message == "the case moved on"
    moved = now[after[ids[0]].wait_run_id]
    assert moved.name == f"intake · case-{ids[0]} · waits for PIP from the municipality"
    assert moved.state.is_scheduled()
    assert [after[i].wait_run_id for i in ids[1:]] == [cases[i].wait_run_id for i in ids[1:]]  # the others keep theirs

    # The second case no longer waits (its run is cancelled, none is shown); the third case's run was
    # deleted in the UI before its case changed (nothing to cancel; a new run is shown).
    with flows_database.transaction() as session:
        session.execute(update(Case.__table__).where(Case.id == ids[1])
                        .values(waiting_for=None, version=Case.version + 1))
        session.execute(update(Case.__table__).where(Case.id == ids[2]).values(version=Case.version + 1))
    with get_client(sync_client=True) as client:
        client.delete_flow_run(cases[ids[2]].wait_run_id)
    assert sync_waits() == {"created": 1, "closed": 2, "cancelled": 1}  # the deleted run needs no cancelling
    final = _waits(flows_database)
    now = _case_wait_runs()
    assert final[ids[1]].wait_run_id is None and now[cases[ids[1]].wait_run_id].state.name == "Cancelled"
    assert now[final[ids[2]].wait_run_id].state.is_scheduled()
    assert final[ids[2]].wait_version == final[ids[2]].version
    assert sync_waits() == {"created": 0, "closed": 0, "cancelled": 0}

    contents = _prefect_contents()
    assert not any(demo_bsn(n) in contents for n in range(3))


def test_case_waits_are_shown_one_run_a_request_when_the_server_refuses_the_batch(flows_database, sync_waits,
                                                                                  monkeypatch):
    import tasks.windows

    # A server without the bulk endpoint, or one that refused every run of the batch (SQLite busy).
    monkeypatch.setattr(tasks.windows, "_bulk_create", lambda client, deployment_id, runs, labels: [None] * len(runs))
    ids = _people_waiting_for_brp(flows_database, dt.date.today(), 2)
    assert sync_waits() == {"created": 2, "closed": 0, "cancelled": 0}
    cases = _waits(flows_database)
    runs = _case_wait_runs()
    assert sorted(runs) == sorted(c.wait_run_id for c in cases.values())
    for case_id in ids:
        run = runs[cases[case_id].wait_run_id]
        assert run.name == f"intake · case-{case_id} · waits for {cases[case_id].waiting_for}"
        assert run.parameters == {"case_id": case_id} and run.state.is_scheduled()


def test_a_wait_run_answered_through_its_form_stays_completed_when_the_case_moves_on(flows_database, sync_waits):
    today = dt.date.today()
    [case_id] = _people_waiting_for_brp(flows_database, today, 1)
    assert sync_waits() == {"created": 1, "closed": 0, "cancelled": 0}
    answered_id = _waits(flows_database)[case_id].wait_run_id

    # A worker runs it, it suspends, staff answer its form, it resumes and completes: the case moves on.
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(answered_id)
    with pytest.raises(Pause):
        run_flow(case_wait, flow_run=flow_run, parameters={"case_id": case_id})
    resume_flow_run(flow_run.id, run_input={"prerequisite": "municipality_registered", "date": today.isoformat(),
                                            "municipality": "Utrecht"})
    with get_client(sync_client=True) as client:  # the resumed run, as a worker would read it
        flow_run = client.read_flow_run(flow_run.id)
    assert run_flow(case_wait, flow_run=flow_run, parameters={"case_id": case_id})["status"] == "applied"
    assert _case_wait_runs()[answered_id].state.name == "Completed"

    # The sync replaces the wait; the answered run is not marked cancelled.
    assert sync_waits() == {"created": 1, "closed": 1, "cancelled": 0}
    case = _waits(flows_database)[case_id]
    now = _case_wait_runs()
    assert now[answered_id].state.name == "Completed"
    assert case.wait_run_id != answered_id and case.wait_version == case.version
    assert now[case.wait_run_id].name == f"intake · case-{case_id} · waits for PIP from the municipality"
    assert now[case.wait_run_id].state.is_scheduled()
    assert sync_waits() == {"created": 0, "closed": 0, "cancelled": 0}


def _suspend_and_answer(case_id: int, answer: dict) -> dict:
    """Run the case-wait deployment for a case until it suspends, answer its form, resume it."""
    case_wait.to_deployment(name="case-wait").apply()
    flow_run = run_deployment("case-wait/case-wait", parameters={"case_id": case_id}, timeout=0, as_subflow=False)
    with pytest.raises(Pause):
        run_flow(case_wait, flow_run=flow_run, parameters={"case_id": case_id})
    resume_flow_run(flow_run.id, run_input=answer)
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run.id)
    return run_flow(case_wait, flow_run=flow_run, parameters={"case_id": case_id})


def _journey(cf, events: list[dict], policy: dict | None = None) -> dict[str, int]:
    """A person with a Wi2013 obligation from 2019 and the given events, applied; case ids by process."""
    from inburgering.store.models import PolicyValue

    first = dt.date.fromisoformat(events[0]["date"])
    with cf.transaction() as session:
        for key, value in (policy or {}).items():
            session.query(PolicyValue).filter(PolicyValue.key == key).update({"value": value})
        service.register_person(session, ref="p1", bsn=BSN, name="Tesfay Gebre", email="tesfay@example.org")
        prerequisites = [{"type": "residence_permit_granted", "obligation_start": "2019-01-15"},
                         {"type": "bsn_registered"}, {"type": "municipality_registered", "municipality": "Enschede"}]
        for event in prerequisites + events:
            day = event.get("date", first.isoformat())
            service.receive(session, {**event, "person": "p1", "date": day}, source="test",
                            received_on=dt.date.fromisoformat(day))
    service.ingest(cf, dt.date.today())
    with cf.transaction() as session:
        return {c.process: c.id for c in session.scalars(select(Case).order_by(Case.id))}


def test_agi_staff_review_waits_as_a_suspended_run_and_the_form_decides(flows_database):
    attempts = {p: {"integration": 4, "nt2": 0} for p in ("lezen", "luisteren", "schrijven", "spreken", "knm")}
    cases = _journey(flows_database, [
        {"date": "2026-10-01", "type": "agi_application_received", "route": "course",
         "hours": {"integration": 620, "nt2": 0, "alfa": 0}, "school_listed_at_course_start": True,
         "attempts": attempts},
        {"date": "2026-10-05", "type": "school_declaration_received"},
    ], policy={"agi_staff_review": True})
    with flows_database.transaction() as session:
        assert session.get(Case, cases["exemption"]).waiting_for is not None  # waits for the staff
    result = _suspend_and_answer(cases["exemption"], {"input": "staff_decision", "date": dt.date.today().isoformat(),
                                                      "decision": "granted", "reason": "file checked"})
    assert result["status"] == "applied"
    with flows_database.transaction() as session:
        decision = session.scalars(select(JournalEntry).where(JournalEntry.type == "agi_decision")).one()
    assert decision.data["decision"] == "granted" and decision.data["reasons"] == []
    assert BSN not in _prefect_contents()


def test_an_invoice_decision_by_post_is_given_through_the_form_and_the_school_is_paid(flows_database):
    today = dt.date.today()
    cases = _journey(flows_database, [
        {"date": (today - dt.timedelta(days=3)).isoformat(), "type": "loan_granted", "amount": "10000.00"},
        {"date": (today - dt.timedelta(days=2)).isoformat(), "type": "invoice_submitted", "school": "Taalhuis Noord",
         "invoice_number": "TN-9", "contract_number": "C-9", "course_type": "Inburgering", "description": "lessen",
         "invoice_date": (today - dt.timedelta(days=2)).isoformat(),
         "period_from": (today - dt.timedelta(days=40)).isoformat(),
         "period_to": (today - dt.timedelta(days=10)).isoformat(), "courses": 10, "course_fee": "300.00",
         "materials_fee": "25.50", "exam_fee": "0.00"},
    ])
    with flows_database.transaction() as session:
        invoice_case = session.scalars(select(Case).where(Case.process == "invoicing", Case.key != "loan")).one()
    assert invoice_case.status == "Factuur is openstaand"
    result = _suspend_and_answer(invoice_case.id, {"invoice_number": "TN-9", "decision": "accept",
                                                   "date": today.isoformat()})
    assert result["status"] == "applied"
    with flows_database.transaction() as session:
        paid = session.scalars(select(JournalEntry).where(JournalEntry.type == "school_paid")).one()
        assert session.get(Case, invoice_case.id).status == "Factuur is vrijgegeven"
    assert paid.data["amount"] == "325.50" and paid.data["invoice_number"] == "TN-9"
    assert BSN not in _prefect_contents()
