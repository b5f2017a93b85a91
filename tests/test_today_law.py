"""Today's law for today's people (issue 21) and the fine table (issue 22's fine): who the person
is, the Wi2021 obligation met by its pieces, loans by category, the Keren rule, state-pension age,
the Wi2013 PVT, and the fine's ONA attempts, declared hours and reduction for parts passed.

Every test replays a scenario through the real engine (SQLite and PostgreSQL where it says
`database_url`); the last ones compare the Prefect engine's timelines with the embedded one's."""

from __future__ import annotations

import pytest

from inburgering.demo import demo_bsn
from inburgering.scenario.loader import parse_scenario
from tests.scenario_helpers import entries, replay

WI2013_PARTS = ("lezen", "luisteren", "schrijven", "spreken", "knm", "ona")
B1_PARTS = ("lezen", "luisteren", "schrijven", "spreken", "knm")


def ev(date: str, type_: str, **fields) -> dict:
    return {"date": date, "type": type_, "person": "p1", **fields}


def intake(day: str, **permit) -> list[dict]:
    return [ev(day, "residence_permit_granted", **permit), ev(day, "bsn_registered"),
            ev(day, "municipality_registered", municipality="Utrecht")]


def exams(register_on: str, exam_day: str, passed: dict[str, bool] | bool, parts=WI2013_PARTS) -> list[dict]:
    """One round: every part registered on `register_on` for `exam_day`, with its result."""
    results = passed if isinstance(passed, dict) else dict.fromkeys(parts, passed)
    return ([ev(register_on, "exam_registered", part=p, channel="online", exam_date=exam_day, location="Utrecht")
             for p in results]
            + [ev(exam_day, "exam_result", part=p, passed=ok) for p, ok in results.items()])


def hours(day: str, count: int) -> dict:
    return ev(day, "course_hours_reported", school="Taalhuis Noord", hours=count, listed=True,
              period_from="2019-09-01", period_to=day)


def paid_invoice(day: str, accepted: str, amount: str = "800.00") -> list[dict]:
    return [ev(day, "invoice_submitted", school="Taalhuis Noord", invoice_number=f"F-{day}", contract_number="C-1",
               course_type="Inburgering", description="lessen", invoice_date=day, period_from=day,
               period_to=day, courses=10, course_fee=amount, materials_fee="0.00", exam_fee="0.00"),
            ev(accepted, "invoice_accepted", invoice_number=f"F-{day}")]


def scenario(events: list[dict], start: str, until: str, born: str = "1985-05-01", policy: dict | None = None):
    doc = {"scenario": "today's law", "from": start, "until": until, "events": events,
           "people": {"p1": {"bsn": demo_bsn(1), "name": "Person 1", "email": "p1@example.org", "born": born}}}
    if policy:
        doc["policy"] = policy
    return parse_scenario(doc)


def run(events, start, until, database_url=None, **kwargs) -> dict:
    return replay(scenario(events, start, until, **kwargs), database_url=database_url)


def of(result: dict, type_: str, kind: str = "letter") -> list[tuple[str, dict]]:
    return [(e["date"], e["data"]) for e in entries(result, kind, type_, "p1")]


def reasons(result: dict) -> dict[int, str]:
    return {r["event"]: r["reason"] for r in result["rejected"]}


# ---- Wi2021: the obligation met by its pieces, per route -------------------------------------------------------


def z_route() -> tuple[list[dict], str, str]:
    """A family migrant on the Z-route: the MAP, the PVT, then the route completed."""
    events = intake("2022-03-01", category="family") + [
        ev("2022-04-01", "pip_established", route="z"),
        ev("2022-04-05", "loan_granted", amount="3000.00"),
        ev("2023-01-10", "map_completed"),
        ev("2023-02-01", "participation_statement_signed"),
        ev("2024-06-03", "route_completed", route="z"),
    ]
    return events, "2022-03-01", "2025-06-30"


