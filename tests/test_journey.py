"""One journey, not islands (issue 17): the obligation has one owner, the journey, and every
process reads it. Each test replays what a new user tried with scenario files and shows the
corrected behaviour, on SQLite and PostgreSQL; three of them also through Prefect."""

from __future__ import annotations

import pytest

from inburgering.scenario.loader import parse_scenario
from tests.scenario_helpers import entries, make_scenario, replay

ALL_PARTS = ("lezen", "luisteren", "schrijven", "spreken", "knm", "ona")
PERSON = {"bsn": "123456782", "name": "Amina Yusuf", "email": "amina@example.org", "born": "1985-05-01"}


def ev(date: str, type_: str, **fields) -> dict:
    return {"date": date, "type": type_, "person": "p1", **fields}


def intake(day: str, obligation_start: str | None = None) -> list[dict]:
    permit = {"obligation_start": obligation_start} if obligation_start else {}
    return [ev(day, "residence_permit_granted", **permit), ev(day, "bsn_registered"),
            ev(day, "municipality_registered", municipality="Utrecht")]


def diploma_by(register_on: str, exam_on: str, passed_on: str) -> list[dict]:
    return ([ev(register_on, "exam_registered", part=p, channel="online", exam_date=exam_on, location="Utrecht")
             for p in ALL_PARTS] + [ev(passed_on, "exam_result", part=p, passed=True) for p in ALL_PARTS])


def invoice(day: str, number: str, period_from: str, period_to: str, fee: str = "800.00") -> dict:
    return ev(day, "invoice_submitted", school="Taalhuis Noord", invoice_number=number, contract_number="C-1",
              course_type="Inburgering", description="lessen", invoice_date=day, period_from=period_from,
              period_to=period_to, courses=10, course_fee=fee, materials_fee="0.00", exam_fee="0.00")


def agi(day: str, route: str = "course", **fields) -> dict:
    defaults = {"hours": {"integration": 620}, "school_listed_at_course_start": True,
                "attempts": {p: {"integration": 4} for p in ALL_PARTS[:5]}}
    return ev(day, "agi_application_received", route=route, **{**defaults, **fields})


def run(events: list[dict], start: str, until: str, *, url: str | None = None, engine: str = "embedded",
        person: dict | None = None, policy: dict | None = None) -> dict:
    scenario = make_scenario(events, start=start, until=until, people={"p1": person or PERSON}, policy=policy)
    return replay(scenario, database_url=url, engine=engine)


def reasons(result: dict) -> dict[int, str]:
    return {r["event"]: r["reason"] for r in result["rejected"]}


# ---- a diploma in 2018, then an AGI application and an invoice -----------------------------------------


def diploma_then_agi_and_late_lessons() -> tuple[list[dict], str, str]:
    events = intake("2016-01-11") + [ev("2016-02-01", "loan_granted", amount="10000.00")]
    events += diploma_by("2018-03-05", "2018-05-02", "2018-05-07")  # obligation from 2016: no PVT needed
    events += [agi("2020-03-02"),
               invoice("2019-01-10", "F-late", "2018-12-01", "2018-12-31"),  # lessons 8 months after the diploma
               invoice("2018-08-01", "F-before", "2018-04-01", "2018-04-30")]  # before it, within 4 months
    return events, "2016-01-11", "2020-03-10"


def test_after_a_diploma_no_agi_exemption_and_no_invoice_for_later_lessons(database_url):
    events, start, until = diploma_then_agi_and_late_lessons()
    result = run(events, start, until, url=database_url)
    (diploma,) = entries(result, "letter", "diploma")
    assert diploma["date"] == "2018-05-07" and diploma["data"]["obligation_met_on"] == "2018-05-07"
    refused = reasons(result)
    met = "the integration obligation was met on 2018-05-07 (with the diploma)"
    assert refused[len(events) - 3] == f"{met}: an AGI exemption is no longer possible"
    assert f"the lessons run until 2018-12-31, after {met}" in refused[len(events) - 2]
    assert len(events) - 1 not in refused  # lessons before the diploma, sent within four months
    assert entries(result, "letter", "agi_decision") == []
    assert [e["data"]["invoice_number"] for e in entries(result, "email", "invoice_waiting")] == ["F-before"]
    (notice,) = entries(result, "letter", "repayment_notice")
    assert (notice["date"], notice["data"]["repayment_from"]) == ("2018-05-07", "2018-11-07")


