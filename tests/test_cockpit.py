"""The process owner's cockpit (issue 16) on a real (temporary) Prefect server: a wait run for
each case where someone must act, and only for those; late at a glance; forms that fit the
wait; refused answers that keep the run; boards refreshed by every ingest; alerts as events
that an automation posts; staff flows that refuse before or in their state message.

Each numbered defect of the issue has a test here that failed before the fix (see the names).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow
from prefect.flow_runs import resume_flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.states import Cancelled, Crashed, Failed
from sqlalchemy import select, update

from flows.exams.flow import exams_wait
from flows.exemption.flow import agi_exemption
from flows.form_exemption.flow import form_exemption_wait
from flows.intake.flow import intake_wait
from flows.invoicing.flow import invoice_acceptance
from flows.objection.flow import objection_wait
from flows.term.flow import integration_term
from inburgering.domain.calendar import today_in_amsterdam
from inburgering.engine import service
from flows.waiting.cases import DEPLOYMENTS, TITLES
from inburgering.store.models import Case, JournalEntry, PolicyValue
from tests.test_prefect_flows import _events, _prefect_contents, _wait_for, artifacts, refused_with, webhook

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]

BSN = "123456782"
WAIT_FLOWS = {"intake": intake_wait, "invoicing": invoice_acceptance, "exemption": agi_exemption, "exams": exams_wait,
              "term": integration_term, "form_exemption": form_exemption_wait, "objection": objection_wait}


@pytest.fixture(autouse=True)
def _no_heartbeat():
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@pytest.fixture
def waits_deployed():
    """The wait deployments, and no wait runs of other tests (idempotency keys repeat per case file)."""
    for process, wait_flow in WAIT_FLOWS.items():
        wait_flow.to_deployment(name=DEPLOYMENTS[process]).apply()
    with get_client(sync_client=True) as client:
        for run in client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=list(TITLES.values()))),
                                         limit=200):
            client.delete_flow_run(run.id)


def sync() -> dict:
    from prefect import flow

    from flows.waiting.sync import sync_case_waits

    @flow(name="sync-waits-in-a-test")
    def run_sync() -> dict:
        return sync_case_waits()

    return run_sync()


def _run(run_id) -> object:  # noqa: ANN001
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def _case(cf, case_id: int) -> Case:
    with cf.transaction() as session:
        return session.get(Case, case_id)


def _description(run_id) -> str:  # noqa: ANN001
    """What the Resume dialog shows above the form of the run's current suspension."""
    from prefect.input.actions import read_flow_run_input

    run = _run(run_id)
    return read_flow_run_input(run.state.state_details.run_input_keyset["description"], flow_run_id=run.id)


def _form(run_id) -> dict:  # noqa: ANN001
    from prefect.input.actions import read_flow_run_input

    run = _run(run_id)
    return read_flow_run_input(run.state.state_details.run_input_keyset["schema"], flow_run_id=run.id)


def answer(process: str, case_id: int, run_id, run_input: dict) -> object:  # noqa: ANN001
    """Staff press Resume with this input; a worker then runs the run (here: this process)."""
    resume_flow_run(run_id, run_input=run_input)
    try:
        run_flow(WAIT_FLOWS[process], flow_run=_run(run_id), parameters={"case_id": case_id})
    except Pause:
        pass  # refused, or nothing entered: it suspended again
    return _run(run_id)


def _late_invoice(cf, today: dt.date, ref: str = "p1", bsn: str = BSN, number: str = "TN-9",
                  days: int = 50) -> int:
    """A person whose invoice waits for acceptance since `days` days: late since the alert after 42."""
    start = today - dt.timedelta(days=days)
    with cf.transaction() as session:
        service.register_person(session, ref=ref, bsn=bsn, name="Tesfay Gebre", email="tesfay@example.org")
        for offset, event in ((0, {"type": "loan_granted", "amount": "10000.00"}),
                              (0, {"type": "invoice_submitted", "school": "Taalhuis Noord", "invoice_number": number,
                                   "contract_number": f"C-{number}", "course_type": "Inburgering", "description": "lessen",
                                   "invoice_date": start.isoformat(),
                                   "period_from": (start - dt.timedelta(days=30)).isoformat(),
                                   "period_to": (start - dt.timedelta(days=1)).isoformat(), "courses": 10,
                                   "course_fee": "300.00", "materials_fee": "25.50", "exam_fee": "0.00"})):
            day = start + dt.timedelta(days=offset)
            service.receive(session, {**event, "person": ref, "date": day.isoformat()}, source="test",
                            received_on=day)
    service.ingest(cf, start)
    for offset in range(1, days + 1):
        service.run_monitor(cf, start + dt.timedelta(days=offset))
    with cf.transaction() as session:
        return session.scalar(select(Case.id).join(service.Person, service.Person.id == Case.person_id)
                              .where(Case.process == "invoicing", Case.key != "loan", service.Person.ref == ref))


