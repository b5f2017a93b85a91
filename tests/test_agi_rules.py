"""The AGI rules, each at its boundary. Pure functions: no database."""

from __future__ import annotations

import datetime as dt

import pytest

from inburgering.domain import agi_rules
from inburgering.domain.agi_rules import AgiFile, Requirements, failed_rules
from inburgering.domain.events import AttemptCount, Hours
from inburgering.domain.policy import PolicyError, load_default_policy

D = dt.date
POLICY = load_default_policy()
REQ = Requirements.from_policy(POLICY, D(2021, 9, 1))
ALL_PARTS_FOUR = {part: {"integration": 4} for part in ("lezen", "luisteren", "schrijven", "spreken", "knm")}


def course(integration=0, nt2=0, alfa=0, listed=True, attempts=None) -> AgiFile:
    return AgiFile(route="course", hours=Hours(integration=integration, nt2=nt2, alfa=alfa),
                   school_listed_at_course_start=listed,
                   attempts={p: AttemptCount(**a) for p, a in (ALL_PARTS_FOUR if attempts is None else attempts).items()})


def alfa(integration=0, alfa=0, nt2=0, listed=True, active=True) -> AgiFile:
    return AgiFile(route="alfa", hours=Hours(integration=integration, nt2=nt2, alfa=alfa),
                   school_listed_at_course_start=listed, test_active=active)


def test_default_requirements_are_the_published_numbers():
    assert REQ == Requirements(min_hours=600, min_integration_hours_for_alfa=200, min_alfa_hours=300, min_attempts=4,
                               max_nt2_attempts_per_part=2,
                               attempt_parts=("lezen", "luisteren", "schrijven", "spreken", "knm"))


# ---- course route: hours ----------------------------------------------------------------------


@pytest.mark.parametrize("nt2, met", [(299, False), (300, True)])
def test_course_hours_599_fails_600_passes(nt2, met):
    assert agi_rules.course_hours(course(integration=300, nt2=nt2), REQ) is met


@pytest.mark.parametrize("integration, alfa_hours, met", [(199, 401, False), (200, 400, True)])
def test_alfa_hours_count_on_the_course_route_only_from_200_integration_hours(integration, alfa_hours, met):
    assert agi_rules.course_hours(course(integration=integration, alfa=alfa_hours), REQ) is met


def test_nt2_hours_count_on_the_course_route_whatever_the_integration_hours():
    assert agi_rules.course_hours(course(integration=199, nt2=401), REQ)


def test_school_must_have_been_listed_when_the_course_started():
    assert agi_rules.school_listed(course(integration=600, listed=True), REQ)
    assert not agi_rules.school_listed(course(integration=600, listed=False), REQ)


# ---- course route: attempts -----------------------------------------------------------------------


@pytest.mark.parametrize("attempts, met", [(3, False), (4, True)])
def test_three_attempts_fail_four_pass(attempts, met):
    file = course(integration=600, attempts={**ALL_PARTS_FOUR, "spreken": {"integration": attempts}})
    assert agi_rules.exam_attempts(file, REQ) is met


@pytest.mark.parametrize("nt2, met", [(1, False), (2, True), (3, True)])
def test_two_nt2_attempts_count_per_part(nt2, met):
    file = course(integration=600, attempts={**ALL_PARTS_FOUR, "lezen": {"integration": 2, "nt2": nt2}})
    assert agi_rules.exam_attempts(file, REQ) is met


def test_a_third_nt2_attempt_does_not_count():
    file = course(integration=600, attempts={**ALL_PARTS_FOUR, "lezen": {"integration": 1, "nt2": 3}})
    assert not agi_rules.exam_attempts(file, REQ)
    assert agi_rules.parts_short_of_attempts(file, REQ) == [{"part": "lezen", "counted": 3}]


def test_nt2_attempts_do_not_count_for_knm_the_nt2_exam_has_no_such_part():
    file = course(integration=600, attempts={**ALL_PARTS_FOUR, "knm": {"integration": 2, "nt2": 2}})
    assert agi_rules.parts_short_of_attempts(file, REQ) == [{"part": "knm", "counted": 2}]


def test_a_part_with_no_attempts_counts_zero():
    attempts = {p: a for p, a in ALL_PARTS_FOUR.items() if p != "schrijven"}
    assert agi_rules.parts_short_of_attempts(course(integration=600, attempts=attempts), REQ) == [
        {"part": "schrijven", "counted": 0}]