def test_a_wi2021_z_route_is_met_the_day_the_route_is_completed_and_the_term_ends_there(database_url):
    events, start, until = z_route()
    result = run(events, start, until, database_url)
    assert result["rejected"] == []
    ((_, established),) = of(result, "term_established")
    assert established["term_end"] == "2025-04-02"
    (notice,) = of(result, "repayment_notice")
    assert (notice[0], notice[1]["obligation_met_on"], notice[1]["met_by"]) == ("2024-06-03", "2024-06-03",
                                                                               "route_completed")
    ((day, met),) = of(result, "obligation_met")
    assert (day, met["route"]) == ("2024-06-03", "z")
    assert [d for d, _ in of(result, "term_reminder")] == ["2024-04-02"]  # the 12-month one; met before the 3-month
    assert of(result, "term_pre_announcement") == [] and of(result, "fine") == []


def test_the_onderwijsroute_needs_the_pvt_and_the_route_not_the_map():
    events = intake("2022-03-01") + [ev("2022-04-01", "pip_established", route="onderwijs"),
                                     ev("2023-05-01", "route_completed", route="onderwijs"),
                                     ev("2023-06-01", "participation_statement_signed")]
    result = run(events, "2022-03-01", "2025-06-30")
    assert result["rejected"] == []
    assert of(result, "term_pre_announcement") == [] and of(result, "fine") == []
    met = run(events[:-1], "2022-03-01", "2025-06-30")  # without the PVT: not met, the term passes
    assert [d for d, _ in of(met, "term_pre_announcement")] == ["2025-04-03"]


def test_a_wi2021_b1_route_needs_the_pvt_and_the_map_besides_the_exams():
    events = intake("2022-03-01") + [ev("2022-04-01", "pip_established", route="b1"),
                                     ev("2022-05-02", "participation_statement_signed")]
    events += exams("2022-06-01", "2022-08-01", True, B1_PARTS)
    result = run(events, "2022-03-01", "2025-06-30")
    assert reasons(result) == {}  # the PVT under Wi2021 is taken (it was refused as "Wi2013 only")
    ((day, diploma),) = of(result, "diploma")
    assert (day, diploma["obligation_met_on"], diploma["still_needed"]) == ("2022-08-01", None, ["map"])
    assert [d for d, _ in of(result, "term_pre_announcement")] == ["2025-04-03"]  # the MAP never came

    with_map = run(events + [ev("2023-03-01", "map_completed")], "2022-03-01", "2025-06-30")
    assert of(with_map, "term_pre_announcement") == [] and of(with_map, "term_reminder") == []


def test_route_completed_must_be_the_pips_route_and_a_pip_set_again_keeps_the_term_and_the_pieces():
    events = intake("2022-03-01") + [
        ev("2022-04-01", "pip_established", route="b1"),
        ev("2022-05-02", "participation_statement_signed"),  # counts whenever it arrives
        ev("2022-06-01", "map_completed"),
        ev("2022-09-01", "route_completed", route="z"),  # 6: not the PIP's route
        ev("2022-10-03", "pip_established", route="z"),  # set again: the term stays
        ev("2023-09-01", "route_completed", route="onderwijs"),  # 8: not the PIP's route either
        ev("2024-02-01", "route_completed", route="z"),
        ev("2024-03-01", "map_completed"),  # 10: met already
    ]
    result = run(events, "2022-03-01", "2025-06-30")
    refused = reasons(result)
    assert set(refused) == {6, 8, 10}
    assert "the PIP sets the b1-route for this person, not the z-route" in refused[6]
    assert "the PIP sets the z-route for this person, not the onderwijs-route" in refused[8]
    assert "the integration obligation was met on 2024-02-01 (by the z-route completed)" in refused[10]
    assert [x["term_end"] for _, x in of(result, "term_established")] == ["2025-04-02"]
    assert of(result, "term_pre_announcement") == []


def test_municipality_pieces_are_refused_where_they_do_not_belong():
    events = intake("2019-02-11") + [ev("2019-03-01", "map_completed"), ev("2019-03-02", "route_completed",
                                                                           route="z")]
    result = run(events, "2019-02-11", "2019-03-10")
    refused = reasons(result)
    assert "part of a Wi2021 obligation only; this person integrates under wi2013" in refused[3]
    assert "part of a Wi2021 obligation only" in refused[4]
    early = run(intake("2022-03-01") + [ev("2022-03-05", "route_completed", route="z")], "2022-03-01", "2022-03-10")
    assert "no PIP has set a route for this person yet" in reasons(early)[3]


