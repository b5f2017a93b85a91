"""The Algemene termijnenwet calendar and the date arithmetic the rules rely on."""

from __future__ import annotations

import datetime as dt

import pytest

from inburgering.domain import calendar

D = dt.date


@pytest.mark.parametrize(
    "nominal, real_end, why",
    [
        (D(2021, 5, 5), D(2021, 5, 6), "5 May counts every year, not only lustrum years"),
        (D(2021, 4, 2), D(2021, 4, 6), "Good Friday, then Easter Monday"),
        (D(2025, 4, 26), D(2025, 4, 28), "King's Day on the 26th when the 27th is a Sunday, then Sunday"),
        (D(2023, 5, 18), D(2023, 5, 19), "Ascension Day"),
        (D(2024, 12, 25), D(2024, 12, 27), "both Christmas days"),
        (D(2022, 1, 1), D(2022, 1, 3), "New Year's Day on a Saturday"),
        (D(2023, 2, 10), D(2023, 2, 10), "an ordinary Friday stays"),
    ],
)
def test_statutory_term_end_moves_to_the_next_working_day(nominal, real_end, why):
    assert calendar.statutory_term_end(nominal) == real_end, why


def test_eight_weeks_are_56_calendar_days():
    assert calendar.add_weeks(D(2020, 3, 20), 8) == D(2020, 5, 15)


@pytest.mark.parametrize(
    "start, years, expected",
    [(D(2019, 6, 15), 2.5, D(2021, 12, 15)), (D(2020, 2, 29), 3, D(2023, 2, 28)), (D(2019, 8, 31), 2.5, D(2022, 2, 28))],
)
def test_years_as_pendulum_counts_them(start, years, expected):
    assert calendar.add_years(start, years) == expected


def test_quarters():
    assert calendar.quarter_of(D(2022, 6, 30)) == "2022-Q2"
    assert calendar.next_quarter("2022-Q4") == "2023-Q1"
    assert calendar.quarter_start("2022-Q3") == D(2022, 7, 1)