def _held_start_letters(cf, today: dt.date, *people: tuple[str, str | None]) -> dict[str, int]:
    """Start letters held from 70 days ago; each person's prerequisites 66 days ago (obligation
    start given: Wi2013, the case waits for its letter only; none: Wi2021, it waits for the PIP
    too). The monitor of today alerts them overdue: the cases are late."""
    first = today - dt.timedelta(days=66)
    with cf.transaction() as session:
        service.hold_letters(session, "start_letter", from_day=today - dt.timedelta(days=70), reason="print house")
        for n, (ref, obligation_start) in enumerate(people):
            service.register_person(session, ref=ref, bsn=_bsn(n), name=f"Person {n}")
            permit = {"type": "residence_permit_granted"} | ({"obligation_start": obligation_start}
                                                              if obligation_start else {})
            for event in (permit, {"type": "bsn_registered"},
                          {"type": "municipality_registered", "municipality": "Zwolle"}):
                service.receive(session, {**event, "person": ref, "date": first.isoformat()}, source="test",
                                received_on=first)
    service.ingest(cf, first)
    service.run_monitor(cf, today)
    with cf.transaction() as session:
        return {ref: cid for ref, cid in session.execute(
            select(service.Person.ref, Case.id).join(Case, Case.person_id == service.Person.id)
            .where(Case.process == "intake"))}


def _held_start_letter_from(cf, day: dt.date, reason: str) -> None:  # noqa: ANN001
    """Start letters held from `day`, and a person whose prerequisites all came that day."""
    with cf.transaction() as session:
        service.hold_letters(session, "start_letter", from_day=day, reason=reason)
        service.register_person(session, ref="p1", bsn=BSN, name="Amina Yusuf")
        for event in ({"type": "residence_permit_granted"}, {"type": "bsn_registered"},
                      {"type": "municipality_registered", "municipality": "Utrecht"}):
            service.receive(session, {**event, "person": "p1", "date": day.isoformat()}, source="test",
                            received_on=day)


def _bsn(n: int) -> str:
    from inburgering.demo import demo_bsn

    return demo_bsn(50 + n)


# ---- defect 3: late is visible; only actionable cases have a run --------------------------------


def test_a_late_case_has_one_suspended_wait_run_named_with_its_days_late_and_tagged_late(flows_database,
                                                                                          waits_deployed):
    today = today_in_amsterdam()
    case_id = _late_invoice(flows_database, today)
    with flows_database.transaction() as session:  # a second person whose invoice is not late: on the boards only
        service.register_person(session, ref="p2", bsn=_bsn(9), name="Lena Petrova")
    case = _case(flows_database, case_id)
    assert case.late_since is not None and case.status == "Factuur is openstaand"
    days_late = (today - case.late_since).days + 1

    result = sync()
    assert (result["shown"], result["actionable"]) == (1, 1)
    case = _case(flows_database, case_id)
    run = _run(case.wait_run_id)
    assert run.name == f"case-{case_id} · {days_late} days late · waits for {case.waiting_for}"
    assert {"late", "wait", "process:invoicing", "status:Factuur is openstaand"} <= set(run.tags)
    assert run.state.name == "Suspended" and run.parameters == {"case_id": case_id}
    with get_client(sync_client=True) as client:  # a run of the process's own flow and deployment
        assert run.deployment_id == client.read_deployment_by_name("invoice acceptance/invoice-acceptance").id
    described = _description(run.id)
    for words in (f"case-{case_id}", "Factuur is openstaand", case.waiting_for, f"since {case.late_since}",
                  f"{days_late} days late", "What to enter"):
        assert words in described
    form = _form(run.id)
    assert form["title"] == "InvoicingInput"
    assert form["properties"]["invoice_number"]["default"] == "TN-9"  # pre-filled
    assert form["properties"]["date"]["default"] == today.isoformat()
    assert "pattern" in form["properties"]["date"]  # the pre-filled date keeps its check

    assert sync()["shown"] == 0  # one run per case: a second sync changes nothing
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["invoice acceptance"])))
    assert [r.id for r in runs] == [run.id]
    assert BSN not in _prefect_contents()


