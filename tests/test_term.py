"""The integration term (issue 11): reminders, pre-announcement, fine, follow-up terms and
extensions, replayed through the real engine on SQLite and PostgreSQL, and through Prefect."""

from __future__ import annotations

import datetime as dt

import pytest

from inburgering.demo import demo_bsn
from inburgering.domain import term_rules
from inburgering.domain.policy import load_default_policy
from inburgering.domain.term_rules import ExtensionFile
from inburgering.scenario.loader import parse_scenario
from tests.scenario_helpers import entries, replay

PARTS = ("lezen", "luisteren", "schrijven", "spreken", "knm", "ona")  # Wi2013 from 2015: ONA too


def ev(date: str, type_: str, person: str = "p1", **fields) -> dict:
    return {"date": date, "type": type_, "person": person, **fields}


def intake(start: str, person: str = "p1") -> list[dict]:
    """Wi2013 from `start`; the start letter goes out the same day, stating the term."""
    return [ev(start, "residence_permit_granted", person), ev(start, "bsn_registered", person),
            ev(start, "municipality_registered", person, municipality="Utrecht")]


def exams(register_on: str, results: list[tuple[str, bool]], person: str = "p1") -> list[dict]:
    """Every part registered and taken: `results` gives the result days (one round each)."""
    events = []
    for exam_day, passed in results:
        events += [ev(register_on, "exam_registered", person, part=p, channel="online", exam_date=exam_day,
                      location="Utrecht") for p in PARTS]
        events += [ev(exam_day, "exam_result", person, part=p, passed=passed) for p in PARTS]
        register_on = exam_day
    return events


def hours(day: str, count: int, listed: bool = True, person: str = "p1") -> dict:
    return ev(day, "course_hours_reported", person, school="Taalhuis Noord", hours=count, listed=listed,
              period_from="2019-09-01", period_to=day)


def scenario(events: list[dict], start: str, until: str, people: int = 1, policy: dict | None = None):
    doc = {"scenario": "term", "from": start, "until": until, "events": events,
           "people": {f"p{n}": {"bsn": demo_bsn(n), "name": f"Person {n}", "born": "1985-05-01"}
                      for n in range(1, people + 1)}}
    if policy:
        doc["policy"] = policy
    return parse_scenario(doc)


def letters(result: dict, type_: str, person: str = "p1") -> list[tuple[str, dict]]:
    return [(e["date"], e["data"]) for e in entries(result, "letter", type_, person)]


# ---- the term, its reminders, the pre-announcement and the fine -----------------------------------------


def nothing_done():
    return scenario(intake("2019-02-11"), "2019-02-11", "2022-03-15")


def test_a_term_with_reminders_then_pre_announcement_then_the_full_fine(database_url):
    result = replay(nothing_done(), database_url=database_url)
    ((_, start),) = letters(result, "start_letter")
    assert start["term_end"] == "2022-02-11"
    assert [(d, x["months_left"], x["term_end"]) for d, x in letters(result, "term_reminder")] == [
        ("2021-02-11", 12, "2022-02-11"), ("2021-11-11", 3, "2022-02-11")]
    ((day, pre),) = letters(result, "term_pre_announcement")
    assert day == "2022-02-14"  # the first working day after Friday 11 February
    assert {k: pre[k] for k in ("term_end", "amount", "respond_by", "parts_taken")} == {
        "term_end": "2022-02-11", "amount": "1250.00", "respond_by": "2022-02-28", "parts_taken": "none"}
    ((day, fine),) = letters(result, "fine")
    assert day == "2022-03-01"
    assert {k: fine[k] for k in ("amount", "hours", "parts_taken", "new_term_end")} == {
        "amount": "1250.00", "hours": 0, "parts_taken": "none", "new_term_end": "2024-03-01"}
    assert result["rejected"] == []


def test_every_part_taken_once_is_a_fine_of_1000(database_url):
    events = intake("2019-02-11") + exams("2021-06-01", [("2021-08-02", False)]) + [hours("2021-09-01", 120)]
    result = replay(scenario(events, "2019-02-11", "2022-03-15"), database_url=database_url)
    ((_, fine),) = letters(result, "fine")
    assert (fine["amount"], fine["hours"], fine["parts_taken"]) == ("1000.00", 120, "all_once")


def test_300_hours_and_every_failed_part_taken_twice_is_a_fine_of_0_and_still_a_decision(database_url):
    events = intake("2019-02-11") + exams("2021-06-01", [("2021-08-02", False), ("2021-10-04", False)])
    events += [hours("2021-09-01", 200), hours("2021-12-01", 120), hours("2021-12-02", 500, listed=False)]
    result = replay(scenario(events, "2019-02-11", "2022-03-15"), database_url=database_url)
    ((_, pre),) = letters(result, "term_pre_announcement")
    assert pre["amount"] == "0.00"
    ((day, fine),) = letters(result, "fine")
    assert (day, fine["amount"], fine["hours"], fine["parts_taken"], fine["new_term_end"]) == (
        "2022-03-01", "0.00", 320, "failed_twice", "2024-03-01")  # 500 hours at an unlisted school do not count