# ---- who the person is: loans ------------------------------------------------------------------------------------


def test_a_wi2021_asylum_status_holder_gets_no_loan_and_a_family_migrant_does():
    events = intake("2022-03-01", category="asylum") + [ev("2022-04-05", "loan_granted", amount="3000.00")]
    refused = reasons(run(events, "2022-03-01", "2022-04-10"))
    assert refused == {3: "an asylum status holder integrating under the Wi2021 gets no DUO loan: the municipality "
                          "pays the integration course"}
    family = intake("2022-03-01", category="family") + [ev("2022-04-05", "loan_granted", amount="3000.00")]
    assert reasons(run(family, "2022-03-01", "2022-04-10")) == {}


def wi2013_pvt_later(category: str | None) -> list[dict]:
    """Wi2013 from 2019 (PVT needed): a loan, every part passed in 2021, the PVT after the term."""
    permit = {"category": category} if category else {}
    events = intake("2019-02-11", **permit) + [ev("2019-03-01", "loan_granted", amount="5000.00")]
    events += paid_invoice("2019-04-01", "2019-04-02")
    events += exams("2021-04-01", "2021-06-01", True)
    return events + [ev("2022-05-02", "participation_statement_signed")]


def test_wi2013_parts_passed_in_the_term_satisfy_it_and_the_diploma_waits_for_the_pvt(database_url):
    result = run(wi2013_pvt_later("family"), "2019-02-11", "2022-12-31", database_url)
    assert of(result, "term_pre_announcement") == [] and of(result, "fine") == []  # was €750 for a missing PVT
    ((day, diploma),) = of(result, "diploma")
    assert (day, diploma["obligation_met_on"]) == ("2022-05-02", "2022-05-02")  # the later of the parts and the PVT
    ((day, notice),) = of(result, "repayment_notice")
    assert (day, notice["repayment_from"]) == ("2022-05-02", "2022-11-02")


def test_a_wi2013_asylum_status_holder_who_passes_in_time_has_the_loan_forgiven(database_url):
    result = run(wi2013_pvt_later("asylum"), "2019-02-11", "2022-12-31", database_url)
    assert of(result, "repayment_notice") == []
    ((day, forgiven),) = of(result, "loan_forgiven")
    assert (day, forgiven["amount"]) == ("2022-05-02", "800.00")  # what was paid from the loan


# ---- the Keren rule --------------------------------------------------------------------------------------------


def keren(decision: str | None = None) -> list[dict]:
    """A Wi2013 asylum status holder; the term is extended for illness to 2025-03-03, after 2025-02-04."""
    events = intake("2021-09-01", category="asylum") + [ev("2021-10-01", "loan_granted", amount="5000.00")]
    events += paid_invoice("2021-11-01", "2021-11-02")
    events += [hours("2022-06-01", 120)]
    events += exams("2022-09-01", "2022-11-01", {"lezen": True, "luisteren": False, "schrijven": False,
                                                 "spreken": False, "knm": True, "ona": False})
    events += [ev("2024-04-01", "extension_requested", ground="illness", evidence_date="2024-01-01")]
    if decision == "granted":
        events.append(ev("2025-04-01", "staff_decision", case="fine", decision="granted",
                         reason="hardnekkige onwil, gedocumenteerd"))
    elif decision:
        events.append(ev("2025-04-01", "staff_decision", case="fine", decision=decision))
    return events


def test_an_asylum_status_holders_passed_term_goes_to_staff_and_the_loan_is_forgiven(database_url):
    result = run(keren(), "2021-09-01", "2025-06-30", database_url)
    ((_, extension),) = of(result, "extension_decision")
    assert extension["term_end"] == "2025-03-03"
    assert of(result, "term_pre_announcement") == [] and of(result, "fine") == []
    ((day, review),) = of(result, "fine_review", "alert")
    # all_once (<150 h): €1,000, less the reduction for 2 parts passed (€200)
    assert (day, review["term_end"], review["amount"], review["parts_passed"]) == ("2025-03-04", "2025-03-03",
                                                                                   "800.00", 2)
    ((day, forgiven),) = of(result, "loan_forgiven")
    assert (day, forgiven["amount"]) == ("2025-03-04", "800.00")
    assert of(result, "repayment_notice") == []


