"""Intake: the start letter after the three prerequisites, the regimes, the 8-week SLA."""

from __future__ import annotations

import itertools

import pytest

from tests.scenario_helpers import entries, make_scenario, replay

PREREQUISITES = [
    {"type": "residence_permit_granted"},
    {"type": "bsn_registered"},
    {"type": "municipality_registered", "municipality": "Utrecht"},
]


def _events(order, dates, permit_extra=None):
    events = []
    for i, date in zip(order, dates):
        event = {"date": date, "person": "p1", **PREREQUISITES[i]}
        if i == 0 and permit_extra:
            event.update(permit_extra)
        events.append(event)
    return events


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_start_letter_goes_out_the_day_the_last_prerequisite_arrives_in_any_order(order):
    result = replay(make_scenario(_events(order, ["2020-02-10", "2020-03-01", "2020-03-20"],
                                          {"obligation_start": "2020-02-10"}),
                                  start="2020-01-01", until="2020-06-30"))
    letters = entries(result, "letter", "start_letter")
    assert len(letters) == 1
    assert letters[0]["date"] == "2020-03-20"
    assert letters[0]["data"]["start_date"] == "2020-02-10"
    assert letters[0]["data"]["term_end"] == "2023-02-10"
    assert not entries(result, "alert")


def test_no_letter_while_a_prerequisite_is_missing():
    result = replay(make_scenario(_events([0, 1], ["2020-02-10", "2020-03-01"]), start="2020-01-01",
                                  until="2020-12-31"))
    assert entries(result, "letter") == []


def test_start_date_is_the_permit_date_not_the_letter_date():
    result = replay(make_scenario(_events([0, 1, 2], ["2020-02-10", "2020-06-01", "2020-06-02"]),
                                  start="2020-02-01", until="2020-06-30"))
    (letter,) = entries(result, "letter", "start_letter")
    assert letter["date"] == "2020-06-02"
    assert letter["data"]["start_date"] == "2020-02-10"


@pytest.mark.parametrize(
    "obligation_start, regime",
    [("2013-01-01", "wi2013"), ("2021-12-31", "wi2013"), ("2022-01-01", "wi2021")],
)
def test_regime_follows_the_obligation_start(obligation_start, regime):
    result = replay(make_scenario(_events([0, 1, 2], ["2022-03-01"] * 3, {"obligation_start": obligation_start}),
                                  start="2022-03-01", until="2022-03-02"))
    (letter,) = entries(result, "letter", "start_letter")
    assert letter["data"]["regime"] == regime
    assert letter["data"]["start_date"] == obligation_start
    if regime == "wi2021":
        assert letter["data"]["term_end"] is None


def test_obligation_before_2013_is_refused_and_referred_to_the_municipality():
    result = replay(make_scenario(_events([0, 1, 2], ["2022-03-01"] * 3, {"obligation_start": "2012-12-31"}),
                                  start="2022-03-01", until="2022-03-02"))
    assert entries(result, "letter") == []
    (rejected,) = result["rejected"]
    assert rejected["event"] == 0
    assert "2012-12-31" in rejected["reason"] and "municipality" in rejected["reason"]


def test_voluntary_integration_has_no_term():
    result = replay(make_scenario(_events([0, 1, 2], ["2022-03-01"] * 3, {"voluntary": True}),
                                  start="2022-03-01", until="2022-03-02"))
    (letter,) = entries(result, "letter", "start_letter")
    assert letter["data"]["regime"] == "voluntary"
    assert letter["data"]["term_end"] is None


def test_wi2021_term_runs_three_years_from_the_day_after_the_pip():
    events = _events([0, 1, 2], ["2022-03-01"] * 3) + [
        {"date": "2022-06-14", "type": "pip_established", "person": "p1", "route": "b1"}]
    result = replay(make_scenario(events, start="2022-03-01", until="2022-06-30"))
    (term,) = entries(result, "letter", "term_established")
    # 2022-06-15 + 3 years = 2025-06-15, a Sunday: the Atw moves it to Monday 2025-06-16
    assert term["data"]["term_end"] == "2025-06-16"


def test_wi2013_term_end_on_a_holiday_moves_to_the_next_working_day():
    # 2014-12-25 + 3 years = Christmas Day 2017 (Monday); Boxing Day is a holiday too
    result = replay(make_scenario(_events([0, 1, 2], ["2015-01-05"] * 3, {"obligation_start": "2014-12-25"}),
                                  start="2015-01-05", until="2015-01-06"))
    (letter,) = entries(result, "letter", "start_letter")
    assert letter["data"]["term_end"] == "2017-12-27"


def test_pip_under_wi2013_is_rejected():
    events = _events([0, 1, 2], ["2020-03-01"] * 3) + [
        {"date": "2020-04-01", "type": "pip_established", "person": "p1", "route": "b1"}]
    result = replay(make_scenario(events, start="2020-03-01", until="2020-04-02"))
    assert [r["event"] for r in result["rejected"]] == [3]
    assert "Wi2021" in result["rejected"][0]["reason"]


def test_duplicate_event_is_applied_once():
    events = _events([0, 1, 2], ["2020-03-01", "2020-03-02", "2020-03-03"])
    events.append(dict(events[2]))
    result = replay(make_scenario(events, start="2020-03-01", until="2020-03-10"))
    assert len(entries(result, "letter", "start_letter")) == 1
    assert [r["event"] for r in result["rejected"]] == [3]
    assert "duplicate" in result["rejected"][0]["reason"]


def test_held_letters_raise_the_overdue_alert_after_eight_weeks_and_go_out_when_released():
    events = _events([0, 1, 2], ["2020-03-02", "2020-03-02", "2020-03-02"])
    result = replay(make_scenario(events, start="2020-03-01", until="2020-06-30",
                                  holds=[{"letters": "start_letter", "from": "2020-03-01", "until": "2020-05-31"}]))
    (alert,) = entries(result, "alert", "start_letter_overdue")
    # 2020-03-02 + 56 days = 2020-04-27 is the last day on time; the alert fires the day after
    assert alert["date"] == "2020-04-28"
    (letter,) = entries(result, "letter", "start_letter")
    assert letter["date"] == "2020-06-01"


def test_letter_sent_on_the_last_day_raises_no_alert():
    events = _events([0, 1, 2], ["2020-03-02", "2020-03-02", "2020-03-02"])
    result = replay(make_scenario(events, start="2020-03-01", until="2020-06-30",
                                  holds=[{"letters": "start_letter", "from": "2020-03-01", "until": "2020-04-26"}]))
    assert entries(result, "alert") == []
    assert entries(result, "letter", "start_letter")[0]["date"] == "2020-04-27"


def test_start_letter_scenario_on_both_databases(scenarios_dir, database_url):
    result = replay(scenarios_dir / "start_letter.yaml", database_url=database_url)
    letters = entries(result, "letter", "start_letter", "p1")
    assert len(letters) == 1
    assert "2020-03-20" <= letters[0]["date"] <= "2020-05-15"
    assert {k: letters[0]["data"][k] for k in ("regime", "start_date", "term_end")} == {
        "regime": "wi2013", "start_date": "2020-02-10", "term_end": "2023-02-10"}
    assert entries(result, "alert", "start_letter_overdue") == []
    assert result["rejected"] == []