# ---- defect 2 and 4: a refused answer keeps the run, with the rule's sentence ------------------------


def test_a_refused_answer_leaves_the_run_suspended_with_the_reason_and_a_valid_one_moves_the_case_on(
        flows_database, waits_deployed):
    today = today_in_amsterdam()
    case_id = _late_invoice(flows_database, today)
    sync()
    run_id = _case(flows_database, case_id).wait_run_id
    tomorrow = (today + dt.timedelta(days=1)).isoformat()

    # The schema holds what it can: a missing decision and an impossible date are refused by the server.
    with pytest.raises(RuntimeError, match="decision"):
        resume_flow_run(run_id, run_input={"invoice_number": "TN-9", "date": today.isoformat()})
    with pytest.raises(RuntimeError, match="date"):
        resume_flow_run(run_id, run_input={"invoice_number": "TN-9", "decision": "accept", "date": "2026-02-30"})

    # A rule the schema cannot hold: the run suspends again, saying why in the rule's own sentence.
    run = answer("invoicing", case_id, run_id, {"invoice_number": "TN-9", "decision": "accept", "date": tomorrow})
    assert run.state.name == "Suspended"
    assert f"date: {tomorrow} is after today" in _description(run_id)
    run = answer("invoicing", case_id, run_id, {"invoice_number": "TN-99", "decision": "accept",
                                                "date": today.isoformat()})
    assert run.state.name == "Suspended" and "TN-99" in _description(run_id)
    assert _case(flows_database, case_id).status == "Factuur is openstaand"
    assert sync()["shown"] == 0  # the suspended run is the case's one live run

    assert "late" in run.tags and " days late · " in run.name
    run = answer("invoicing", case_id, run_id, {"invoice_number": "TN-9", "decision": "accept",
                                                "date": today.isoformat()})
    assert run.state.is_completed()
    # The answered run follows the case: no days late in its name, no `late` tag (issue 24).
    assert (run.name, sorted(run.tags)) == (f"case-{case_id} · answered", [f"case-{case_id}", "process:invoicing", "wait"])
    assert _case(flows_database, case_id).status == "Factuur is vrijgegeven"
    with flows_database.transaction() as session:
        assert session.scalar(select(JournalEntry.type).where(JournalEntry.type == "school_paid")) == "school_paid"
    result = sync()  # the case no longer waits: its run is done, none is shown
    assert result["closed"] == 1 and _case(flows_database, case_id).wait_run_id is None
    assert _run(run_id).state.is_completed()


def test_a_wait_run_that_failed_crashed_was_cancelled_deleted_or_nears_its_timeout_is_shown_again(
        flows_database, waits_deployed):
    today = today_in_amsterdam()
    ids = _held_start_letters(flows_database, today, *((f"p{n}", "2019-01-15") for n in range(5)))
    assert sync()["shown"] == 5
    runs = {ref: _case(flows_database, cid).wait_run_id for ref, cid in ids.items()}
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(runs["p0"], Failed(message="paused and never resumed"), force=True)
        client.set_flow_run_state(runs["p1"], Crashed(message="worker died"), force=True)
        client.set_flow_run_state(runs["p2"], Cancelled(), force=True)
        client.delete_flow_run(runs["p3"])
    # p4: its suspension ends within the renewal margin
    from flows.waiting import sync as windows

    result = windows.sync(today, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=360))
    assert result["shown"] == 5
    assert result["replaced"] == {"failed": 1, "crashed": 1, "cancelled": 1, "gone": 1, "timeout near": 1}
    for ref, case_id in ids.items():
        new = _case(flows_database, case_id).wait_run_id
        assert new != runs[ref] and _run(new).state.name == "Suspended", ref
    assert _run(runs["p4"]).state.name == "Cancelled"  # the old one of the renewed wait
    assert sync()["shown"] == 0