def test_the_follow_up_term_and_its_second_cycle_then_process_owners_decide(database_url):
    result = replay(scenario(intake("2019-02-11"), "2019-02-11", "2026-03-31"), database_url=database_url)
    assert [d for d, _ in letters(result, "term_reminder")] == [
        "2021-02-11", "2021-11-11", "2023-03-01", "2023-12-01", "2025-03-19", "2025-12-19"]
    assert [d for d, _ in letters(result, "term_pre_announcement")] == ["2022-02-14", "2024-03-04"]
    assert [(d, x["new_term_end"]) for d, x in letters(result, "fine")] == [
        ("2022-03-01", "2024-03-01"), ("2024-03-19", "2026-03-19")]
    (alert,) = entries(result, "alert", "term_passed_after_last_fine")
    assert alert["date"] == "2026-03-20" and alert["data"]["fines"] == 2


def test_a_diploma_before_the_end_stops_the_term(database_url):
    events = intake("2019-02-11") + [ev("2020-10-01", "participation_statement_signed")] + exams(
        "2020-09-01", [("2020-11-02", True)])
    result = replay(scenario(events, "2019-02-11", "2022-06-30"), database_url=database_url)
    ((day, diploma),) = letters(result, "diploma")
    assert day == "2020-11-02" and diploma["obligation_met_on"] == "2020-11-02"
    assert letters(result, "term_reminder") == [] and letters(result, "term_pre_announcement") == []
    assert letters(result, "fine") == []


def test_a_reminder_before_a_diploma_and_none_after_it():
    events = intake("2019-02-11") + exams("2021-01-04", [("2021-03-01", True)]) + [
        ev("2021-03-01", "participation_statement_signed")]
    result = replay(scenario(events, "2019-02-11", "2022-06-30"))
    assert [d for d, _ in letters(result, "term_reminder")] == ["2021-02-11"]
    assert letters(result, "fine") == []


@pytest.mark.parametrize("start, term_end, pre_announced", [
    ("2019-03-05", "2022-03-07", "2022-03-08"),  # 5 March 2022 is a Saturday: the term runs to Monday
    ("2019-04-27", "2022-04-28", "2022-04-29"),  # 27 April 2022 is King's Day
])
def test_a_term_ending_on_a_saturday_or_a_holiday_runs_to_the_next_working_day(database_url, start, term_end,
                                                                                 pre_announced):
    result = replay(scenario(intake(start), start, "2022-05-31"), database_url=database_url)
    ((_, letter),) = letters(result, "start_letter")
    assert letter["term_end"] == term_end
    ((day, pre),) = letters(result, "term_pre_announcement")
    assert (day, pre["term_end"]) == (pre_announced, term_end)


# ---- extensions -------------------------------------------------------------------------------------------


def extension(person: str, ground: str, evidence: str, on: str = "2021-09-01") -> dict:
    return ev(on, "extension_requested", person, ground=ground, evidence_date=evidence)


EXTENSIONS = [  # (ground, evidence, extra events, decision, reasons, term_end)
    ("effort", "2021-08-01", "effort", "granted", [], "2024-02-12"),  # 2024-02-11 is a Sunday
    ("effort", "2021-08-01", None, "refused", ["effort_hours", "effort_attempts"], "2022-02-11"),
    ("birth", "2021-05-01", None, "granted", [], "2022-06-03"),
    ("birth", "2018-12-01", None, "refused", ["evidence_in_term"], "2022-02-11"),
    ("death", "2020-10-12", None, "granted", [], "2022-05-11"),
    ("death", "2023-01-01", None, "refused", ["evidence_in_term"], "2022-02-11"),
    ("alfa", "2019-09-02", None, "granted", [], "2024-02-12"),
    ("alfa", "2019-09-02", "early", "refused", ["term_old_enough"], "2022-02-11"),
    ("illness", "2021-03-01", None, "granted", [], "2022-08-11"),
    ("illness", "2021-08-15", None, "refused", ["illness_long_enough"], "2022-02-11"),
]


def extension_scenario():
    events = []
    for n, (ground, evidence, extra, *_rest) in enumerate(EXTENSIONS, start=1):
        person = f"p{n}"
        events += intake("2019-02-11", person)
        if extra == "effort":
            events += exams("2021-03-01", [("2021-05-03", False), ("2021-07-05", False)], person)
            events.append(hours("2021-07-01", 320, person=person))
        on = "2020-06-01" if extra == "early" else "2021-09-01"
        events.append(extension(person, ground, evidence, on))
    return scenario(events, "2019-02-11", "2021-09-30", people=len(EXTENSIONS))


