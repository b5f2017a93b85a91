"""The AGI exemption process: scope, completeness, the alfa test, decision, hardship, advice."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from inburgering.domain.events import parse_event
from inburgering.domain.exemption import ExemptionProcess
from inburgering.store.db import CaseFile
from inburgering.store.models import Case, Letter
from inburgering.letters.stored import letter_text
from tests.scenario_helpers import entries, make_scenario, replay

FOUR_EACH = {part: {"integration": 4} for part in ("lezen", "luisteren", "schrijven", "spreken", "knm")}


def intake(obligation_start="2019-01-15", on="2021-08-02", **permit) -> list[dict]:
    return [
        {"date": on, "type": "residence_permit_granted", "person": "p1", "obligation_start": obligation_start,
         **permit},
        {"date": on, "type": "bsn_registered", "person": "p1"},
        {"date": on, "type": "municipality_registered", "person": "p1", "municipality": "Enschede"},
    ]


def application(on="2021-09-01", route="course", hours=None, listed=True, attempts=None, **extra) -> dict:
    if hours is None:
        hours = {"integration": 600} if route == "course" else {"integration": 280, "alfa": 320}
    return {"date": on, "type": "agi_application_received", "person": "p1", "route": route, "hours": hours,
            "school_listed_at_course_start": listed,
            "attempts": FOUR_EACH if attempts is None and route == "course" else (attempts or {}), **extra}


def event(on: str, type_: str, **fields) -> dict:
    return {"date": on, "type": type_, "person": "p1", **fields}


def declaration(on="2021-09-10") -> dict:
    return event(on, "school_declaration_received")


def agi_cases(url: str) -> list[Case]:
    case_file = CaseFile(url, create=False)
    try:
        with case_file.transaction() as session:
            return list(session.scalars(select(Case).where(Case.process == "exemption").order_by(Case.id)))
    finally:
        case_file.dispose()


def run(events, *, start="2021-08-02", until="2021-10-31", policy=None, holds=None, url=None) -> dict:
    return replay(make_scenario(events, start=start, until=until, policy=policy, holds=holds), database_url=url)


# ---- the shared scenario ----------------------------------------------------------------------------------


def test_agi_alfa_scenario_on_both_databases(scenarios_dir, database_url):
    result = replay(scenarios_dir / "agi_alfa.yaml", database_url=database_url)
    assert result["rejected"] == []
    (invoice,) = entries(result, "letter", "alfa_test_invoice", "p1")
    assert "2021-09-01" <= invoice["date"] <= "2021-09-10"
    assert invoice["data"]["amount"] == "150.00"
    (invitation,) = entries(result, "letter", "alfa_test_invitation", "p1")
    assert "2021-09-20" <= invitation["date"] < "2021-10-05"
    (decision,) = entries(result, "letter", "agi_decision", "p1")
    assert "2021-10-05" <= decision["date"] <= "2021-11-30"
    assert decision["data"]["decision"] == "granted"
    assert decision["data"]["reasons"] == []
    # The reminder went out because the invoice was still unpaid 14 days after it was sent.
    assert [r["date"] for r in entries(result, "letter", "alfa_test_invoice_reminder")] == ["2021-09-15"]
    (case,) = agi_cases(database_url)
    assert (case.status, case.closed_on) == ("granted", dt.date(2021, 10, 5))


# ---- scope: answered at once --------------------------------------------------------------------------------


def test_obligation_from_2022_is_referred_to_the_municipality():
    result = run(intake("2022-01-01", on="2024-08-01") + [application("2024-09-02")],
                 start="2024-08-01", until="2024-09-03")
    (rejected,) = result["rejected"]
    assert rejected["event"] == 3
    assert "2022-01-01" in rejected["reason"] and "municipality of Enschede" in rejected["reason"]
    assert entries(result, "letter", "alfa_test_invoice") == [] and entries(result, "letter", "agi_decision") == []


@pytest.mark.parametrize("applied_on, accepted", [("2021-12-14", False), ("2021-12-15", True)])
def test_term_must_have_run_two_and_a_half_years(applied_on, accepted):
    events = intake("2019-06-15") + [application(applied_on), declaration(applied_on)]
    result = run(events, until="2021-12-15")
    if accepted:
        assert result["rejected"] == []
        assert entries(result, "letter", "agi_decision")[0]["data"]["decision"] == "granted"
    else:
        assert [r["event"] for r in result["rejected"]] == [3, 4]
        assert "can be asked from 2021-12-15" in result["rejected"][0]["reason"]
        assert "no open AGI case" in result["rejected"][1]["reason"]


def test_without_an_intake_case_there_is_no_obligation_to_exempt_from():
    result = run([application("2021-09-01")], start="2021-09-01", until="2021-09-02")
    (rejected,) = result["rejected"]
    assert "no civic-integration obligation on file" in rejected["reason"]
    assert "advice: true" in rejected["reason"]


def test_voluntary_integration_cannot_be_exempted():
    result = run(intake(voluntary=True) + [application()], until="2021-09-02")
    assert "voluntarily" in result["rejected"][0]["reason"]


# ---- completeness and the course route ------------------------------------------------------------------------


def test_course_route_is_decided_the_day_the_school_declaration_arrives(tmp_path):
    url = f"sqlite:///{tmp_path / 'case.db'}"
    result = run(intake() + [application("2021-09-01")], until="2021-09-20", url=url)
    assert entries(result, "letter", "agi_decision") == []
    (case,) = agi_cases(url)
    assert case.status == "waiting_for_school_declaration"
    assert "Verklaring deelname cursus" in case.waiting_for and case.waiting_since == dt.date(2021, 9, 1)

    result = run(intake() + [application("2021-09-01"), declaration("2021-09-27")], until="2021-10-31")
    (decision,) = entries(result, "letter", "agi_decision")
    assert decision["date"] == "2021-09-27"
    assert decision["data"]["decision"] == "granted" and decision["data"]["route"] == "course"
    assert entries(result, "letter", "alfa_test_invoice") == []


def test_refusal_names_every_failed_rule_in_dutch_and_english(tmp_path):
    url = f"sqlite:///{tmp_path / 'case.db'}"
    attempts = {**FOUR_EACH, "lezen": {"integration": 1, "nt2": 3}}
    events = intake() + [application(hours={"integration": 150, "alfa": 300}, listed=False, attempts=attempts),
                         declaration()]
    result = run(events, url=url)
    (decision,) = entries(result, "letter", "agi_decision")
    assert decision["data"]["decision"] == "refused"
    assert decision["data"]["reasons"] == ["course_hours", "school_listed", "exam_attempts"]
    assert decision["data"]["counted_hours"] == 150  # alfa hours do not count below 200 integration hours
    assert decision["data"]["hardship"] is False
    (case,) = agi_cases(url)
    assert case.status == "refused" and case.state.get("referral") is None
    body = _letter_body(url, "agi_decision")
    for text in ("Wij tellen bij u 150 uur", "We count 150 hours", "geen keurmerk", "did not hold the quality mark",
                 "Lezen (3)", "Reading (3)", "verlenging", "bezwaar"):
        assert text in body
    assert "Minister" not in body


def test_hardship_refusal_points_to_the_minister_and_records_the_referral(database_url):
    events = intake() + [application(hours={"integration": 600}, listed=False), declaration()]
    result = run(events, url=database_url)
    (decision,) = entries(result, "letter", "agi_decision")
    assert decision["data"]["decision"] == "refused" and decision["data"]["reasons"] == ["school_listed"]
    assert decision["data"]["hardship"] is True
    (case,) = agi_cases(database_url)
    assert case.status == "referred_to_minister_szw"
    assert case.state["referral"] == "minister_szw" and case.closed_on == dt.date(2021, 9, 10)
    body = _letter_body(database_url, "agi_decision")
    assert "Minister van Sociale Zaken en Werkgelegenheid (SZW)" in body
    assert "Minister of Social Affairs and Employment (SZW)" in body


def test_events_are_refused_that_fit_no_case_or_come_twice():
    events = intake() + [
        declaration("2021-08-20"),                                   # 3: no AGI case yet
        application("2021-09-01"),
        application("2021-09-02"),                                   # 5: a second application
        declaration("2021-09-03"),
        event("2021-09-04", "school_declaration_received"),        # 7: the case is decided and closed
        event("2021-09-05", "alfa_test_invoice_paid"),             # 8: closed as well
    ]
    result = run(events, until="2021-09-10")
    reasons = {r["event"]: r["reason"] for r in result["rejected"]}
    assert set(reasons) == {3, 5, 7, 8}
    assert "an AGI application must come first" in reasons[3]
    assert "received on 2021-09-01 is still being handled" in reasons[5]
    assert "decided takes no more events" in reasons[7]


def test_a_new_application_after_a_decision_opens_a_new_case(tmp_path):
    url = f"sqlite:///{tmp_path / 'case.db'}"
    events = intake() + [application("2021-09-01", listed=False, hours={"integration": 500}), declaration("2021-09-02"),
                         application("2021-10-01"), declaration("2021-10-02")]
    result = run(events, url=url)
    assert [d["data"]["decision"] for d in entries(result, "letter", "agi_decision")] == ["refused", "granted"]
    assert [(c.key, c.status) for c in agi_cases(url)] == [("agi-1", "refused"), ("agi-2", "granted")]


# ---- the alfa test --------------------------------------------------------------------------------------------------


def test_alfa_test_cannot_be_taken_before_the_invoice_is_paid():
    events = intake() + [application(route="alfa"), declaration(),
                         event("2021-09-12", "alfa_test_taken", active=True),
                         event("2021-09-14", "alfa_test_invoice_paid")]
    result = run(events, until="2021-09-30")
    (rejected,) = result["rejected"]
    assert rejected["event"] == 5 and "after the test invoice is paid" in rejected["reason"]
    assert [e["date"] for e in entries(result, "letter", "alfa_test_invitation")] == ["2021-09-14"]
    assert entries(result, "letter", "agi_decision") == []


def test_passive_participation_in_the_alfa_test_means_no_exemption():
    events = intake() + [application(route="alfa"), declaration(), event("2021-09-05", "alfa_test_invoice_paid"),
                         event("2021-10-05", "alfa_test_taken", active=False)]
    result = run(events)
    (decision,) = entries(result, "letter", "agi_decision")
    assert decision["date"] == "2021-10-05"
    assert (decision["data"]["decision"], decision["data"]["reasons"]) == ("refused", ["alfa_test_active"])
    assert decision["data"]["hardship"] is True  # 600 hours, only the test failed


def test_no_reminder_when_paid_in_time_and_the_reminder_interval_is_policy():
    paid_in_time = intake() + [application(route="alfa"), event("2021-09-14", "alfa_test_invoice_paid")]
    assert entries(run(paid_in_time, until="2021-09-30"), "letter", "alfa_test_invoice_reminder") == []
    unpaid = intake() + [application(route="alfa")]
    result = run(unpaid, until="2021-10-31", policy={"alfa_test_invoice_reminder_after_days": 21})
    assert [r["date"] for r in entries(result, "letter", "alfa_test_invoice_reminder")] == ["2021-09-22"]
    assert entries(result, "letter", "alfa_test_invitation") == []


def test_alfa_test_fee_follows_policy():
    result = run(intake() + [application(route="alfa")], until="2021-09-02", policy={"alfa_test_fee": "175.00"})
    assert entries(result, "letter", "alfa_test_invoice")[0]["data"]["amount"] == "175.00"


def test_course_route_has_no_alfa_test():
    result = run(intake() + [application(), event("2021-09-03", "alfa_test_invoice_paid")], until="2021-09-05")
    assert "course route" in result["rejected"][0]["reason"]


# ---- staff review and the 8-week term ----------------------------------------------------------------------------------

STAFF = {"agi_staff_review": True}


def staff(on: str, decision: str, reason: str | None = None) -> dict:
    return event(on, "staff_decision", case="agi", decision=decision, **({"reason": reason} if reason else {}))


def test_staff_review_term_runs_from_receipt_suspended_while_completing_and_ends_on_a_working_day(tmp_path):
    # Received 2022-02-20 (Sunday), completed 2022-03-02: 10 days suspended (Awb 4:15); 2022-04-17 + 10 =
    # King's Day 2022-04-27, so the term ends 2022-04-28 (Atw).
    url = f"sqlite:///{tmp_path / 'case.db'}"
    events = intake(on="2022-01-03") + [application("2022-02-20"), declaration("2022-03-02")]
    result = run(events, start="2022-01-03", until="2022-05-10", policy=STAFF, url=url)
    assert entries(result, "letter", "agi_decision") == []
    (alert,) = entries(result, "alert", "decision_overdue")
    assert alert["date"] == "2022-04-29"
    assert alert["data"]["decision_due"] == "2022-04-28" and alert["data"]["waiting_for"] == "staff decision"
    (case,) = agi_cases(url)
    assert case.status == "waiting_for_staff_decision" and case.closed_on is None
    assert case.waiting_since == dt.date(2022, 3, 2) and case.late_since == dt.date(2022, 4, 29)


def test_staff_decision_on_the_last_day_raises_no_alert():
    events = intake() + [application(), declaration("2021-09-10"), staff("2021-11-05", "granted")]
    result = run(events, until="2021-11-30", policy=STAFF)
    (decision,) = entries(result, "letter", "agi_decision")
    assert decision["date"] == "2021-11-05"
    assert (decision["data"]["decision"], decision["data"]["decided_by"]) == ("granted", "staff")
    assert entries(result, "alert") == []


def test_staff_decision_is_refused_before_the_file_is_complete_or_against_the_rules_without_reason():
    events = intake() + [application(listed=False),
                         staff("2021-09-05", "refused"),                    # 4: declaration still missing
                         declaration("2021-09-10"),
                         staff("2021-09-11", "granted"),                    # 6: departs from the rules, no reason
                         staff("2021-09-12", "granted", "school had the mark; the register was wrong")]
    result = run(events, until="2021-09-30", policy=STAFF)
    reasons = {r["event"]: r["reason"] for r in result["rejected"]}
    assert set(reasons) == {4, 6}
    assert "not complete yet" in reasons[4] and "Verklaring deelname cursus" in reasons[4]
    assert "needs a reason" in reasons[6] and "school_listed" in reasons[6]
    (decision,) = entries(result, "letter", "agi_decision")
    assert (decision["date"], decision["data"]["decision"], decision["data"]["reasons"]) == ("2021-09-12", "granted", [])
    assert decision["data"]["staff_reason"] == "school had the mark; the register was wrong"


def test_staff_refusal_when_every_rule_is_met_names_the_staff_assessment():
    events = intake() + [application(), declaration(), staff("2021-09-20", "refused", "declaration is forged")]
    result = run(events, until="2021-09-30", policy=STAFF)
    (decision,) = entries(result, "letter", "agi_decision")
    assert (decision["data"]["decision"], decision["data"]["reasons"]) == ("refused", ["staff_assessment"])


def test_without_staff_review_a_staff_decision_is_not_awaited():
    events = intake() + [application(), staff("2021-09-05", "granted", "ok")]
    result = run(events, until="2021-09-06")
    assert "decided by the rules" in result["rejected"][0]["reason"]


def test_only_staff_decisions_for_the_agi_case_belong_to_this_process():
    process = ExemptionProcess()
    assert process.handles(parse_event(staff("2021-09-05", "granted") | {"case": "agi"}))
    assert not process.handles(parse_event(staff("2021-09-05", "granted") | {"case": "extension"}))


def test_a_held_decision_letter_goes_out_on_release_and_is_overdue_past_the_term():
    events = intake() + [application(), declaration("2021-09-10")]
    holds = [{"letters": "agi_decision", "from": "2021-09-01", "until": "2021-11-10"}]
    result = run(events, until="2021-11-30", holds=holds)
    (alert,) = entries(result, "alert", "decision_overdue")
    assert alert["date"] == "2021-11-06"  # 2021-09-10 + 56 days = Friday 2021-11-05
    assert alert["data"]["waiting_for"] == "agi_decision (letters on hold)"
    (decision,) = entries(result, "letter", "agi_decision")
    assert decision["date"] == "2021-11-11" and decision["data"]["decision"] == "granted"


# ---- the naturalisation advice ----------------------------------------------------------------------------------------


def test_naturalisation_advice_needs_no_obligation_and_gives_an_advice_letter(tmp_path):
    url = f"sqlite:///{tmp_path / 'case.db'}"
    result = run([application("2021-09-01", advice=True), declaration("2021-09-10")], start="2021-09-01",
                 until="2021-09-30", url=url)
    assert result["rejected"] == [] and entries(result, "letter", "agi_decision") == []
    (advice,) = entries(result, "letter", "agi_advice")
    assert (advice["data"]["advice"], advice["data"]["reasons"]) == ("positive", [])
    (case,) = agi_cases(url)
    assert (case.key, case.status) == ("advice-1", "advice_positive")
    assert "IND" in _letter_body(url, "agi_advice")


def test_naturalisation_advice_on_the_alfa_route_needs_600_alfa_hours_and_has_no_hardship_referral(tmp_path):
    url = f"sqlite:///{tmp_path / 'case.db'}"
    events = [application("2021-09-01", route="alfa", advice=True), declaration("2021-09-10")]
    result = run(events, start="2021-09-01", until="2021-09-30", url=url)
    # too few alfa hours is known on the first day: the advice comes at once, without the €150 test
    assert [(e["date"], e["type"]) for e in entries(result, "letter")] == [("2021-09-01", "agi_advice")]
    (advice,) = entries(result, "letter", "agi_advice")
    assert (advice["data"]["advice"], advice["data"]["reasons"]) == ("negative", ["alfa_course_hours"])
    assert advice["data"]["requirements"]["min_alfa_hours"] == 600
    (case,) = agi_cases(url)
    assert case.status == "advice_negative" and case.state.get("referral") is None


# ---- helpers ----------------------------------------------------------------------------------------------------------------


def _letter_body(url: str, letter_type: str) -> str:
    case_file = CaseFile(url, create=False)
    try:
        with case_file.transaction() as session:
            letter = session.scalars(select(Letter).where(Letter.type == letter_type)).one()
            return " ".join(letter_text(session, letter).body.split())  # the wording, not the line breaks
    finally:
        case_file.dispose()