def test_an_invoice_for_lessons_before_the_diploma_sent_after_four_months_is_refused():
    events, start, _ = diploma_then_agi_and_late_lessons()
    events = events[:-3] + [invoice("2018-09-10", "F-slow", "2018-04-01", "2018-04-30")]
    result = run(events, start, "2018-09-30")
    assert "must reach DUO within 4 months, by 2018-09-07; this one came on 2018-09-10" in reasons(result)[
        len(events) - 1]


# ---- after an AGI exemption: no exams, no invoices for later lessons --------------------------------------


def exemption_then_exam_and_invoice() -> tuple[list[dict], str, str]:
    events = intake("2021-08-02", obligation_start="2019-01-15") + [
        ev("2021-08-03", "loan_granted", amount="10000.00"),
        agi("2021-09-01"), ev("2021-09-10", "school_declaration_received"),
        ev("2021-10-01", "exam_registered", part="knm", channel="online", exam_date="2021-12-01", location="Utrecht"),
        invoice("2021-11-01", "F-after", "2021-10-01", "2021-10-31")]
    return events, "2021-08-02", "2021-11-30"


def test_after_an_agi_exemption_no_exam_registration_and_no_invoice_for_later_lessons(database_url):
    events, start, until = exemption_then_exam_and_invoice()
    result = run(events, start, until, url=database_url)
    (decision,) = entries(result, "letter", "agi_decision")
    assert decision["date"] == "2021-09-10" and decision["data"]["decision"] == "granted"
    met = "the integration obligation was met on 2021-09-10 (by the AGI exemption)"
    refused = reasons(result)
    assert refused[len(events) - 2] == f"{met}: an exam registration is no longer possible"
    assert refused[len(events) - 1].startswith(f"invoice F-after from Taalhuis Noord is not taken: the lessons run "
                                               f"until 2021-10-31, after {met}")
    assert entries(result, "letter", "exam_invitation") == [] and entries(result, "payment") == []
    (notice,) = entries(result, "letter", "repayment_notice")
    assert notice["data"]["met_by"] == "agi_exemption" and notice["data"]["repayment_from"] == "2022-03-10"


# ---- who is obligated -------------------------------------------------------------------------------------------


def minor_and_pensioner():
    minor = {"bsn": "111222333", "name": "Sara Haile", "born": "2010-06-15"}
    pensioner = {"bsn": "123456782", "name": "Omar Saleh", "born": "1953-02-01"}
    doc = {"scenario": "age", "from": "2027-09-01", "until": "2028-07-31",
           "people": {"minor": minor, "old": pensioner},
           "events": [{**e, "person": who} for who in ("minor", "old") for e in intake("2027-09-01")]}
    return parse_scenario(doc)


def test_a_minor_gets_the_start_letter_on_the_18th_birthday_and_a_pensioner_none(database_url):
    result = replay(minor_and_pensioner(), database_url=database_url)
    (start,) = entries(result, "letter", "start_letter", person="minor")
    assert start["date"] == "2028-06-15"  # the 18th birthday, a Thursday
    assert start["data"]["start_date"] == "2028-06-15" and start["data"]["regime"] == "wi2021"
    assert entries(result, "letter", "start_letter", person="old") == []
    (told,) = entries(result, "letter", "not_obligated", person="old")
    assert told["date"] == "2027-09-01" and told["data"]["reason"] == "state_pension_age"
    assert result["rejected"] == []


def test_a_pensioner_has_no_obligation_to_be_exempted_from():
    pensioner = {"bsn": "123456782", "name": "Omar Saleh", "born": "1949-02-01"}
    events = intake("2019-03-01", obligation_start="2015-01-15") + [agi("2019-03-04")]
    result = run(events, "2019-03-01", "2019-03-31", person=pensioner)
    assert "no civic-integration obligation (state-pension age)" in reasons(result)[3]


# ---- the AGI: the €150 test only when it can change the outcome -------------------------------------------------


def alfa_failing_on_day_one() -> list[dict]:
    return intake("2021-08-02", obligation_start="2019-01-15") + [
        agi("2021-09-01", route="alfa", hours={"integration": 150, "alfa": 100}, school_listed_at_course_start=False,
            attempts={})]