def test_the_fine_review_is_a_wait_run_whose_form_shows_the_persons_effort_and_the_tables_amount(tmp_path):
    from flows.waiting import cases as waits
    from flows.waiting.forms import form_for, with_data
    from inburgering.store.db import CaseFile

    url = f"sqlite:///{tmp_path / 'case.db'}"
    run(keren(), "2021-09-01", "2025-03-10", url)
    case_file = CaseFile(url)
    try:
        with case_file.transaction() as session:
            (case,) = [c for c in waits.actionable(session, 100) if c.process == "term"]
    finally:
        case_file.dispose()
    assert (case.status, case.late_since.isoformat()) == ("fine_under_review", "2025-03-04")
    form = with_data(form_for(case), case, case.late_since)
    assert form.__name__ == "FineDecisionInput"
    description = form._description
    attempts = "lezen 1× (passed), luisteren 1×, schrijven 1×, spreken 1×, knm 1× (passed), ona 1×"
    for shown in ("| hours at listed schools | 120 (reported 120, declared 0) |", f"| attempts | {attempts} |",
                  "| parts passed | 2 of 6 |", "| the table's amount (reduction included) | €800.00 |"):
        assert shown in description
    assert form.model_validate({"decision": "refused", "date": "2025-03-10"}).to_event() == {
        "type": "staff_decision", "case": "fine", "decision": "refused", "date": "2025-03-10"}


def test_staff_refusing_the_exceptional_fine_closes_the_term_without_fine_or_follow_up_term(tmp_path):
    from sqlalchemy import select

    from inburgering.store.db import CaseFile
    from inburgering.store.models import Case

    url = f"sqlite:///{tmp_path / 'case.db'}"
    events = keren("refused") + [ev("2025-05-01", "staff_decision", case="fine", decision="granted")]
    result = run(events, "2021-09-01", "2027-12-31", url)
    assert reasons(result) == {len(events) - 1: "this person has no open integration term, so a staff decision on "
                                                "a fine cannot be taken: the term opens with the start letter "
                                                "(Wi2013) or the PIP (Wi2021), and ends when the obligation is met; "
                                                "voluntary integration has none"}
    assert of(result, "term_pre_announcement") == [] and of(result, "fine") == []
    assert [d for d, _ in of(result, "term_reminder") if d > "2025-04-01"] == []
    assert len(of(result, "fine_review", "alert")) == 1
    case_file = CaseFile(url)
    try:
        with case_file.transaction() as session:
            term = session.scalars(select(Case).where(Case.process == "term")).one()
            assert (term.status, term.closed_on.isoformat()) == ("closed_without_fine", "2025-04-01")
    finally:
        case_file.dispose()


def test_staff_granting_the_exceptional_fine_sends_the_pre_announcement_and_the_fine():
    result = run(keren("granted"), "2021-09-01", "2025-06-30")
    ((day, pre),) = of(result, "term_pre_announcement")
    assert (day, pre["amount"], pre["respond_by"]) == ("2025-04-01", "800.00", "2025-04-15")
    ((day, fine),) = of(result, "fine")
    assert (day, fine["amount"], fine["parts_passed"], fine["new_term_end"]) == ("2025-04-16", "800.00", 2,
                                                                                 "2027-04-16")
    assert len(of(result, "loan_forgiven")) == 1  # forgiven when the term passed, never recovered


def test_the_keren_date_is_policy_and_a_fine_decision_without_a_review_is_refused():
    later = run(keren(), "2021-09-01", "2025-06-30", policy={"asylum_sanctions_exceptional_from": "2026-01-01"})
    assert [d for d, _ in of(later, "term_pre_announcement")] == ["2025-03-04"]
    assert of(later, "fine_review", "alert") == [] and of(later, "loan_forgiven") == []
    events = intake("2021-09-01", category="asylum") + [ev("2021-10-01", "staff_decision", case="fine",
                                                           decision="refused")]
    refused = reasons(run(events, "2021-09-01", "2021-10-10"))
    assert "no fine of this person waits for a staff decision" in refused[3]


