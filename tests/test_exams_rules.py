"""The regime/part table, fees with validity dates and the AOW-age exemption, without a database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from inburgering.domain.exam_rules import Facts, assess, exam_fee, has_aow_age, required_parts
from inburgering.domain.policy import Policy, PolicyEntry, load_default_policy

POLICY = load_default_policy()
LANGUAGE = ["lezen", "luisteren", "schrijven", "spreken"]
D = dt.date.fromisoformat


def facts(regime: str, route: str | None = None, start: str = "2020-01-06", born: str | None = "1990-05-01",
          on: str = "2022-06-01") -> Facts:
    return Facts(regime=regime, route=route, obligation_start=D(start), born=D(born) if born else None,
                 on=D(on), policy=POLICY)


@pytest.mark.parametrize("f, parts", [
    (facts("wi2013", start="2014-12-31"), LANGUAGE + ["knm"]),
    (facts("wi2013", start="2015-01-01"), LANGUAGE + ["knm", "ona"]),
    (facts("wi2021", "b1", start="2022-03-01"), LANGUAGE + ["knm"]),
    (facts("wi2021", "onderwijs", start="2022-03-01"), []),
    (facts("wi2021", "z", start="2022-03-01"), []),
    (facts("wi2021", None, start="2022-03-01"), []),
    (facts("voluntary", born="1990-05-01"), LANGUAGE + ["knm", "ona"]),
    (facts("voluntary", born="1950-01-01"), LANGUAGE + ["knm"]),
    (facts("voluntary", born=None), LANGUAGE + ["knm", "ona"]),  # no birth date: no AOW exemption
])
def test_required_parts_by_regime_and_route(f, parts):
    assert required_parts(f) == parts


def test_language_level_is_a2_under_wi2013_and_b1_in_the_wi2021_b1_route():
    assert {assess(facts("wi2013"))[p].level for p in LANGUAGE} == {"A2"}
    assert {assess(facts("wi2021", "b1", start="2022-03-01"))[p].level for p in LANGUAGE} == {"B1"}


def test_ona_date_is_policy():
    policy = POLICY.with_overrides({"wi2013_ona_required_from": "2016-01-01"})
    f = Facts("wi2013", None, D("2015-06-01"), None, D("2020-01-01"), policy)
    assert "ona" not in required_parts(f)
    assert "2016-01-01" in assess(f)["ona"].reason


def test_aow_age_follows_the_age_in_force_on_the_day():
    # 2022: 66 years 7 months. Born 1955-11-15 -> AOW age on 2022-06-15.
    assert not has_aow_age(D("1955-11-15"), D("2022-06-14"), POLICY)
    assert has_aow_age(D("1955-11-15"), D("2022-06-15"), POLICY)
    # 2024: 67 years
    assert not has_aow_age(D("1957-03-01"), D("2024-02-29"), POLICY)
    assert has_aow_age(D("1957-03-01"), D("2024-03-01"), POLICY)


def test_fees_per_part_follow_their_validity_dates():
    policy = Policy.from_entries(POLICY.entries() + [
        PolicyEntry("exam_fee", D("2025-01-01"), Decimal("55.00")),
    ])
    assert exam_fee("lezen", D("2024-12-31"), policy) == Decimal("50.00")
    assert exam_fee("lezen", D("2025-01-01"), policy) == Decimal("55.00")
    assert exam_fee("ona", D("2025-01-01"), policy) == Decimal("40.00")
