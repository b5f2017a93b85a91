"""Time that skips (engine/driver.py): a replay that goes from one due thing to the next gives
the timeline of a replay that walks every day, on every shared scenario, on the hold case of
scenarios.md (round three) and on random journeys from the benchmark's generator."""

from __future__ import annotations

import datetime as dt

import pytest

from bench.generate import generate
from inburgering.engine.driver import next_day_with_work, skip_days
from inburgering.scenario.loader import load_scenario, parse_scenario
from inburgering.scenario.runner import embedded_driver, every_day_driver, run_scenario
from inburgering.store.db import CaseFile
from tests.conftest import SCENARIOS
from tests.scenario_helpers import entries, make_scenario

INVOICE = {"type": "invoice_submitted", "person": "p1", "school": "Taalhuis Noord", "invoice_number": "F-1",
           "contract_number": "C-1", "course_type": "Inburgering", "description": "kwartaal",
           "invoice_date": "2022-05-10", "period_from": "2022-04-01", "period_to": "2022-04-30", "courses": 4,
           "course_fee": "400.00", "materials_fee": "0.00", "exam_fee": "0.00"}


def held_in_may():
    """Letters of one type on hold in May; an invoice submitted on 2022-05-10 waits in it."""
    return make_scenario([
        {"date": "2022-05-02", "type": "residence_permit_granted", "person": "p1", "obligation_start": "2021-06-01"},
        {"date": "2022-05-02", "type": "bsn_registered", "person": "p1"},
        {"date": "2022-05-03", "type": "loan_granted", "person": "p1", "amount": "10000.00"},
        {"date": "2022-05-10", **INVOICE},
    ], start="2022-05-01", until="2022-07-31",
        holds=[{"letters": "invoice_waiting", "from": "2022-05-01", "until": "2022-05-31", "reason": "test"}])


def _both(scenario) -> tuple[dict, dict]:
    return run_scenario(scenario, driver=embedded_driver), run_scenario(scenario, driver=every_day_driver)


@pytest.mark.parametrize("name", sorted(p.name for p in SCENARIOS.glob("*.yaml")))
def test_a_shared_scenario_gives_the_same_timeline_skipping_empty_days(name):
    skipping, walking = _both(load_scenario(SCENARIOS / name))
    assert skipping == walking
    assert skipping["timeline"]


def test_a_hold_ending_on_the_31st_releases_its_letters_on_the_1st_when_days_are_skipped():
    skipping, walking = _both(held_in_may())
    assert skipping == walking
    assert [e["date"] for e in entries(skipping, "email", "invoice_waiting")] == ["2022-06-01"]


@pytest.mark.parametrize("seed", [3, 11])
def test_random_journeys_give_the_same_timeline_skipping_empty_days(seed):
    journeys = generate(25, years=2, seed=seed)
    skipping, walking = _both(parse_scenario(journeys.scenario_doc()))
    assert skipping == walking
    assert len(skipping["timeline"]) > 100


def test_the_next_day_with_work_is_each_kind_of_due_thing(tmp_path):
    """An event, a deadline, a hold's end, a held letter's overdue day: each is a day with work,
    and the days between them are skipped."""
    from inburgering.scenario.runner import prepare

    case_file = CaseFile(f"sqlite:///{tmp_path / 'days.db'}")
    try:
        scenario = held_in_may()
        prepare(case_file, scenario)
        from inburgering.engine import service

        worker = service.Worker(case_file, keep_loaded=True)
        ran: list[dt.date] = []
        skip_days(case_file, scenario.start, scenario.until, lambda day: (ran.append(day), worker.day(day)))
        assert ran[:4] == [dt.date(2022, 5, 1), dt.date(2022, 5, 2), dt.date(2022, 5, 3), dt.date(2022, 5, 10)]
        assert dt.date(2022, 6, 1) in ran  # the hold ends on the 31st: its letters go on the 1st
        assert len(ran) < 20  # three months, walked by their due days only
        with case_file.transaction() as session:
            assert next_day_with_work(session, scenario.until) is None or \
                next_day_with_work(session, scenario.until) > scenario.until
    finally:
        case_file.dispose()