# ---- state-pension age -----------------------------------------------------------------------------------------


def test_reaching_state_pension_age_in_the_term_ends_it_with_a_letter_and_nothing_after(database_url):
    # born 1957-05-10: AOW age in 2024 is 67 years (policy aow_age_months 804): reached 2024-05-10
    result = run(intake("2021-09-01"), "2021-09-01", "2025-12-31", database_url, born="1957-05-10")
    ((day, ended),) = of(result, "obligation_ended")
    assert (day, ended["reason"]) == ("2024-05-10", "aow_age")
    assert [d for d, _ in of(result, "term_reminder")] == ["2023-09-02"]  # not the 3-month one of 2024-06-02
    assert of(result, "term_pre_announcement") == [] and of(result, "fine") == []


def test_aow_day_is_the_first_day_the_age_is_at_least_the_policys_for_that_day():
    import datetime as dt

    from inburgering.domain.journey import aow_day
    from inburgering.domain.policy import load_default_policy

    policy = load_default_policy()
    assert aow_day(dt.date(1957, 5, 10), policy) == dt.date(2024, 5, 10)  # 67y, in force 2024
    # 66y 4m (2019-2021) reached on 2022-01-02 by someone born 1955-09-02, but 2022 asks 66y 7m:
    assert aow_day(dt.date(1955, 9, 2), policy) == dt.date(2022, 4, 2)
    # 66y 7m reached in 2022 would be 2023-01-01 for someone born 1956-06-01; 2023 asks 66y 10m
    assert aow_day(dt.date(1956, 6, 1), policy) == dt.date(2023, 4, 1)


# ---- the fine table ----------------------------------------------------------------------------------------------


def fine_journey(rounds: list[dict[str, bool]], extra: list[dict] | None = None) -> list[dict]:
    """Wi2013 from 2019-02-11 (term end 2022-02-11), 100 hours, the given exam rounds."""
    events = intake("2019-02-11") + [hours("2020-06-01", 100)]
    day = ["2021-03-01", "2021-05-03", "2021-07-01", "2021-09-01"]
    for n, results in enumerate(rounds):
        events += exams(day[n], day[n + 1], results)
    return events + (extra or [])


FAILED_ALL = dict.fromkeys(WI2013_PARTS, False)
FAILED_BUT_ONA = {p: False for p in WI2013_PARTS if p != "ona"}


def test_ona_once_is_tried_enough_five_parts_failed_twice_and_ona_once_is_750(database_url):
    result = run(fine_journey([FAILED_ALL, FAILED_BUT_ONA]), "2019-02-11", "2022-03-15", database_url)
    ((_, fine),) = of(result, "fine")
    assert (fine["amount"], fine["hours"], fine["parts_taken"]) == ("750.00", 100, "failed_twice")  # not €1,000
    assert fine["parts_passed"] == 0


def test_parts_passed_lower_the_pre_announcement_and_the_fine_never_below_zero():
    two_passed = {**FAILED_BUT_ONA, "lezen": True, "knm": True}
    result = run(fine_journey([FAILED_ALL, two_passed]), "2019-02-11", "2022-03-15")
    ((_, pre),) = of(result, "term_pre_announcement")
    ((_, fine),) = of(result, "fine")
    assert (pre["amount"], pre["parts_passed"]) == ("550.00", 2)  # €750 less €200 (policy, ⚠ our figures)
    assert (fine["amount"], fine["parts_passed"]) == ("550.00", 2)
    five_passed = {p: p != "spreken" for p in WI2013_PARTS}
    result = run(fine_journey([five_passed]) + [hours("2021-06-01", 200)], "2019-02-11", "2022-03-15")
    ((_, fine),) = of(result, "fine")
    assert (fine["amount"], fine["hours"], fine["parts_passed"]) == ("0.00", 300, 5)  # €250 - €500: €0