def test_ona_needs_no_attempts_unless_policy_lists_it():
    file = course(integration=600)
    assert agi_rules.exam_attempts(file, REQ)
    with_ona = Requirements.from_policy(POLICY.with_overrides(
        {"agi_attempt_parts": "lezen,luisteren,schrijven,spreken,knm,ona"}), D(2021, 9, 1))
    assert agi_rules.parts_short_of_attempts(file, with_ona) == [{"part": "ona", "counted": 0}]


def test_policy_attempt_parts_must_be_exam_parts():
    with pytest.raises(PolicyError, match="unknown: typen"):
        POLICY.with_overrides({"agi_attempt_parts": "lezen,typen"})


# ---- alfa route -------------------------------------------------------------------------------------


@pytest.mark.parametrize("integration, met", [(279, False), (280, True)])
def test_alfa_route_599_hours_fail_600_pass(integration, met):
    assert agi_rules.alfa_route_hours(alfa(integration=integration, alfa=320), REQ) is met


def test_nt2_hours_do_not_count_on_the_alfa_route():
    assert not agi_rules.alfa_route_hours(alfa(alfa=300, nt2=300), REQ)


@pytest.mark.parametrize("alfa_hours, met", [(299, False), (300, True)])
def test_alfa_route_needs_300_alfa_hours(alfa_hours, met):
    assert agi_rules.alfa_course_hours(alfa(integration=400, alfa=alfa_hours), REQ) is met


def test_naturalisation_advice_needs_600_alfa_hours():
    advice = Requirements.from_policy(POLICY, D(2021, 9, 1), advice=True)
    assert not agi_rules.alfa_course_hours(alfa(integration=280, alfa=320), advice)
    assert agi_rules.alfa_course_hours(alfa(alfa=600), advice)


@pytest.mark.parametrize("active, met", [(True, True), (False, False), (None, False)])
def test_the_alfa_test_counts_only_when_taken_actively(active, met):
    assert agi_rules.alfa_test_active(alfa(integration=300, alfa=300, active=active), REQ) is met


# ---- the rules together -----------------------------------------------------------------------------


def test_a_course_file_meeting_everything_fails_no_rule():
    assert failed_rules(course(integration=600), REQ) == []


def test_every_failed_rule_is_named_in_order():
    file = course(integration=100, listed=False, attempts={})
    assert failed_rules(file, REQ) == ["course_hours", "school_listed", "exam_attempts"]
    file = alfa(integration=100, alfa=100, listed=False, active=False)
    assert failed_rules(file, REQ) == ["alfa_route_hours", "alfa_course_hours", "school_listed", "alfa_test_active"]


def test_alfa_route_file_is_not_judged_on_attempts():
    assert failed_rules(alfa(integration=280, alfa=320), REQ) == []


@pytest.mark.parametrize("hours, hardship", [(dict(integration=199, alfa=400), False),
                                             (dict(integration=199, alfa=401), True)])
def test_hardship_counts_every_reported_hour(hours, hardship):
    assert agi_rules.is_hardship(course(**hours), REQ) is hardship


# ---- scope and the decision term ------------------------------------------------------------------------


def test_two_and_a_half_years_after_15_june_2019_is_15_december_2021():
    assert agi_rules.first_application_day(D(2019, 6, 15), 2.5) == D(2021, 12, 15)


@pytest.mark.parametrize("applied_on, ok", [(D(2021, 12, 14), False), (D(2021, 12, 15), True),
                                            (D(2021, 12, 16), True)])
def test_term_must_be_two_and_a_half_years_old(applied_on, ok):
    assert agi_rules.term_old_enough(D(2019, 6, 15), applied_on, 2.5) is ok


def test_two_and_a_half_years_from_the_31st_ends_on_the_last_day_of_the_month():
    assert agi_rules.first_application_day(D(2019, 8, 31), 2.5) == D(2022, 2, 28)


@pytest.mark.parametrize("start, ok", [(D(2021, 12, 31), True), (D(2022, 1, 1), False)])
def test_only_obligations_before_2022_can_be_exempted(start, ok):
    assert agi_rules.obligation_before_wi2021(start) is ok