# ---- defect 4: one form per kind of wait --------------------------------------------------------------


def test_a_case_waiting_only_for_held_letters_offers_nothing_to_enter_and_a_pip_case_the_pip_form(
        flows_database, waits_deployed):
    today = today_in_amsterdam()
    ids = _held_start_letters(flows_database, today, ("wi2013", "2019-01-15"), ("wi2021", None))
    sync()
    held_only = _case(flows_database, ids["wi2013"])
    assert held_only.waiting_for == "letters on hold: start_letter"
    assert _form(held_only.wait_run_id)["title"] == "NothingToEnter"
    assert "release" in _description(held_only.wait_run_id)
    pip = _case(flows_database, ids["wi2021"])
    assert pip.waiting_for == "PIP from the municipality — on hold: start_letter"
    assert _form(pip.wait_run_id)["title"] == "PipInput"
    # Resuming a form with nothing to enter shows the case again, still suspended
    run = answer("intake", held_only.id, held_only.wait_run_id, {})
    assert run.state.name == "Suspended" and run.state.state_details.pause_key == "answer-2"  # a new form
    assert "letters on hold: start_letter" in _description(run.id)
    run = answer("intake", held_only.id, held_only.wait_run_id, {})
    assert run.state.name == "Suspended" and run.state.state_details.pause_key == "answer-3"


def _staff_review(cf, policy_key: str, process: str, events: list[tuple[dt.date, dict]]) -> Case:
    """One person's events under staff review (`policy_key` on), ingested today and synced: the
    `process` case, which waits for the staff decision and so has a wait run."""
    today = today_in_amsterdam()
    with cf.transaction() as session:
        session.query(PolicyValue).filter(PolicyValue.key == policy_key).update({"value": True})
        service.register_person(session, ref="p1", bsn=BSN, name="Tesfay Gebre")
        for day, event in events:
            service.receive(session, {**event, "person": "p1", "date": day.isoformat()}, source="test",
                            received_on=today)
    service.ingest(cf, today)
    assert sync()["shown"] >= 1
    with cf.transaction() as session:
        case = session.scalars(select(Case).where(Case.process == process)).one()
    assert case.late_since is None and case.wait_run_id is not None
    run = _run(case.wait_run_id)
    assert {"staff-decision", f"process:{process}"} <= set(run.tags) and "late" not in run.tags
    return case


def test_staff_decisions_have_a_run_with_the_decision_form(flows_database, waits_deployed):
    attempts = {p: {"integration": 4, "nt2": 0} for p in ("lezen", "luisteren", "schrijven", "spreken", "knm")}
    today = today_in_amsterdam()
    agi = _staff_review(flows_database, "agi_staff_review", "exemption", [(today, event) for event in (
        {"type": "residence_permit_granted", "obligation_start": "2019-01-15"},
        {"type": "bsn_registered"}, {"type": "municipality_registered", "municipality": "Enschede"},
        {"type": "agi_application_received", "route": "course", "hours": {"integration": 620},
         "school_listed_at_course_start": True, "attempts": attempts},
        {"type": "school_declaration_received"})])
    assert agi.status == "waiting_for_staff_decision"
    assert _form(agi.wait_run_id)["title"] == "AgiDecisionInput"
    run = answer("exemption", agi.id, agi.wait_run_id, {"decision": "granted", "date": today.isoformat(),
                                                        "reason": "file checked"})
    assert run.state.is_completed()
    with flows_database.transaction() as session:
        decision = session.scalars(select(JournalEntry).where(JournalEntry.type == "agi_decision")).one()
    assert decision.data["decision"] == "granted"