def test_a_schools_declaration_counts_in_the_response_window_and_a_later_one_in_the_next_cycle():
    # pre-announced 2022-02-14 (100 h, every part once: €1,000); respond_by 2022-02-28
    within = run(fine_journey([FAILED_ALL], [ev("2022-02-20", "school_declaration_received", school="Taalhuis Noord",
                                                hours=320)]), "2019-02-11", "2022-03-15")
    ((_, pre),) = of(within, "term_pre_announcement")
    ((_, fine),) = of(within, "fine")
    assert (pre["amount"], fine["amount"], fine["hours"]) == ("1000.00", "250.00", 320)
    late = fine_journey([FAILED_ALL], [ev("2022-03-01", "school_declaration_received", school="Taalhuis Noord",
                                          hours=320)])
    result = run(late, "2019-02-11", "2024-03-31")
    assert [(x["amount"], x["hours"]) for _, x in of(result, "fine")] == [("1000.00", 100), ("250.00", 320)]


def test_agi_application_hours_at_a_listed_school_count_for_the_fine():
    agi = ev("2021-09-01", "agi_application_received", route="course", hours={"integration": 200, "nt2": 130},
             school_listed_at_course_start=True, attempts={})
    result = run(fine_journey([FAILED_ALL], [agi]), "2019-02-11", "2022-03-15")
    ((_, fine),) = of(result, "fine")
    assert (fine["amount"], fine["hours"]) == ("250.00", 330)


def test_a_declaration_without_hours_and_without_an_agi_application_is_refused_as_before():
    result = run(intake("2019-02-11") + [ev("2019-03-01", "school_declaration_received")], "2019-02-11",
                 "2019-03-05")
    assert "an AGI application must come first" in reasons(result)[3]


# ---- the board and the API -----------------------------------------------------------------------------------


def test_the_board_counts_the_people_with_no_category_known(tmp_path):
    from inburgering.engine import board
    from inburgering.store.db import CaseFile

    url = f"sqlite:///{tmp_path / 'case.db'}"
    people = {f"p{n}": {"bsn": demo_bsn(n), "name": f"Person {n}", "born": "1985-05-01"} for n in (1, 2, 3)}
    events = [{**e, "person": "p1"} for e in intake("2022-03-01", category="asylum")]
    events += [{**e, "person": "p2"} for e in intake("2022-03-01")]
    events += [{**e, "person": "p3"} for e in intake("2022-03-01", category="family")]
    replay(parse_scenario({"scenario": "board", "from": "2022-03-01", "until": "2022-03-02", "events": events,
                           "people": people}), database_url=url)
    case_file = CaseFile(url)
    try:
        with case_file.transaction() as session:
            assert board.people_by_category(session) == {"asylum": 1, "family": 1, "other": 0, "unknown": 1}
    finally:
        case_file.dispose()


def test_the_municipality_may_send_the_map_and_the_route_and_the_ind_the_category():
    from inburgering.api.sources import Sender, event_refusal
    from inburgering.domain.events import parse_event

    municipality = Sender(1, "utrecht", "municipality", None)
    for raw in ({"type": "map_completed"}, {"type": "route_completed", "route": "z"}):
        assert event_refusal(municipality, parse_event({"date": "2023-01-01", "person": "p1", **raw})) is None
    ind = Sender(2, "ind", "ind", None)
    permit = parse_event({"date": "2023-01-01", "person": "p1", "type": "residence_permit_granted",
                          "category": "asylum"})
    assert event_refusal(ind, permit) is None and permit.category == "asylum"
    school = Sender(3, "school", "school", "Taalhuis Noord")
    assert event_refusal(school, parse_event({"date": "2023-01-01", "person": "p1", "type": "route_completed",
                                              "route": "z"}))[1] == (
        "school sources may not send route_completed events (municipality sources send them)")