def test_each_extension_ground_granted_and_refused(database_url):
    result = replay(extension_scenario(), database_url=database_url)
    assert result["rejected"] == []
    for n, (ground, _, _, decision, reasons, term_end) in enumerate(EXTENSIONS, start=1):
        ((_, letter),) = letters(result, "extension_decision", f"p{n}")
        assert (letter["ground"], letter["decision"], letter["reasons"], letter["term_end"]) == (
            ground, decision, reasons, term_end), n


def test_a_granted_extension_moves_the_reminders_the_pre_announcement_and_the_fine():
    events = intake("2019-02-11") + [extension("p1", "birth", "2021-05-01")]
    result = replay(scenario(events, "2019-02-11", "2022-07-31"))
    assert [(d, x["term_end"]) for d, x in letters(result, "term_reminder")] == [
        ("2021-02-11", "2022-02-11"), ("2022-03-03", "2022-06-03")]
    ((day, pre),) = letters(result, "term_pre_announcement")
    assert (day, pre["term_end"]) == ("2022-06-07", "2022-06-03")  # Monday 6 June 2022 is Whit Monday
    ((day, _),) = letters(result, "fine")
    assert day == "2022-06-22"


def test_an_extension_without_an_open_term_is_rejected_with_the_reason():
    events = [ev("2021-09-01", "residence_permit_granted", voluntary=True),
              extension("p1", "birth", "2021-05-01", on="2021-09-02")]
    result = replay(scenario(events, "2021-09-01", "2021-09-30"))
    (rejected,) = result["rejected"]
    assert "this person has no open integration term" in rejected["reason"]


def test_an_extension_under_staff_review_waits_and_is_overdue_after_eight_weeks():
    events = intake("2019-02-11") + [extension("p1", "death", "2020-10-12"),
                                     ev("2021-11-10", "staff_decision", case="extension", decision="granted")]
    result = replay(scenario(events, "2019-02-11", "2021-11-30", policy={"extension_staff_review": True}))
    (alert,) = entries(result, "alert", "decision_overdue")
    assert alert["date"] == "2021-10-28"  # 2021-09-01 + 8 weeks = Wednesday 2021-10-27
    ((day, decision),) = letters(result, "extension_decision")
    assert (day, decision["decision"], decision["decided_by"], decision["term_end"]) == (
        "2021-11-10", "granted", "staff", "2022-05-11")


def test_extension_rules_by_name():
    policy = load_default_policy()
    base = ExtensionFile(ground="alfa", evidence_date=dt.date(2021, 5, 1), requested_on=dt.date(2021, 9, 1),
                         regime="wi2021", term_start=dt.date(2019, 2, 11), term_end=dt.date(2022, 2, 11),
                         follow_up=False, listed_hours=0, attempts={})
    assert term_rules.failed_rules(base, policy) == ["wi2013_only"]
    assert term_rules.failed_rules(ExtensionFile(**{**base.__dict__, "ground": "effort", "listed_hours": 300,
                                                    "attempts": {"knm": (2, False), "lezen": (1, True)}}),
                                   policy) == []
    assert term_rules.parts_taken({"knm": (1, False), "lezen": (0, False)}) == "none"
    assert term_rules.parts_taken({"knm": (1, False), "lezen": (1, True)}) == "all_once"
    assert term_rules.parts_taken({"knm": (2, False), "lezen": (1, True)}) == "failed_twice"
    assert term_rules.fine_amount(policy, "wi2013", dt.date(2022, 1, 1), 150, "all_once") == 625


# ---- through Prefect ---------------------------------------------------------------------------------------


@pytest.mark.prefect
def test_prefect_gives_the_same_term_timelines(prefect_server):
    for built in (nothing_done(), extension_scenario()):
        assert replay(built, engine="prefect") == replay(built)


def test_cases_process_term_lists_the_terms_and_where_each_stands(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from inburgering.cli import app

    url = f"sqlite:///{tmp_path / 'case.db'}"
    events = intake("2019-02-11") + intake("2019-03-05", "p2") + [extension("p2", "birth", "2021-05-01")]
    replay(scenario(events, "2019-02-11", "2021-12-01", people=2,
                    policy={"extension_staff_review": True}), database_url=url)
    monkeypatch.setenv("INBURGERING_DATABASE_URL", url)
    shown = CliRunner().invoke(app, ["cases", "--process", "term"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "open term cases" in shown.output
    assert "term_ending_soon" in shown.output and "2022-02-11" in shown.output  # p1: the 3-month reminder went
    assert "extension_under_review" in shown.output  # p2 waits for the staff decision