def test_an_extension_under_staff_review_is_decided_through_the_terms_form(flows_database, waits_deployed):
    """Issue 11: with extension_staff_review the request waits for staff; the term's run offers
    the decision form, and the decision given there is the letter the person gets."""
    today = today_in_amsterdam()
    start = today - dt.timedelta(days=975)  # a Wi2021 term (from the PIP) that has run 2.5 years
    term = _staff_review(flows_database, "extension_staff_review", "term", [
        (start, {"type": "residence_permit_granted", "obligation_start": start.isoformat()}),
        (start, {"type": "bsn_registered"}), (start, {"type": "municipality_registered", "municipality": "Enschede"}),
        (start, {"type": "pip_established", "route": "b1"}),
        (today, {"type": "extension_requested", "ground": "birth",
                 "evidence_date": (today - dt.timedelta(days=30)).isoformat()})])
    assert term.status == "extension_under_review"
    form = _form(term.wait_run_id)
    assert form["title"] == "ExtensionDecisionInput" and set(form["properties"]["decision"]["enum"]) == {
        "granted", "refused"}
    run = answer("term", term.id, term.wait_run_id, {"decision": "granted", "date": today.isoformat(),
                                                     "reason": "birth certificate checked"})
    assert run.state.is_completed()
    with flows_database.transaction() as session:
        decision = session.scalars(select(JournalEntry).where(JournalEntry.type == "extension_decision")).one()
        term = session.get(Case, term.id)
    assert decision.data["decision"] == "granted" and decision.on_date == today
    assert term.status != "extension_under_review"


def test_an_objection_waits_for_staff_in_a_run_whose_form_shows_the_decision_and_the_grounds(flows_database,
                                                                                             waits_deployed):
    """Issue 22: the objection is a wait run at once; its form shows the decision objected to and the
    grounds, and the answer given there is the objection_decision the person gets."""
    today = today_in_amsterdam()
    objection = _staff_review(flows_database, "extension_staff_review", "objection", [(today, event) for event in (
        {"type": "residence_permit_granted", "obligation_start": "2019-01-15"},
        {"type": "bsn_registered"}, {"type": "municipality_registered", "municipality": "Enschede"},
        {"type": "agi_application_received", "route": "course", "hours": {"integration": 620},
         "school_listed_at_course_start": False},
        {"type": "school_declaration_received"},
        {"type": "objection_received", "against": "agi_decision", "decision_date": today.isoformat(),
         "grounds": "my school had the quality mark"})])
    assert objection.status == "waiting_for_staff_decision"
    assert _form(objection.wait_run_id)["title"] == "ObjectionDecisionInput"
    description = _description(objection.wait_run_id)
    assert f"agi_decision of {today.isoformat()} (refused)" in description
    assert "my school had the quality mark" in description
    run = answer("objection", objection.id, objection.wait_run_id,
                 {"decision": "granted", "date": today.isoformat(), "reason": "the register was wrong"})
    assert run.state.is_completed()
    with flows_database.transaction() as session:
        letter = session.scalars(select(JournalEntry).where(JournalEntry.type == "objection_decision")).one()
    assert (letter.data["against"], letter.data["decision"]) == ("agi_decision", "granted")


def test_staff_open_a_case_that_is_not_late_and_it_gets_its_form(flows_database, waits_deployed):
    from flows.staff.flow import open_case

    today = today_in_amsterdam()
    ids = _held_start_letters(flows_database, today, ("p0", None))
    with flows_database.transaction() as session:
        service.register_person(session, ref="p9", bsn=_bsn(9), name="Karim Haddad")
        service.receive(session, {"type": "bsn_registered", "person": "p9", "date": today.isoformat()},
                        source="test", received_on=today)
    service.ingest(flows_database, today)
    with flows_database.transaction() as session:
        waiting = session.scalars(select(Case).where(Case.process == "intake", Case.id != ids["p0"])).one()
    assert waiting.late_since is None
    sync()
    assert _case(flows_database, waiting.id).wait_run_id is None  # not late: on the boards only
    opened = open_case(waiting.id)
    run = _run(opened["run"])
    assert "opened-by-staff" in run.tags and _form(run.id)["title"] == "IntakeInput"
    assert "staff opened it" in _description(run.id)
    state = open_case("case-10000", return_state=True)  # no such case: the run says so in its state message
    assert refused_with(state) == "refused: case: there is no case-10000"
    state = intake_wait(10_000, return_state=True)  # a wait flow run by hand for a case that is not there
    assert refused_with(state) == "refused: case: there is no case-10000"