def test_an_alfa_application_failing_rules_known_on_day_one_is_refused_without_the_test(database_url):
    result = run(alfa_failing_on_day_one(), "2021-08-02", "2021-10-31", url=database_url)
    assert [(e["date"], e["type"]) for e in entries(result, "letter") if e["type"] != "start_letter"] == [
        ("2021-09-01", "agi_decision")]
    (decision,) = entries(result, "letter", "agi_decision")
    assert decision["data"]["decision"] == "refused"
    assert decision["data"]["reasons"] == ["alfa_route_hours", "alfa_course_hours", "school_listed"]


def test_attempts_are_demanded_only_for_parts_not_passed(database_url):
    # lezen passed at the first try: it needs no four attempts
    events = intake("2021-08-02", obligation_start="2019-01-15") + [
        ev("2021-08-09", "exam_registered", part="lezen", channel="online", exam_date="2021-08-20", location="Ede"),
        ev("2021-08-20", "exam_result", part="lezen", passed=True),
        agi("2021-09-01", attempts={p: {"integration": 4} for p in ("luisteren", "schrijven", "spreken", "knm")}),
        ev("2021-09-10", "school_declaration_received")]
    result = run(events, "2021-08-02", "2021-09-30", url=database_url)
    (decision,) = entries(result, "letter", "agi_decision")
    assert (decision["data"]["decision"], decision["data"]["reasons"]) == ("granted", [])


# ---- the journey ends ------------------------------------------------------------------------------------------


def test_a_journey_that_ends_closes_every_case_and_nothing_more_is_sent(database_url):
    events = intake("2022-05-02", obligation_start="2021-06-01") + [
        ev("2022-05-03", "loan_granted", amount="10000.00"),
        invoice("2022-06-01", "F-1", "2022-05-01", "2022-05-31"),  # waits: reminders every 14 days
        ev("2022-06-02", "exam_registered", part="knm", channel="online", exam_date="2022-08-01", location="Ede"),
        ev("2022-06-20", "journey_ended", reason="emigrated"),
        ev("2022-06-21", "invoice_accepted", invoice_number="F-1")]
    result = run(events, "2022-05-02", "2022-08-31", url=database_url)
    assert [e["date"] for e in result["timeline"] if e["date"] > "2022-06-20"] == []  # no reminder, no invitation
    assert reasons(result)[len(events) - 1] == ("the integration journey ended on 2022-06-20 (emigrated): no further "
                                                "events are taken for this person")
    from inburgering.store.db import CaseFile
    from inburgering.store.models import Case, Deadline
    from sqlalchemy import select

    case_file = CaseFile(database_url, create=False)
    try:
        with case_file.reading() as session:
            cases = session.execute(select(Case.process, Case.status, Case.closed_on)).all()
            open_deadlines = session.scalars(select(Deadline.kind).where(Deadline.state == "open")).all()
    finally:
        case_file.dispose()
    assert {(p, s, str(c)) for p, s, c in cases} >= {("intake", "journey_ended", "2022-06-20"),
                                                     ("exams", "journey_ended", "2022-06-20"),
                                                     ("journey", "ended: emigrated", "2022-06-20")}
    assert all(closed is not None for _, _, closed in cases)
    assert open_deadlines == []


def test_a_journey_ends_once():
    events = intake("2022-05-02") + [ev("2022-06-20", "journey_ended", reason="died"),
                                     ev("2022-06-21", "journey_ended", reason="emigrated")]
    result = run(events, "2022-05-02", "2022-06-30")
    assert "ended on 2022-06-20 (died)" in reasons(result)[4]


# ---- the same through real Prefect flow runs -----------------------------------------------------------------


@pytest.mark.prefect
def test_prefect_gives_the_same_journeys(prefect_server):
    events, start, until = exemption_then_exam_and_invoice()
    assert run(events, start, until, engine="prefect") == run(events, start, until)
    assert replay(minor_and_pensioner(), engine="prefect") == replay(minor_and_pensioner())
    alfa = alfa_failing_on_day_one()
    assert run(alfa, "2021-08-02", "2021-10-31", engine="prefect") == run(alfa, "2021-08-02", "2021-10-31")