def test_the_readmes_examples_show_a_z_route_to_the_end_and_an_asylum_term_going_to_staff():
    from pathlib import Path

    docs = Path(__file__).resolve().parent.parent / "docs" / "scenarios"
    z = replay(docs / "wi2021_z_route.yaml")
    assert [(r["event"], r["reason"][:51]) for r in z["rejected"]] == [
        (7, "the PIP sets the z-route for this person, not the o")]
    assert [(d, x["route"]) for d, x in of(z, "obligation_met")] == [("2024-06-03", "z")]
    assert of(z, "term_pre_announcement") == [] and [d for d, _ in of(z, "term_reminder")] == ["2024-04-02"]
    keren_file = replay(docs / "asylum_term_to_staff.yaml")
    assert [(d, x["term_end"], x["amount"]) for d, x in of(keren_file, "fine_review", "alert")] == [
        ("2025-03-04", "2025-03-03", "1050.00")]
    assert [(d, x["amount"]) for d, x in of(keren_file, "loan_forgiven")] == [("2025-03-04", "800.00")]
    assert of(keren_file, "term_pre_announcement") == [] and keren_file["rejected"] == []


def test_through_the_api_the_ind_sends_the_category_and_the_municipality_the_pieces(database_url):
    import datetime as dt

    import httpx

    from inburgering.api.sources import add_source
    from inburgering.engine import service
    from inburgering.store.db import CaseFile
    from tests.api_server import ThreadedApi

    case_file = CaseFile(database_url)
    now = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
    with case_file.transaction() as session:
        tokens = {kind: add_source(session, kind, kind, now=now) for kind in ("ind", "brp", "municipality")}
        service.register_person(session, ref="p1", bsn=demo_bsn(1), name="Person 1", email="p1@example.org")
    sent = [("ind", "residence_permit_granted", {"category": "asylum"}), ("brp", "bsn_registered", {}),
            ("brp", "municipality_registered", {"municipality": "Utrecht"}),
            ("municipality", "pip_established", {"route": "z"}), ("municipality", "map_completed", {}),
            ("municipality", "participation_statement_signed", {}),
            ("municipality", "route_completed", {"route": "onderwijs"}),
            ("municipality", "route_completed", {"route": "z"})]
    try:
        with ThreadedApi(database_url) as server:
            for n, (kind, type_, fields) in enumerate(sent):
                answer = httpx.post(f"{server.url}/v1/events", headers={"Authorization": f"Bearer {tokens[kind]}"},
                                    json={"id": f"e-{n}", "date": "2024-02-01", "person": "p1", "type": type_,
                                          **fields}, timeout=60)
                assert answer.status_code == 202, answer.text
            wrong = httpx.post(f"{server.url}/v1/events", headers={"Authorization": f"Bearer {tokens['brp']}"},
                               json={"id": "x", "date": "2024-02-01", "person": "p1", "type": "map_completed"})
            assert wrong.status_code == 403 and "municipality sources send them" in wrong.text
            service.ingest(case_file, dt.date(2024, 3, 1))
            statuses = []
            for n, (kind, _, _) in enumerate(sent):
                statuses.append(httpx.get(f"{server.url}/v1/events/e-{n}",
                                          headers={"Authorization": f"Bearer {tokens[kind]}"}).json())
        assert [s["status"] for s in statuses] == ["applied"] * 6 + ["rejected", "applied"]
        assert "the PIP sets the z-route for this person, not the onderwijs-route" in statuses[6]["reason"]
        with case_file.transaction() as session:
            from sqlalchemy import select

            from inburgering.store.models import Case

            journey = session.scalars(select(Case).where(Case.process == "journey")).one()
            assert (journey.status, journey.state["category"], journey.state["met_by"]) == (
                "obligation_met", "asylum", "route_completed")
    finally:
        case_file.dispose()


# ---- through Prefect ---------------------------------------------------------------------------------------------


@pytest.mark.prefect
def test_prefect_gives_the_same_timelines_for_todays_law(prefect_server):
    z_events, start, until = z_route()
    for built in (scenario(z_events, start, until), scenario(keren("granted"), "2021-09-01", "2025-06-30"),
                  scenario(intake("2021-09-01"), "2021-09-01", "2024-12-31", born="1957-05-10"),
                  scenario(wi2013_pvt_later("asylum"), "2019-02-11", "2022-12-31"),
                  scenario(fine_journey([FAILED_ALL, FAILED_BUT_ONA], [ev(
                      "2022-02-20", "school_declaration_received", school="Taalhuis Noord", hours=160)]),
                      "2019-02-11", "2022-03-15")):
        assert replay(built, engine="prefect") == replay(built)