def test_the_number_of_live_wait_runs_is_bounded_by_policy_longest_late_first(flows_database, waits_deployed):
    today = today_in_amsterdam()
    ids = _held_start_letters(flows_database, today, ("p0", "2019-01-15"), ("p1", "2019-01-15"))
    with flows_database.transaction() as session:
        session.execute(update(Case.__table__).where(Case.id == ids["p1"])
                        .values(late_since=today - dt.timedelta(days=30)))
        session.add(PolicyValue(key="wait_runs_max", valid_from=dt.date(2020, 1, 1), value=1))
    result = sync()
    assert (result["shown"], result["actionable"], result["bound"]) == (1, 2, 1)
    assert _case(flows_database, ids["p1"]).wait_run_id is not None
    assert _case(flows_database, ids["p0"]).wait_run_id is None


# ---- defect 3: alerts are Prefect events; the boards are refreshed by every ingest ---------------------


def test_alerts_are_prefect_events_an_automation_posts_and_every_ingest_refreshes_the_boards(
        flows_database, waits_deployed):
    from deployments.automations import ensure_alert_automation
    from flows.ingest.flow import ingest_events
    from flows.monitor.flow import deadline_monitor

    told, url = webhook()
    ensure_alert_automation(url, "t")
    assert "up to date" in ensure_alert_automation(url, "t")  # made once: a second set-up changes nothing
    today = today_in_amsterdam()
    day = today - dt.timedelta(days=57)
    _held_start_letter_from(flows_database, day, "gateway down")
    deadline_monitor(as_of=day, show_waits=False)
    result = deadline_monitor(show_waits=False, publish=False)
    assert [a["type"] for a in result["monitor"]["alerts"]] == ["start_letter_overdue"]
    case_id = int(result["monitor"]["alerts"][0]["case"].removeprefix("case-"))
    [event] = _events("inburgering.alert.start_letter_overdue", f"inburgering.case.{case_id}")
    assert event.payload["case"] == f"case-{case_id}" and event.payload["process"] == "intake"
    assert _wait_for(lambda: told), "the automation posted nothing"
    assert told[0]["body"]["channel"] == "process_owners"
    assert told[0]["body"]["subject"] == f"start_letter_overdue on case-{case_id} (intake)"
    assert told[0]["headers"]["Authorization"] == "Bearer t"

    ingest_events()  # no monitor since: the ingest alone refreshes the boards
    board = artifacts()["case-board"]
    assert "## Late now: 1 case(s)" in board
    assert f"case-{case_id}" in board and "/runs/flow-run/" in board  # a link to its wait run
    assert "| start_letter |" in board and "gateway down" in board  # the hold in force
    assert "runs?tag=late" in board

    # The case page (issue 24): found by the id as pasted, or by the sender's reference; never a BSN.
    from flows.staff.flow import find_case

    assert find_case(f"case-{case_id}")[0]["case"] == f"case-{case_id}"
    page = artifacts()[f"case-{case_id}"]
    assert f"# case-{case_id} · intake and start letter" in page and "start_letter_overdue" in page
    assert "days late** (since" in page and f"runs?tag=case-{case_id}" in page
    assert f"case-{case_id}" in [row["case"] for row in find_case("p1")]
    assert "no person has it as reference" in refused_with(find_case("p-nobody", return_state=True))
    contents = _prefect_contents() + json.dumps([event.model_dump(mode="json"), told], default=str)
    assert BSN not in contents and "Amina" not in contents


def test_an_alert_raised_before_the_server_was_there_is_told_once_when_it_is(flows_database, waits_deployed):
    """The demo's overdue start letter was raised while the example journeys loaded, before the
    server and the automation were up: the Event Feed and the webhook never had it (issue 24)."""
    from deployments.automations import ensure_alert_automation
    from flows.ingest.flow import ingest_events

    told, url = webhook()
    ensure_alert_automation(url, "t")
    since = dt.datetime.now(dt.timezone.utc)  # other tests' case files on this server have a case-1 too
    today = today_in_amsterdam()
    day = today - dt.timedelta(days=60)
    _held_start_letter_from(flows_database, day, "print house")  # as bin/up loads the examples: no Prefect
    service.ingest(flows_database, day)
    report = service.run_monitor(flows_database, today)
    [alert] = report.alerts
    ingest_events(show_waits=False)  # the next run that reaches the server (or dispatch-letters)
    def ours() -> list:
        return [e for e in _events("inburgering.alert.start_letter_overdue", f"inburgering.case.{alert['case'][5:]}")
                if e.occurred >= since]

    assert _wait_for(ours), "no event"
    [event] = ours()
    assert event.payload["raised_on"] == today.isoformat()
    assert _wait_for(lambda: told), "the automation posted nothing"
    assert told[0]["body"]["subject"] == f"start_letter_overdue on {alert['case']} (intake)"
    ingest_events(show_waits=False)
    assert len(ours()) == 1


