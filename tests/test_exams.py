"""Exams: registration by channel, invitation letter days, rescheduling, cancellation, the diploma."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from inburgering.store.db import CaseFile
from inburgering.store.models import Case, Deadline, Letter
from inburgering.letters.stored import letter_text
from tests.scenario_helpers import entries, make_scenario, replay

START = "2020-01-06"  # a Monday; the obligation starts this day: Wi2013 with ONA
PLACE = "Utrecht, Examencentrum Jaarbeurs"
OLD = {"bsn": "111222333", "name": "Karim Haddad", "born": "1950-01-01"}  # of AOW age in 2020
YOUNG = {"bsn": "123456782", "name": "Amina Yusuf", "born": "1990-05-01"}


def intake(day: str = START, **permit) -> list[dict]:
    return [
        {"date": day, "person": "p1", "type": "residence_permit_granted", **permit},
        {"date": day, "person": "p1", "type": "bsn_registered"},
        {"date": day, "person": "p1", "type": "municipality_registered", "municipality": "Utrecht"},
    ]


def ev(date: str, type_: str, part: str, **fields) -> dict:
    return {"date": date, "person": "p1", "type": type_, "part": part, **fields}


def register(date: str, part: str, channel: str, exam_date: str, location: str = PLACE) -> dict:
    return ev(date, "exam_registered", part, channel=channel, exam_date=exam_date, location=location)


def run(events: list[dict], until: str, start: str = START, **kwargs) -> dict:
    return replay(make_scenario(events, start=start, until=until, **kwargs))


def invitations(result: dict) -> list[dict]:
    return entries(result, "letter", "exam_invitation")


def rejected(result: dict, events: list[dict]) -> dict[int, str]:
    return {r["event"]: r["reason"] for r in result["rejected"]}


def index(events: list[dict], event: dict) -> int:
    return next(i for i, e in enumerate(events) if e is event)


# ---- letter day per channel -------------------------------------------------------------------------


def test_online_registration_letter_is_dated_exactly_one_week_before_the_exam():
    result = run(intake() + [register("2020-02-03", "lezen", "online", "2020-04-02")], until="2020-04-10")
    (letter,) = invitations(result)
    assert letter["date"] == "2020-03-26"
    assert {k: letter["data"][k] for k in ("part", "exam_date", "location")} == {
        "part": "lezen", "exam_date": "2020-04-02", "location": PLACE}
    assert letter["data"]["level"] == "A2" and letter["data"]["corrected"] is False
    assert result["rejected"] == []


def test_school_registration_letter_is_dated_exactly_two_weeks_before_the_exam():
    result = run(intake() + [register("2020-02-03", "knm", "school", "2020-04-02")], until="2020-04-10")
    (letter,) = invitations(result)
    assert letter["date"] == "2020-03-19"
    assert letter["data"]["part"] == "knm" and letter["data"]["exam_date"] == "2020-04-02"


def test_form_registration_gets_its_letter_the_next_working_day_after_the_fee_is_paid():
    # Paid Friday 2020-04-24; Monday 27 April is King's Day, so the letter goes on Tuesday.
    events = intake() + [register("2020-02-03", "ona", "form", "2020-05-14"),
                         ev("2020-04-24", "exam_fee_paid", "ona")]
    result = run(events, until="2020-05-20")
    (letter,) = invitations(result)
    assert letter["date"] == "2020-04-28"
    assert letter["data"]["fee"] == "40.00" and letter["data"]["fee_paid_on"] == "2020-04-24"


def test_form_registration_without_payment_gets_no_letter():
    result = run(intake() + [register("2020-02-03", "schrijven", "form", "2020-03-20")], until="2020-03-31")
    assert invitations(result) == []


@pytest.mark.parametrize("working_days, letter_day", [
    (10, "2020-05-12"),  # the 10th working day after Friday 24 April (27 April and 5 May are holidays)
    (20, "2020-05-15"),  # the 20th would be in June: never later than 3 weeks after the payment
])
def test_form_letter_day_follows_policy_within_three_weeks(working_days, letter_day):
    events = intake() + [register("2020-02-03", "schrijven", "form", "2020-06-30"),
                         ev("2020-04-24", "exam_fee_paid", "schrijven")]
    result = run(events, until="2020-06-01", policy={"exam_form_invitation_working_days": working_days})
    assert [e["date"] for e in invitations(result)] == [letter_day]


def test_channel_letter_days_are_policy():
    events = intake() + [register("2020-02-03", "lezen", "online", "2020-04-02"),
                         register("2020-02-03", "knm", "school", "2020-04-02")]
    result = run(events, until="2020-04-02",
                 policy={"exam_invitation_days_online": 10, "exam_invitation_days_school": 21})
    assert {e["data"]["part"]: e["date"] for e in invitations(result)} == {"lezen": "2020-03-23",
                                                                          "knm": "2020-03-12"}


def test_registration_after_the_letter_day_gets_its_letter_at_once():
    result = run(intake() + [register("2020-03-30", "spreken", "online", "2020-04-02")], until="2020-04-10")
    assert [e["date"] for e in invitations(result)] == ["2020-03-30"]


def test_fee_payment_for_an_online_registration_is_refused():
    events = intake() + [register("2020-02-03", "lezen", "online", "2020-04-02"),
                         ev("2020-02-04", "exam_fee_paid", "lezen")]
    result = run(events, until="2020-02-05")
    assert "form" in rejected(result, events)[4]


# ---- registrations refused ----------------------------------------------------------------------------


def test_ona_through_a_school_is_refused_naming_ona_and_ona_online_is_accepted():
    school = register("2020-02-03", "ona", "school", "2020-04-02")
    online = register("2020-02-04", "ona", "online", "2020-04-02")
    events = intake() + [school, online]
    result = run(events, until="2020-04-02")
    reasons = rejected(result, events)
    assert list(reasons) == [index(events, school)]
    assert "ONA" in reasons[index(events, school)] and "school" in reasons[index(events, school)]
    assert [e["data"]["part"] for e in invitations(result)] == ["ona"]


def test_exam_date_in_the_past_is_refused():
    past = register("2020-02-03", "lezen", "online", "2020-02-02")
    events = intake() + [past]
    result = run(events, until="2020-02-10")
    assert "2020-02-02" in rejected(result, events)[index(events, past)]
    assert invitations(result) == []


def test_a_part_already_passed_or_already_registered_is_refused():
    again = register("2020-02-04", "lezen", "online", "2020-04-10")
    after_pass = register("2020-04-03", "lezen", "online", "2020-05-10")
    events = intake() + [register("2020-02-03", "lezen", "online", "2020-04-02"), again,
                         ev("2020-04-02", "exam_result", "lezen", passed=True), after_pass]
    result = run(events, until="2020-04-03")
    reasons = rejected(result, events)
    assert "already registered for 2020-04-02" in reasons[index(events, again)]
    assert "already passed on 2020-04-02" in reasons[index(events, after_pass)]


def test_ona_is_not_required_when_the_wi2013_obligation_started_before_2015():
    ona = register("2020-02-03", "ona", "online", "2020-04-02")
    events = intake(obligation_start="2014-06-01") + [ona]
    result = run(events, until="2020-02-04")
    assert "2015-01-01" in rejected(result, events)[index(events, ona)]


def test_registration_without_a_finished_intake_is_refused():
    events = [{"date": START, "person": "p1", "type": "residence_permit_granted"},
              register("2020-02-03", "lezen", "online", "2020-04-02")]
    result = run(events, until="2020-02-04")
    assert "intake" in rejected(result, events)[1]


@pytest.mark.parametrize("short_notice, refused", [("accept", False), ("reject", True)])
def test_booking_less_than_six_weeks_ahead_is_refused_only_when_policy_says_so(short_notice, refused):
    late = register("2020-03-02", "lezen", "online", "2020-04-02")  # 31 days ahead
    events = intake() + [late]
    result = run(events, until="2020-04-02", policy={"exam_registration_short_notice": short_notice})
    reasons = rejected(result, events)
    assert (index(events, late) in reasons) is refused
    assert len(invitations(result)) == (0 if refused else 1)
    if refused:
        assert "42 days" in reasons[index(events, late)]


# ---- Wi2021: the route decides -------------------------------------------------------------------------

WI2021 = "2022-03-01"


def wi2021(route: str | None) -> list[dict]:
    pip = [{"date": "2022-04-01", "person": "p1", "type": "pip_established", "route": route}] if route else []
    return intake(WI2021) + pip


def test_wi2021_b1_route_needs_no_ona_the_municipality_runs_the_map():
    ona = register("2022-05-02", "ona", "online", "2022-08-01")
    events = wi2021("b1") + [ona, register("2022-05-02", "lezen", "online", "2022-08-01")]
    result = run(events, start=WI2021, until="2022-08-01")
    assert "MAP" in rejected(result, events)[index(events, ona)]
    (letter,) = invitations(result)
    assert letter["data"]["level"] == "B1"


@pytest.mark.parametrize("route, words", [(None, "PIP"), ("z", "Z-route"), ("onderwijs", "onderwijsroute")])
def test_wi2021_without_an_exam_route_refuses_registration(route, words):
    lezen = register("2022-05-02", "lezen", "online", "2022-08-01")
    events = wi2021(route) + [lezen]
    result = run(events, start=WI2021, until="2022-05-02")
    assert words in rejected(result, events)[index(events, lezen)]


def test_wi2021_b1_route_diploma_after_the_four_language_parts_and_knm():
    parts = ["lezen", "luisteren", "schrijven", "spreken", "knm"]
    events = wi2021("b1") + [register("2022-05-02", p, "online", "2022-07-04") for p in parts]
    events += [ev(f"2022-07-{11 + i}", "exam_result", p, passed=True) for i, p in enumerate(parts)]
    result = run(events, start=WI2021, until="2022-07-20")
    (diploma,) = entries(result, "letter", "diploma")
    assert diploma["date"] == "2022-07-15"
    assert [item["part"] for item in diploma["data"]["parts"]] == parts
    # issue 21: the exams alone do not meet a Wi2021 obligation; the PVT and the MAP are part of it
    assert diploma["data"]["obligation_met_on"] is None
    assert diploma["data"]["still_needed"] == ["participation_statement", "map"]


# ---- rescheduling and cancelling ----------------------------------------------------------------------


def test_rescheduling_before_the_letter_moves_the_letter_day():
    events = intake() + [register("2020-02-03", "lezen", "online", "2020-04-02"),
                         ev("2020-03-02", "exam_rescheduled", "lezen", exam_date="2020-04-20", location="Zwolle")]
    result = run(events, until="2020-04-30")
    (letter,) = invitations(result)
    assert letter["date"] == "2020-04-13"
    assert (letter["data"]["exam_date"], letter["data"]["location"]) == ("2020-04-20", "Zwolle")
    assert letter["data"]["corrected"] is False


def test_rescheduling_after_the_letter_sends_a_corrected_letter_at_once():
    events = intake() + [register("2020-02-03", "lezen", "online", "2020-04-02"),
                         ev("2020-03-28", "exam_rescheduled", "lezen", exam_date="2020-04-20", location="Zwolle")]
    result = run(events, until="2020-04-30")
    first, corrected = invitations(result)
    assert first["date"] == "2020-03-26" and first["data"]["exam_date"] == "2020-04-02"
    assert corrected["date"] == "2020-03-28"
    assert corrected["data"]["corrected"] is True
    assert (corrected["data"]["exam_date"], corrected["data"]["location"]) == ("2020-04-20", "Zwolle")
    assert (corrected["data"]["previous_exam_date"], corrected["data"]["previous_location"]) == ("2020-04-02", PLACE)


def test_cancelling_before_the_letter_sends_nothing():
    events = intake() + [register("2020-02-03", "knm", "school", "2020-04-02"),
                         ev("2020-03-02", "exam_cancelled", "knm")]
    result = run(events, until="2020-04-10")
    assert invitations(result) == [] and entries(result, "letter", "exam_cancellation") == []
    assert result["rejected"] == []


def test_cancelling_after_the_letter_confirms_the_cancellation():
    events = intake() + [register("2020-02-03", "knm", "school", "2020-04-02"),
                         ev("2020-03-25", "exam_cancelled", "knm")]
    result = run(events, until="2020-04-10")
    assert [e["date"] for e in invitations(result)] == ["2020-03-19"]
    (cancellation,) = entries(result, "letter", "exam_cancellation")
    assert cancellation["date"] == "2020-03-25"
    assert cancellation["data"] == {"part": "knm", "exam_date": "2020-04-02", "location": PLACE}


def test_a_cancelled_part_can_be_registered_again():
    events = intake() + [register("2020-02-03", "knm", "online", "2020-04-02"),
                         ev("2020-02-10", "exam_cancelled", "knm"),
                         register("2020-02-11", "knm", "online", "2020-05-04")]
    result = run(events, until="2020-05-04")
    assert [(e["date"], e["data"]["exam_date"]) for e in invitations(result)] == [("2020-04-27", "2020-05-04")]


def test_reschedule_cancel_and_fee_need_an_open_registration():
    events = intake() + [ev("2020-02-03", "exam_rescheduled", "lezen", exam_date="2020-04-20", location="Zwolle"),
                         ev("2020-02-03", "exam_cancelled", "lezen"),
                         ev("2020-02-03", "exam_fee_paid", "lezen")]
    result = run(events, until="2020-02-04")
    assert sorted(rejected(result, events)) == [3, 4, 5]


def test_a_held_invitation_goes_out_when_the_hold_is_lifted():
    result = run(intake() + [register("2020-02-03", "lezen", "online", "2020-04-02")], until="2020-04-10",
                 holds=[{"letters": "exam_invitation", "from": "2020-03-20", "until": "2020-03-30"}])
    assert [e["date"] for e in invitations(result)] == ["2020-03-31"]


# ---- results and the diploma ------------------------------------------------------------------------

ALL_WI2013 = ["lezen", "luisteren", "schrijven", "spreken", "knm", "ona"]


def full_journey() -> list[dict]:
    """Wi2013 from 2020: six parts over the three channels, one failed attempt, then all passed."""
    events = intake() + [
        register("2020-02-03", "lezen", "online", "2020-04-02"),
        register("2020-02-03", "luisteren", "online", "2020-04-02"),
        register("2020-02-03", "schrijven", "school", "2020-04-09"),
        register("2020-02-03", "spreken", "school", "2020-04-09"),
        register("2020-02-03", "knm", "online", "2020-04-16"),
        register("2020-02-03", "ona", "form", "2020-04-23"),
        ev("2020-03-02", "exam_fee_paid", "ona"),
        ev("2020-04-06", "exam_result", "lezen", passed=False),
        ev("2020-04-06", "exam_result", "luisteren", passed=True),
        ev("2020-04-14", "exam_result", "schrijven", passed=True),
        ev("2020-04-14", "exam_result", "spreken", passed=True),
        ev("2020-04-20", "exam_result", "knm", passed=True),
        ev("2020-04-27", "exam_result", "ona", passed=True),
        register("2020-04-07", "lezen", "online", "2020-05-28"),
        ev("2020-06-02", "exam_result", "lezen", passed=True),
        register("2020-06-03", "knm", "online", "2020-07-28"),
    ]
    return events


PVT = {"date": "2020-05-04", "person": "p1", "type": "participation_statement_signed"}


def test_diploma_goes_out_on_the_last_required_pass_and_the_case_records_the_obligation_met(database_url):
    # an obligation from 2020 (Wi2013 from 2017-10-01) needs the participation statement too
    events = full_journey()
    events.insert(len(events) - 1, PVT)
    result = replay(make_scenario(events, start=START, until="2020-06-10"), database_url=database_url)

    (diploma,) = entries(result, "letter", "diploma")
    assert diploma["date"] == "2020-06-02"
    passed = {item["part"]: item["passed_on"] for item in diploma["data"]["parts"]}
    assert set(passed) == set(ALL_WI2013) and passed["lezen"] == "2020-06-02" and passed["ona"] == "2020-04-27"
    assert diploma["data"]["obligation_met_on"] == "2020-06-02"
    # every channel's letter on its own day; the second lezen attempt got a letter of its own
    assert [(e["date"], e["data"]["part"]) for e in invitations(result)] == [
        ("2020-03-03", "ona"), ("2020-03-26", "lezen"), ("2020-03-26", "luisteren"),
        ("2020-03-26", "schrijven"), ("2020-03-26", "spreken"), ("2020-04-09", "knm"), ("2020-05-21", "lezen")]
    # after the diploma no further exam is taken
    assert list(rejected(result, events)) == [len(events) - 1]
    assert "diploma" in result["rejected"][0]["reason"]

    case_file = CaseFile(database_url)
    try:
        with case_file.transaction() as session:
            case = session.scalars(select(Case).where(Case.process == "exams")).one()
            assert case.status == "diploma" and case.closed_on.isoformat() == "2020-06-02"
            journey = session.scalars(select(Case).where(Case.process == "journey")).one()
            assert (journey.status, journey.state["met_on"], journey.state["met_by"]) == (
                "obligation_met", "2020-06-02", "diploma")
            assert [(r["part"], r["outcome"]) for r in case.state["history"]][0] == ("lezen", "failed")
            # the letters were timers in the case file, fired by the deadline monitor
            fired = session.scalars(select(Deadline.kind).where(Deadline.case_id == case.id,
                                                                Deadline.state == "fired")).all()
            assert sorted(fired) == sorted(f"exam_invitation:{p}" for p in ALL_WI2013 + ["lezen"])
            letter = session.scalars(select(Letter).where(Letter.type == "exam_invitation")
                                     .order_by(Letter.on_date)).first()
            body = letter_text(session, letter).body
            assert body.index('lang="nl"') < body.index('lang="en"')
            assert "23 april 2020" in body and "23 April 2020" in body  # the exam date, Dutch and English
            assert PLACE in body and "identiteitsbewijs" in body and "identity document" in body
            assert "begintijd" in body and "starting time" in body
            assert "123456782" not in body
    finally:
        case_file.dispose()


def test_a_diploma_without_the_participation_statement_meets_the_obligation_only_once_it_is_signed():
    loan = {"date": START, "person": "p1", "type": "loan_granted", "amount": "5000.00"}
    events = [loan] + full_journey()[:-1]  # no PVT: the obligation (2020) needs one
    pvt_later = {"date": "2020-06-15", "person": "p1", "type": "participation_statement_signed"}
    result = run(events + [register("2020-06-10", "knm", "online", "2020-07-28"), pvt_later],
                 until="2020-06-20", people={"p1": YOUNG | {"email": "amina@example.org"}})
    # issue 21: the PVT is part of the Wi2013 exam: the diploma goes out once it is signed too
    (diploma,) = entries(result, "letter", "diploma")
    assert diploma["date"] == "2020-06-15"
    assert diploma["data"]["obligation_met_on"] == "2020-06-15"
    assert rejected(result, events + [pvt_later]) == {len(events): "every exam part was passed by 2020-06-02: no "
                                                                   "further exams are needed (the diploma waits for "
                                                                   "the participation statement)"}
    # met the day the statement is signed: the loan's repayment starts six months later
    (notice,) = entries(result, "letter", "repayment_notice")
    assert (notice["date"], notice["data"]["obligation_met_on"], notice["data"]["repayment_from"]) == (
        "2020-06-15", "2020-06-15", "2020-12-15")


def test_before_2017_10_01_the_diploma_alone_meets_the_obligation():
    events = intake("2017-06-01") + [register("2017-07-03", p, "online", "2017-09-01") for p in ALL_WI2013]
    events += [ev("2017-09-04", "exam_result", p, passed=True) for p in ALL_WI2013]
    result = run(events, start="2017-06-01", until="2017-09-10")
    (diploma,) = entries(result, "letter", "diploma")
    assert diploma["data"]["obligation_met_on"] == "2017-09-04"
    assert diploma["data"]["participation_statement_outstanding"] is False
    pvt = {"date": "2017-09-05", "person": "p1", "type": "participation_statement_signed"}
    refused = run(events + [pvt], start="2017-06-01", until="2017-09-10")
    assert "only when the obligation started on or after 2017-10-01" in refused["rejected"][0]["reason"]


def test_no_diploma_while_a_required_part_is_missing():
    events = intake() + [register("2020-02-03", p, "online", "2020-04-02") for p in ALL_WI2013[:5]]
    events += [ev("2020-04-03", "exam_result", p, passed=True) for p in ALL_WI2013[:5]]
    result = run(events, until="2020-04-10")
    assert entries(result, "letter", "diploma") == []


def test_a_result_needs_a_registered_exam_whose_day_has_come():
    early = ev("2020-04-01", "exam_result", "lezen", passed=True)
    unregistered = ev("2020-04-03", "exam_result", "knm", passed=True)
    events = intake() + [register("2020-02-03", "lezen", "online", "2020-04-02"), early, unregistered]
    result = run(events, until="2020-04-03")
    reasons = rejected(result, events)
    assert "2020-04-02" in reasons[index(events, early)]
    assert "no knm exam is registered" in reasons[index(events, unregistered)]


@pytest.mark.parametrize("person, ona_refused, diploma", [(OLD, True, True), (YOUNG, False, False)])
def test_voluntary_integration_at_aow_age_needs_no_ona(person, ona_refused, diploma):
    ona = register("2020-02-03", "ona", "online", "2020-04-02")
    events = intake(voluntary=True) + [ona]
    events += [register("2020-02-03", p, "online", "2020-04-02") for p in ALL_WI2013[:5]]
    events += [ev("2020-04-03", "exam_result", p, passed=True) for p in ALL_WI2013[:5]]
    result = run(events, until="2020-04-10", people={"p1": person})
    reasons = rejected(result, events)
    assert (index(events, ona) in reasons) is ona_refused
    if ona_refused:
        assert "AOW" in reasons[index(events, ona)]
    letters = entries(result, "letter", "diploma")
    assert len(letters) == int(diploma)
    if diploma:
        assert letters[0]["data"]["obligation_met_on"] is None  # voluntary: no obligation to meet
