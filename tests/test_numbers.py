"""The numbers of a month (issue 24): per process and ISO week, how many start letters and
invoice answers there were, how many within their service level, and the lead times; what waits
now; the waiting and late cases as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

from inburgering.engine import numbers
from inburgering.store.db import CaseFile, load_policy
from tests.scenario_helpers import PEOPLE, make_scenario, replay
from tests.test_invoicing import LOAN, accept, invoice

TODAY = dt.date(2022, 6, 30)


def _month(tmp_path) -> CaseFile:  # noqa: ANN001
    events = [{"date": "2022-03-02", "type": t, "person": "p1", **extra} for t, extra in (
        ("residence_permit_granted", {"obligation_start": "2021-06-01"}), ("bsn_registered", {}),
        ("municipality_registered", {"municipality": "Utrecht"}))]
    events += [{"date": "2022-06-07", "type": t, "person": "p2", **extra} for t, extra in (
        ("residence_permit_granted", {"obligation_start": "2021-06-01"}), ("bsn_registered", {}),
        ("municipality_registered", {"municipality": "Zwolle"}))]
    events += [{**LOAN, "date": "2022-04-01"}, invoice("2022-05-02", "F-1", "250.00"), accept("2022-06-20", "F-1"),
               invoice("2022-06-01", "F-2", "100.00"), accept("2022-06-08", "F-2"),
               invoice("2022-05-10", "F-3", "80.00")]  # never answered: waiting, late from 2022-06-21
    url = f"sqlite:///{tmp_path / 'month.db'}"
    replay(make_scenario(events, start="2022-03-01", until=TODAY.isoformat(), people=PEOPLE,
                         holds=[{"letters": "start_letter", "from": "2022-03-01", "until": "2022-05-31"}]),
           database_url=url)
    return CaseFile(url, create=False)


def test_a_month_per_process_and_week_against_the_service_levels(tmp_path):
    case_file = _month(tmp_path)
    with case_file.transaction() as session:
        month = numbers.month_numbers(session, load_policy(session), "2022-06", TODAY)
    letters, decisions, answers = month["measures"]
    # p1's start letter was held: sent 2022-06-01, 91 days after its prerequisites; p2's the same day
    assert letters["month"] == {"done": 2, "on_time": 1, "late": 1, "on_time_pct": 50, "median_days": 45.5,
                                "longest_days": 91}
    by_week = {w["week"]: (w["done"], w["on_time"]) for w in letters["weeks"]}
    assert by_week == {"2022-W22": (1, 0), "2022-W23": (1, 1), "2022-W24": (0, 0), "2022-W25": (0, 0),
                       "2022-W26": (0, 0)}
    assert letters["weeks"][0]["from"] == "2022-06-01"  # the week cut to the month
    assert decisions["month"]["done"] == 0
    # F-1 answered after 49 days (late: alerted after 42), F-2 after 7
    assert (answers["month"]["done"], answers["month"]["on_time"], answers["month"]["longest_days"]) == (2, 1, 49)
    text = numbers.numbers_markdown(month)
    assert "# The numbers of 2022-06" in text and "| 2022-W22 (06-01–06-05) | 1 | 0 | 1 |" in text
    assert "░" in text and "█" in text and "50 % on time" in text


def test_the_waiting_and_late_cases_as_csv(tmp_path):
    case_file = _month(tmp_path)
    with case_file.transaction() as session:
        rows = list(csv.DictReader(io.StringIO(numbers.waiting_csv(session, TODAY))))
        late = list(csv.DictReader(io.StringIO(numbers.waiting_csv(session, TODAY, late_only=True))))
    assert rows and set(rows[0]) == set(numbers.CSV_COLUMNS)
    assert all(r["case"].startswith("case-") for r in rows)
    assert {r["case"] for r in late} <= {r["case"] for r in rows}
    assert all(r["late_since"] for r in late)
    assert "123456782" not in str(rows)
    [f3] = [r for r in late if r["process"] == "invoicing"]
    assert (f3["waiting_since"], f3["late_since"], f3["days_late"]) == ("2022-05-10", "2022-06-21", "10")


def test_a_month_that_is_not_one_is_refused_with_a_sentence():
    import pytest

    from inburgering.engine.errors import InputError

    with pytest.raises(InputError, match="month: '2022-13' is not a month; write it as YYYY-MM"):
        numbers.month_bounds("2022-13", TODAY)
    assert numbers.month_bounds(None, dt.date(2026, 12, 7)) == (dt.date(2026, 12, 1), dt.date(2026, 12, 7))
