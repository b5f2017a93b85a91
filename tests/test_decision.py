"""Every decision a beschikking (domain.md §8; domain/decision.py): the Awb's dates at their edges.

The AGI decision's term counts from receipt (Awb 4:13) and is suspended only for the law's
reasons (4:15: the completion request of 4:5, the applicant's own delay), postponed once with a
letter (4:14), shifted by the Algemene termijnenwet; a notice of default starts the penalty of 4:17.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from inburgering.domain import decision
from inburgering.domain.policy import load_default_policy
from tests.scenario_helpers import entries, make_scenario, replay
from tests.test_exemption import application, declaration, event, intake

STAFF = {"agi_staff_review": True}
D = dt.date.fromisoformat


def run(events, *, start="2021-08-02", until="2021-12-31", policy=None) -> dict:
    return replay(make_scenario(events, start=start, until=until, policy=policy))


def rejected(result: dict) -> dict[int, str]:
    return {r["event"]: r["reason"] for r in result["rejected"]}


# ---- the mechanism's plain rules ------------------------------------------------------------------------


POLICY = load_default_policy()


@pytest.mark.parametrize("days, amount", [(0, "0.00"), (1, "23.00"), (14, "322.00"), (15, "357.00"),
                                          (28, "812.00"), (29, "857.00"), (42, "1442.00")])
def test_penalty_bands_of_23_35_and_45_euro_a_day(days, amount):
    assert decision.penalty_amount(days, D("2022-01-01"), POLICY) == Decimal(amount)


@pytest.mark.parametrize("sent_on, days", [("2022-01-16", 0), ("2022-01-17", 1), ("2022-02-27", 42),
                                           ("2022-02-28", 42), ("2022-06-01", 42)])
def test_penalty_runs_from_the_15th_day_after_the_notice_to_the_day_before_the_decision(sent_on, days):
    # notice 2022-01-01: the first penalty day is 2022-01-16; a decision sent that day owes nothing
    assert decision.penalty_days(D("2022-01-01"), D(sent_on), POLICY) == days
    assert decision.penalty_full_on(D("2022-01-01"), POLICY) == D("2022-02-27")


def test_suspensions_count_each_day_once_and_the_atw_moves_the_end():
    life = decision.open_life("agi", "agi_decision", D("2021-09-01"), 8)
    assert life.due(D("2021-09-01")) == D("2021-10-27")
    life.suspend(decision.COMPLETION_REQUEST, D("2021-09-01"))
    life.suspend(decision.APPLICANT_DELAY, D("2021-09-01"))
    life.resume(decision.COMPLETION_REQUEST, D("2021-09-04"))  # 3 days, inside the invoice's 5
    life.resume(decision.APPLICANT_DELAY, D("2021-09-06"))
    assert life.suspended_days(D("2021-10-01")) == 5
    assert life.due(D("2021-10-01")) == D("2021-11-01")  # 2021-10-27 + 5 = Monday 1 November


def test_a_decision_term_ending_on_christmas_saturday_runs_to_the_next_working_day():
    # 2021-10-30 + 56 days = Saturday 25 December; Sunday is Boxing Day; Monday 27th is a working day
    assert decision.open_life("agi", "agi_decision", D("2021-10-30"), 8).due(D("2021-10-30")) == D("2021-12-27")


def test_objection_window_is_six_weeks_from_the_day_after_sending_and_ends_on_a_working_day():
    assert decision.objection_window_end(D("2021-10-05"), POLICY) == D("2021-11-16")
    # 2022-03-16 + 6 weeks = King's Day 2022-04-27 (a Wednesday): the window runs to the 28th
    assert decision.objection_window_end(D("2022-03-16"), POLICY) == D("2022-04-28")


# ---- the AGI: term from receipt, suspended for the law's reasons only ----------------------------------------


def alfa_application(on: str) -> dict:
    return application(on, route="alfa")


def test_agi_alfa_term_counts_from_receipt_and_a_late_test_slot_means_a_postponement_letter():
    # File complete and invoice paid on 1 September; DUO's test slot is in January. The term of
    # 8 weeks from receipt ends 27 October: a week before, DUO postpones by 8 weeks (22 December),
    # and the day after that the decision is late — not in March.
    events = intake() + [alfa_application("2021-09-01"), declaration("2021-09-01"),
                         event("2021-09-01", "alfa_test_invoice_paid"),
                         event("2022-01-10", "alfa_test_taken", active=True)]
    result = run(events, until="2022-01-31")
    assert result["rejected"] == []
    (postponed,) = entries(result, "letter", "decision_postponed")
    assert postponed["date"] == "2021-10-20"
    assert (postponed["data"]["case"], postponed["data"]["decide_by"]) == ("agi", "2021-12-22")
    (alert,) = entries(result, "alert", "decision_overdue")
    assert alert["date"] == "2021-12-23" and alert["data"]["decision_due"] == "2021-12-22"
    (decision_letter,) = entries(result, "letter", "agi_decision")
    assert decision_letter["date"] == "2022-01-10"


def test_an_unpaid_alfa_invoice_suspends_the_term_from_the_invoice_until_paid():
    # Invoice 1 September, paid 21 September: 20 days suspended, the term ends 16 November
    # (27 October + 20); the postponement letter comes 7 days before.
    events = intake() + [alfa_application("2021-09-01"), declaration("2021-09-01"),
                         event("2021-09-21", "alfa_test_invoice_paid")]
    result = run(events, until="2021-11-30")
    (postponed,) = entries(result, "letter", "decision_postponed")
    assert postponed["date"] == "2021-11-09"
    assert postponed["data"]["decide_by"] == "2022-01-11"  # 16 Nov + 8 weeks


def test_an_agi_without_the_school_declaration_gets_a_completion_request_at_once():
    events = intake() + [application("2021-09-01"), declaration("2021-09-29")]
    result = run(events, until="2021-10-31", policy=STAFF)
    (request,) = entries(result, "letter", "completion_request")
    assert request["date"] == "2021-09-01"
    assert request["data"]["case"] == "agi" and "Verklaring deelname cursus" in request["data"]["missing"]
    assert request["data"]["respond_by"] == "2021-09-29"  # + completion_days (28)
    assert result["rejected"] == [] and entries(result, "letter", "agi_decision") == []


def test_an_agi_not_completed_by_respond_by_is_not_considered():
    events = intake() + [application("2021-09-01"), declaration("2021-09-30")]
    result = run(events, until="2021-10-31")
    (letter,) = entries(result, "letter", "agi_decision")
    assert letter["date"] == "2021-09-30"
    assert (letter["data"]["decision"], letter["data"]["reasons"]) == ("not_considered", ["incomplete"])
    assert result["rejected"] == []  # the late declaration is recorded; the decision stands


def test_the_completion_request_suspends_the_staff_decision_term_and_the_atw_moves_its_end():
    # Received 2021-09-01, completed 2021-09-04: 3 days suspended; 27 Oct + 3 = Saturday 30 Oct -> Monday 1 Nov.
    events = intake() + [application("2021-09-01"), declaration("2021-09-04")]
    result = run(events, until="2021-11-30", policy=STAFF)
    (alert,) = entries(result, "alert", "decision_overdue")
    assert alert["date"] == "2021-11-02" and alert["data"]["decision_due"] == "2021-11-01"


def test_a_term_ending_on_kings_day_runs_to_the_next_working_day():
    # Received complete 2022-03-02: + 8 weeks = Wednesday 27 April 2022 (King's Day) -> 28 April.
    events = intake(on="2022-01-03") + [application("2022-03-02"), declaration("2022-03-02")]
    result = run(events, start="2022-01-03", until="2022-05-10", policy=STAFF)
    (alert,) = entries(result, "alert", "decision_overdue")
    assert alert["date"] == "2022-04-29" and alert["data"]["decision_due"] == "2022-04-28"


# ---- the penalty (Awb 4:17) -----------------------------------------------------------------------------


def notice(on: str, case: str = "agi") -> dict:
    return event(on, "notice_of_default_received", case=case)


def staff(on: str, decision_: str = "granted") -> dict:
    return event(on, "staff_decision", case="agi", decision=decision_)


def test_a_notice_of_default_before_the_term_ran_out_is_rejected():
    events = intake() + [application("2021-09-01"), declaration("2021-09-01"), notice("2021-10-27")]
    result = run(events, until="2021-10-31", policy=STAFF)
    reason = rejected(result)[5]
    assert "runs until 2021-10-27" in reason and "from 2021-10-28" in reason


@pytest.mark.parametrize("decided_on, days, amount", [("2021-11-12", None, None), ("2021-11-13", 1, "23.00"),
                                                      ("2021-11-27", 15, "357.00")])
def test_the_penalty_is_paid_with_the_decision(decided_on, days, amount):
    # Term ends 27 October; notice 28 October: the penalty runs from 12 November.
    events = intake() + [application("2021-09-01"), declaration("2021-09-01"), notice("2021-10-28"),
                         staff(decided_on)]
    result = run(events, until="2021-12-31", policy=STAFF)
    assert result["rejected"] == []
    paid = entries(result, "payment", "penalty_paid")
    if days is None:
        assert paid == []
    else:
        (payment,) = paid
        assert payment["date"] == decided_on
        assert payment["data"] == payment["data"] | {"case": "agi", "amount": amount, "days": days}


def test_the_penalty_is_paid_in_full_when_the_42_days_are_reached():
    events = intake() + [application("2021-09-01"), declaration("2021-09-01"), notice("2021-10-28"),
                         staff("2022-01-10")]
    result = run(events, until="2022-01-31", policy=STAFF)
    (payment,) = entries(result, "payment", "penalty_paid")
    assert (payment["date"], payment["data"]["amount"], payment["data"]["days"]) == ("2021-12-24", "1442.00", 42)
    assert entries(result, "letter", "agi_decision")[0]["date"] == "2022-01-10"


# ---- the exemptions of the forms: medical, integrated, vrijstelling -----------------------------------------


def wi2021_intake(on: str = "2023-01-02") -> list[dict]:
    return [{"date": on, "type": "residence_permit_granted", "person": "p1"},
            {"date": on, "type": "bsn_registered", "person": "p1"},
            {"date": on, "type": "municipality_registered", "person": "p1", "municipality": "Utrecht"}]


def exemption(on: str, ground: str, **extra) -> dict:
    return event(on, "exemption_application_received", ground=ground, **extra)


def test_a_medical_exemption_granted_on_the_advice_meets_the_obligation_for_a_wi2021_person(tmp_path):
    events = wi2021_intake() + [exemption("2023-02-01", "medical"),
                                event("2023-03-01", "medical_advice_received", exempt=True),
                                exemption("2023-03-02", "integrated")]
    result = run(events, start="2023-01-02", until="2023-04-30")
    (letter,) = entries(result, "letter", "exemption_decision")
    assert letter["date"] == "2023-03-01"
    assert (letter["data"]["decision"], letter["data"]["reasons"], letter["data"]["ground"]) == \
        ("granted", [], "medical")
    assert letter["data"]["objection_until"] == "2023-04-12"
    reason = rejected(result)[5]
    assert "met on 2023-03-01" in reason and "medical grounds" in reason


def test_a_medical_advice_not_exempt_refuses_and_the_advice_late_means_a_postponement():
    events = intake() + [exemption("2021-09-01", "medical"),
                         event("2021-11-30", "medical_advice_received", exempt=False)]
    result = run(events, until="2021-12-31")
    (postponed,) = entries(result, "letter", "decision_postponed")
    assert postponed["date"] == "2021-10-20"
    assert (postponed["data"]["case"], postponed["data"]["decide_by"]) == ("exemption", "2021-12-22")
    (letter,) = entries(result, "letter", "exemption_decision")
    assert (letter["date"], letter["data"]["decision"], letter["data"]["reasons"]) == \
        ("2021-11-30", "refused", ["not_exempt_medical"])
    assert entries(result, "alert", "decision_overdue") == []


@pytest.mark.parametrize("ground", ["integrated", "vrijstelling"])
def test_integrated_and_vrijstelling_wait_for_staff_and_are_overdue_after_eight_weeks(tmp_path, ground):
    url = f"sqlite:///{tmp_path / 'case.db'}"
    events = intake() + [exemption("2021-09-01", ground),
                         event("2021-09-05", "medical_advice_received", exempt=True),
                         event("2021-11-10", "staff_decision", case="exemption", decision="granted")]
    result = replay(make_scenario(events, start="2021-08-02", until="2021-11-30"), database_url=url)
    assert "staff decide it" in rejected(result)[4]
    (alert,) = entries(result, "alert", "decision_overdue")
    assert alert["date"] == "2021-10-28" and alert["data"]["case"] == "exemption"
    (letter,) = entries(result, "letter", "exemption_decision")
    assert (letter["date"], letter["data"]["decision"], letter["data"]["ground"]) == ("2021-11-10", "granted", ground)
    # the obligation is met: the integration term closes, no reminder or fine follows
    from sqlalchemy import select
    from inburgering.store.db import CaseFile
    from inburgering.store.models import Case
    case_file = CaseFile(url, create=False)
    with case_file.transaction() as session:
        journey = session.scalar(select(Case).where(Case.process == "journey"))
        assert journey.state["met_by"] == ground and journey.state["met_on"] == "2021-11-10"
    case_file.dispose()


def test_an_incomplete_exemption_application_is_asked_to_be_completed_and_else_not_considered():
    events = intake() + [exemption("2021-09-01", "vrijstelling", complete=False),
                         event("2021-09-10", "staff_decision", case="exemption", decision="granted")]
    result = run(events, until="2021-10-31")
    (request,) = entries(result, "letter", "completion_request")
    assert (request["date"], request["data"]["case"], request["data"]["respond_by"]) == \
        ("2021-09-01", "exemption", "2021-09-29")
    assert "not complete yet" in rejected(result)[4]
    (letter,) = entries(result, "letter", "exemption_decision")
    assert (letter["date"], letter["data"]["decision"]) == ("2021-09-30", "not_considered")


def test_an_exemption_needs_an_obligation():
    result = run([exemption("2021-09-01", "medical")], until="2021-09-02")
    assert "no civic-integration obligation" in rejected(result)[0]


# ---- objection (Awb 6:7, 7:10) ----------------------------------------------------------------------------


def objection(on: str, against: str, decision_date: str, grounds: str = "my school had the quality mark") -> dict:
    return event(on, "objection_received", against=against, decision_date=decision_date, grounds=grounds)


def refused_agi() -> list[dict]:
    # refused 2021-09-10 (school not listed); the objection window runs to 2021-10-22 (a Friday)
    return intake() + [application("2021-09-01", listed=False), declaration("2021-09-10")]


def test_an_objection_granted_by_staff_revises_the_agi_refusal_and_the_obligation_is_met(tmp_path):
    url = f"sqlite:///{tmp_path / 'case.db'}"
    events = refused_agi() + [objection("2021-10-22", "agi_decision", "2021-09-10"),
                              event("2021-11-20", "staff_decision", case="objection", decision="granted",
                                    reason="the register was wrong")]
    result = replay(make_scenario(events, start="2021-08-02", until="2021-12-31"), database_url=url)
    assert result["rejected"] == []
    (receipt,) = entries(result, "letter", "objection_receipt")
    # decided within 6 weeks after the window ended (22 Oct + 42 days = Friday 3 December)
    assert receipt["date"] == "2021-10-22"
    assert (receipt["data"]["against"], receipt["data"]["decide_by"]) == ("agi_decision", "2021-12-03")
    (letter,) = entries(result, "letter", "objection_decision")
    assert (letter["date"], letter["data"]["against"], letter["data"]["decision"]) == \
        ("2021-11-20", "agi_decision", "granted")
    from sqlalchemy import select
    from inburgering.store.db import CaseFile
    from inburgering.store.models import Case
    case_file = CaseFile(url, create=False)
    with case_file.transaction() as session:
        journey = session.scalar(select(Case).where(Case.process == "journey"))
        assert (journey.state["met_by"], journey.state["met_on"]) == ("agi_exemption", "2021-11-20")
    case_file.dispose()


def test_an_objection_after_six_weeks_is_not_considered_at_once_without_staff():
    events = refused_agi() + [objection("2021-10-23", "agi_decision", "2021-09-10")]
    result = run(events, until="2021-11-30")
    assert entries(result, "letter", "objection_receipt") == []
    (letter,) = entries(result, "letter", "objection_decision")
    assert (letter["date"], letter["data"]["decision"], letter["data"]["reasons"]) == \
        ("2021-10-23", "not_considered", ["late"])


def test_an_objection_upheld_changes_nothing_and_is_postponed_once_when_staff_are_slow():
    events = refused_agi() + [objection("2021-09-20", "agi_decision", "2021-09-10"),
                              event("2022-01-10", "staff_decision", case="objection", decision="refused")]
    result = run(events, until="2022-01-31")
    (postponed,) = entries(result, "letter", "decision_postponed")
    # the term ends 3 December: a week before, postponed by 6 weeks to 14 January 2022
    assert (postponed["date"], postponed["data"]["case"], postponed["data"]["decide_by"]) == \
        ("2021-11-26", "objection", "2022-01-14")
    (letter,) = entries(result, "letter", "objection_decision")
    assert (letter["date"], letter["data"]["decision"]) == ("2022-01-10", "upheld")
    assert entries(result, "alert", "decision_overdue") == []


def test_an_objection_to_a_decision_the_person_does_not_have_is_rejected_with_the_reason():
    events = refused_agi() + [objection("2021-09-20", "agi_decision", "2021-09-11"),
                              objection("2021-09-20", "exemption_decision", "2021-09-10"),
                              objection("2021-09-21", "agi_decision", "2021-09-10"),
                              objection("2021-09-22", "agi_decision", "2021-09-10")]
    result = run(events, until="2021-09-30")
    reasons = rejected(result)
    assert set(reasons) == {5, 6, 8}
    assert "no agi_decision letter dated 2021-09-11" in reasons[5] and "2021-09-10" in reasons[5]
    assert "no exemption_decision letter" in reasons[6]
    assert "already received on 2021-09-21" in reasons[8]


def test_an_objection_late_in_its_own_term_raises_the_alert_and_a_notice_starts_the_penalty():
    events = refused_agi() + [objection("2021-09-20", "agi_decision", "2021-09-10"),
                              notice("2022-01-14", "objection"),
                              notice("2022-01-15", "objection"),
                              event("2022-02-15", "staff_decision", case="objection", decision="refused")]
    result = run(events, until="2022-02-28")
    assert "runs until 2022-01-14" in rejected(result)[6]
    (alert,) = entries(result, "alert", "decision_overdue")
    assert alert["date"] == "2022-01-15" and alert["data"]["case"] == "objection"
    (payment,) = entries(result, "payment", "penalty_paid")
    # notice 15 January: the penalty runs from 30 January up to 14 February: 16 days
    assert payment["date"] == "2022-02-15"
    assert (payment["data"]["case"], payment["data"]["days"], payment["data"]["amount"]) == \
        ("objection", 16, str(Decimal(14 * 23 + 2 * 35)) + ".00")


def test_an_objection_granted_against_a_refused_exemption_meets_the_obligation():
    events = intake() + [exemption("2021-09-01", "integrated"),
                         event("2021-09-15", "staff_decision", case="exemption", decision="refused"),
                         objection("2021-10-01", "exemption_decision", "2021-09-15", "I have a B1 certificate"),
                         event("2021-10-20", "staff_decision", case="objection", decision="granted")]
    result = run(events, until="2021-11-30")
    assert result["rejected"] == []
    (letter,) = entries(result, "letter", "objection_decision")
    assert (letter["data"]["against"], letter["data"]["decision"]) == ("exemption_decision", "granted")
    # the obligation met: a new exemption application is refused, naming the ground
    result = run(events + [exemption("2021-11-01", "medical")], until="2021-11-30")
    assert "sufficiently integrated" in rejected(result)[7]


def test_an_objection_waits_for_staff_as_a_wait_run_whose_form_shows_the_decision_and_the_grounds(tmp_path):
    from flows.waiting import cases as waits
    from flows.waiting.forms import form_for, with_data
    from inburgering.store.db import CaseFile

    url = f"sqlite:///{tmp_path / 'case.db'}"
    events = refused_agi() + [objection("2021-09-20", "agi_decision", "2021-09-10", "the school | had the mark")]
    replay(make_scenario(events, start="2021-08-02", until="2021-09-30"), database_url=url)
    case_file = CaseFile(url, create=False)
    try:
        with case_file.transaction() as session:
            (case,) = [c for c in waits.actionable(session, 100) if c.process == "objection"]
            form = with_data(form_for(case), case, D("2021-09-30"))
    finally:
        case_file.dispose()
    assert form.__name__ == "ObjectionDecisionInput" and case.staff_decision
    assert "agi_decision of 2021-09-10 (refused)" in form._description
    assert "the school \\| had the mark" in form._description
    assert waits.deployment_name("objection") == "objection/objection"


def test_the_board_shows_late_decisions_penalties_running_and_objections_waiting(tmp_path):
    from inburgering.engine import board
    from inburgering.store.db import CaseFile, load_policy
    from tasks.report import _decisions_markdown

    url = f"sqlite:///{tmp_path / 'case.db'}"
    events = intake() + [application("2021-09-01", listed=False), declaration("2021-09-01"),
                         objection("2021-09-02", "agi_decision", "2021-09-01"),
                         notice("2022-01-15", "objection")]
    replay(make_scenario(events, start="2021-08-02", until="2022-02-03"), database_url=url)
    case_file = CaseFile(url, create=False)
    try:
        with case_file.reading() as session:
            seen = board.decisions(session, D("2022-02-03"), load_policy(session))
    finally:
        case_file.dispose()
    assert seen["late"] == {"objection": 1} and seen["objections_waiting"] == 1
    (penalty,) = seen["penalties"]
    # notice 15 January: penalty days from 30 January up to 2 February
    assert (penalty["decision"], penalty["days"], penalty["amount_so_far"]) == ("objection", 4, "92.00")
    markdown = _decisions_markdown(seen)
    assert "Penalties running (Awb 4:17): 1" in markdown and "Objections waiting for a staff decision: 1" in markdown


# ---- the inbound API: the new events from their own kinds of source ------------------------------------------


def test_the_new_events_come_through_the_inbound_api_from_their_own_kinds(tmp_path):
    import httpx

    from inburgering.api.sources import add_source
    from inburgering.engine import service
    from inburgering.store.db import CaseFile
    from tests.api_server import ThreadedApi

    url = f"sqlite:///{tmp_path / 'api.db'}"
    now = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
    case_file = CaseFile(url)
    with case_file.transaction() as session:
        tokens = {kind: add_source(session, kind, kind, now=now) for kind in ("portal", "medical", "payments")}
        service.register_person(session, ref="p1", bsn="123456782", name="Person p1", email="p1@example.org")
    sent = [("medical", {"type": "medical_advice_received", "exempt": True}, 202),
            ("portal", {"type": "medical_advice_received", "exempt": True}, 403),
            ("medical", {"type": "medical_advice_received"}, 422),
            ("payments", {"type": "fine_paid", "amount": "750.00"}, 202),
            ("portal", {"type": "exemption_application_received", "ground": "vrijstelling", "complete": False}, 202),
            ("portal", {"type": "application_completed", "case": "exemption"}, 202),
            ("portal", {"type": "objection_received", "against": "fine", "decision_date": "2024-01-10",
                        "grounds": "I followed 300 hours"}, 202),
            ("portal", {"type": "objection_received", "against": "loan", "decision_date": "2024-01-10",
                        "grounds": "x"}, 422),
            ("portal", {"type": "notice_of_default_received", "case": "objection"}, 202),
            ("portal", {"type": "notice_of_default_received", "case": "fine"}, 422)]
    answers = []
    with ThreadedApi(url) as server:
        for n, (source, body, _) in enumerate(sent):
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tokens[source]}"}) as client:
                answers.append(client.post("/v1/events", json={"id": f"e-{n}", "date": "2024-02-01", "person": "p1",
                                                               **body}))
    case_file.dispose()
    assert [a.status_code for a in answers] == [status for _, _, status in sent]
    assert "medical sources send them" in answers[1].text
    assert "123456782" not in "".join(a.text for a in answers)


# ---- the same through real Prefect flow runs -----------------------------------------------------------------


@pytest.mark.prefect
def test_prefect_gives_the_same_decisions(prefect_server):
    events = refused_agi() + [objection("2021-09-20", "agi_decision", "2021-09-10"),
                              notice("2022-01-15", "objection"),
                              event("2022-02-15", "staff_decision", case="objection", decision="granted"),
                              exemption("2022-02-16", "medical")]
    built = make_scenario(events, start="2021-08-02", until="2022-02-28")
    through_prefect = replay(built, engine="prefect")
    assert through_prefect == replay(built)
    assert [e["type"] for e in entries(through_prefect, "letter")
            if e["type"].startswith(("objection", "decision"))] == \
        ["objection_receipt", "decision_postponed", "objection_decision"]
    assert entries(through_prefect, "payment", "penalty_paid")[0]["data"]["days"] == 16
    assert "met on 2022-02-15" in rejected(through_prefect)[8]


# ---- the term's decisions: the extension and the fine -----------------------------------------------------


def term_intake() -> list[dict]:
    # Wi2013 from 2019-02-11: the term ends 2022-02-11; nothing done -> fine of 1,250.00 on 2022-03-01
    return [event("2019-02-11", "residence_permit_granted"), event("2019-02-11", "bsn_registered"),
            event("2019-02-11", "municipality_registered", municipality="Utrecht")]


def term_run(events, until, policy=None) -> dict:
    return run(events, start="2019-02-11", until=until, policy=policy)


def test_an_extension_decision_has_the_awb_life_overdue_default_and_penalty():
    events = term_intake() + [event("2021-09-01", "extension_requested", ground="birth", evidence_date="2021-06-01"),
                              notice("2021-10-27", "extension"), notice("2021-10-28", "extension"),
                              event("2021-11-13", "staff_decision", case="extension", decision="granted")]
    result = term_run(events, "2021-11-30", policy={"extension_staff_review": True})
    assert "runs until 2021-10-27" in rejected(result)[4]
    (alert,) = entries(result, "alert", "decision_overdue")
    assert alert["date"] == "2021-10-28" and alert["data"]["case"] == "extension"
    (payment,) = entries(result, "payment", "penalty_paid")
    assert (payment["date"], payment["data"]["case"], payment["data"]["days"], payment["data"]["amount"]) == \
        ("2021-11-13", "extension", 1, "23.00")
    (letter,) = entries(result, "letter", "extension_decision")
    assert letter["data"]["objection_until"] == "2021-12-27"  # 13 Nov + 6 weeks = Saturday 25 Dec -> Monday 27th


def test_a_notice_of_default_without_an_extension_waiting_is_rejected():
    result = term_run(term_intake() + [notice("2021-10-28", "extension")], "2021-10-31")
    assert "no extension request of this person waits" in rejected(result)[3]


def test_an_objection_granted_against_a_refused_extension_grants_it_and_the_term_follows():
    events = term_intake() + [event("2021-09-01", "extension_requested", ground="birth", evidence_date="2018-06-01"),
                              objection("2021-09-20", "extension_decision", "2021-09-01", "the child was born later"),
                              event("2021-10-15", "staff_decision", case="objection", decision="granted")]
    result = term_run(events, "2022-07-31")
    first, revised = entries(result, "letter", "extension_decision")
    assert (first["data"]["decision"], first["data"]["reasons"]) == ("refused", ["evidence_in_term"])
    assert (revised["date"], revised["data"]["decision"], revised["data"]["on_objection"]) == \
        ("2021-10-15", "granted", True)
    assert revised["data"]["term_end"] > "2022-02-11"
    (pre,) = entries(result, "letter", "term_pre_announcement")
    assert pre["data"]["term_end"] == revised["data"]["term_end"]  # the term and what follows moved


def test_a_fine_annulled_on_objection_is_refunded_and_its_cycle_no_longer_counts():
    events = term_intake() + [event("2022-03-10", "fine_paid", amount="1250.00"),
                              objection("2022-03-20", "fine", "2022-03-01", "I was ill"),
                              event("2022-04-01", "staff_decision", case="objection", decision="granted")]
    result = term_run(events, "2024-03-31", policy={"term_fine_cycles": 1})
    assert result["rejected"] == []
    (letter,) = entries(result, "letter", "objection_decision")
    assert (letter["date"], letter["data"]["against"], letter["data"]["decision"]) == ("2022-04-01", "fine", "granted")
    (refund,) = entries(result, "payment", "fine_refunded")
    assert (refund["date"], refund["data"]["amount"]) == ("2022-04-01", "1250.00")
    # the follow-up term it opened stays (to 2024-03-01); at its end the fine cycle runs again, as
    # the annulled fine counts as none (with term_fine_cycles 1, a counted fine would end it in an alert)
    assert [e["date"] for e in entries(result, "letter", "fine")] == ["2022-03-01", "2024-03-19"]
    assert entries(result, "alert", "term_passed_after_last_fine") == []


def test_a_fine_paid_after_it_was_annulled_is_refunded_at_once_and_without_a_fine_nothing_is_paid():
    events = term_intake() + [event("2021-03-10", "fine_paid", amount="100.00"),
                              objection("2022-03-20", "fine", "2022-03-01", "I was ill"),
                              event("2022-04-01", "staff_decision", case="objection", decision="granted"),
                              event("2022-04-10", "fine_paid", amount="1250.00")]
    result = term_run(events, "2022-04-30")
    assert "has no fine to pay" in rejected(result)[3]
    (refund,) = entries(result, "payment", "fine_refunded")
    assert (refund["date"], refund["data"]["amount"]) == ("2022-04-10", "1250.00")


def test_the_decisions_example_in_the_readme():
    from pathlib import Path

    result = replay(Path(__file__).resolve().parent.parent / "docs" / "scenarios" / "decisions.yaml")
    assert result["rejected"] == []
    (postponed,) = entries(result, "letter", "decision_postponed", "p1")
    assert (postponed["date"], postponed["data"]["decide_by"]) == ("2021-10-20", "2021-12-22")
    (alert,) = entries(result, "alert", "decision_overdue", "p1")
    assert alert["date"] == "2021-12-23"
    (penalty,) = entries(result, "payment", "penalty_paid", "p1")
    # notice 24 December: penalty days from 8 January up to 23 January
    assert (penalty["date"], penalty["data"]["days"], penalty["data"]["amount"]) == ("2022-01-24", 16, "392.00")
    assert entries(result, "letter", "agi_decision", "p1")[0]["data"]["decision"] == "granted"
    (receipt,) = entries(result, "letter", "objection_receipt", "p2")
    assert receipt["data"]["decide_by"] == "2022-05-24"  # window to 12 April, + 6 weeks
    (refund,) = entries(result, "payment", "fine_refunded", "p2")
    assert (refund["date"], refund["data"]["amount"]) == ("2022-04-01", "1250.00")