# ---- defect 1 and 5: holds, typed staff flows, names --------------------------------------------------


def test_release_letters_sends_the_held_letters_the_same_day_and_a_typo_is_refused_before_a_run(
        flows_database, waits_deployed):
    from prefect.deployments import run_deployment

    from flows.staff.flow import hold_letters, release_letters

    today = today_in_amsterdam()
    ids = _held_start_letters(flows_database, today, ("p0", "2019-01-15"))
    release_letters.to_deployment(name="release-letters").apply()
    with pytest.raises(Exception, match="startletter"):
        run_deployment("release-letters/release-letters", parameters={"letter_type": "startletter"}, timeout=0)
    held = hold_letters(reason="print house moves", letter_type="diploma")
    assert {h["letter_type"] for h in held["active"]} == {"start_letter", "diploma"}
    released = release_letters(letter_type="start_letter")
    assert released["changed"][0]["letter_type"] == "start_letter" and released["letters_waiting"] == 1
    assert released["sent"] == {"letter/start_letter": 1}
    with flows_database.transaction() as session:
        sent = session.scalars(select(JournalEntry).where(JournalEntry.case_id == ids["p0"],
                                                          JournalEntry.type == "start_letter")).one()
    assert sent.on_date == today
    case = _case(flows_database, ids["p0"])
    assert case.waiting_for is None and case.late_since is None


def test_a_paper_event_is_typed_so_no_free_form_field_can_carry_a_bsn(flows_database):
    from prefect.deployments import run_deployment

    from flows.staff.flow import record_paper_event

    record_paper_event.to_deployment(name="record-paper-event").apply()
    with pytest.raises(Exception, match="bsn|additional"):
        run_deployment("record-paper-event/record-paper-event", timeout=0, parameters={
            "case_id": "case-1", "event": {"type": "bsn_registered", "date": "2026-01-05", "bsn": BSN}})
    with pytest.raises(Exception, match="municipality"):  # a BSN typed as a municipality: refused by the server
        run_deployment("record-paper-event/record-paper-event", timeout=0, parameters={
            "case_id": "case-1", "event": {"type": "municipality_registered", "date": "2026-01-05",
                                           "municipality": BSN}})
    state = record_paper_event("case-1", {"type": "bsn_registered", "date": "2026-01-05"}, return_state=True)
    assert refused_with(state) == "refused: case: there is no case-1"
    assert BSN not in _prefect_contents()


def test_the_demo_feed_pauses_its_schedule_when_its_feed_is_empty_and_runs_have_names(flows_database, monkeypatch):
    from prefect.deployments import run_deployment

    from flows.demo import flow as demo
    from flows.dispatch.flow import dispatch_letters

    monkeypatch.setattr(demo, "feed_remaining", lambda case_file: 0)
    monkeypatch.setattr(demo, "deliver", lambda count: 0)
    deployment_id = demo.demo_feed.to_deployment(name="demo-feed", interval=60).apply()
    run = run_deployment("demo-feed/demo-feed", timeout=0)
    state = run_flow(demo.demo_feed, flow_run=run, return_type="state")
    assert state.is_completed()
    with get_client(sync_client=True) as client:
        assert client.read_deployment(deployment_id).paused is True
        name = client.read_flow_run(run.id).name
    assert name.startswith(f"demo feed · {today_in_amsterdam()} ")
    with get_client(sync_client=True) as client:
        dispatched = client.read_flow_run(dispatch_letters(return_state=True).state_details.flow_run_id)
    assert dispatched.name.startswith(f"dispatch · {today_in_amsterdam()} ")
