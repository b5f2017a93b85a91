"""Policy values are checked for range and meaning, key by key: a value that would make a
process loop, overflow a date or pay a negative amount is refused with a sentence naming
the key, before anything runs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from inburgering.domain.bsn import BSN_REMOVED
from inburgering.domain.policy import PolicyError, load_default_policy, parse_value

BSN = "123456782"


@pytest.mark.parametrize("key, value, says", [
    ("invoice_reminder_after_days", 0, "must be at least 1"),
    ("invoice_reminder_after_days", -14, "must be at least 1"),
    ("invoice_reminder_after_days", 10**12, "must be at most"),
    ("invoice_reminder_after_days", 1.5, "must be a whole number"),
    ("invoice_reminder_after_days", True, "must be a whole number"),
    ("invoice_reminder_after_days", float("nan"), "must be a whole number"),
    ("invoice_reminder_after_days", "1e30", "must be a whole number"),
    ("alfa_test_invoice_reminder_after_days", 0, "must be at least 1"),
    ("invoice_waiting_long_after_days", 0, "must be at least 1"),
    ("start_letter_max_days", 0, "must be at least 1"),
    ("agi_decision_weeks", 0, "must be at least 1"),
    ("exam_invitation_days_online", 0, "must be at least 1"),
    ("exam_form_invitation_working_days", 0, "must be at least 1"),
    ("invoice_reminders_max", -1, "must be at least 0"),
    ("agi_min_hours", -600, "must be at least 0"),
    ("agi_min_attempts", 10**9, "must be at most"),
    ("aow_age_months", 0, "must be at least"),
    ("invoice_quarter_cap", "-1.00", "must be at least 0.00"),
    ("invoice_quarter_cap", "99999999999999999999.00", "is too large: at most 1000000.00"),
    ("invoice_quarter_cap", "1e30", "is not an amount"),
    ("invoice_quarter_cap", "NaN", "is not an amount"),
    ("exam_fee", "-50.00", "must be at least 0.00"),
    ("alfa_test_fee", 2.5, "not as floating-point numbers"),
    ("wi2013_term_years", 0, "must be more than 0"),
    ("wi2013_term_years", -3, "must be more than 0"),
    ("wi2021_term_years", float("inf"), "is not a number"),
    ("wi2021_term_years", float("nan"), "is not a number"),
    ("wi2013_term_years", 1000, "must be at most"),
    ("agi_min_term_years", -1, "must be at least 0"),
    ("wi2013_ona_required_from", "9999-12-31", "outside the dates"),
    ("wi2013_ona_required_from", "10000-01-01", "is not a date"),
    ("agi_staff_review", "maybe", "must be true or false"),
    ("agi_attempt_parts", [], "must list exam parts"),
])
def test_a_value_out_of_range_or_meaning_is_refused_naming_the_key(key, value, says):
    with pytest.raises(PolicyError) as refused:
        parse_value(key, value)
    message = str(refused.value)
    assert message.startswith(f"policy {key}: ") and says in message
    assert "Traceback" not in message and "convert" not in message


def test_a_zero_day_reminder_interval_is_refused_in_a_sentence():
    with pytest.raises(PolicyError) as refused:
        parse_value("invoice_reminder_after_days", 0)
    assert str(refused.value) == ("policy invoice_reminder_after_days: 0 is not valid: "
                                  "must be at least 1 day")


@pytest.mark.parametrize("key, value, parsed", [
    ("invoice_reminder_after_days", 1, 1),
    ("invoice_reminder_after_days", "21", 21),
    ("invoice_reminders_max", 0, 0),
    ("invoice_quarter_cap", "0.00", Decimal("0.00")),
    ("invoice_quarter_cap", 2000, Decimal("2000.00")),
    ("wi2013_term_years", 2.5, 2.5),
    ("agi_min_term_years", 0, 0.0),
    ("wi2013_ona_required_from", "2015-01-01", dt.date(2015, 1, 1)),
    ("agi_staff_review", "yes", True),
])
def test_values_in_range_are_taken(key, value, parsed):
    assert parse_value(key, value) == parsed


def test_a_bsn_as_a_policy_key_or_value_is_never_echoed():
    with pytest.raises(PolicyError) as unknown:
        parse_value(BSN, 1)
    with pytest.raises(PolicyError) as bad_value:
        parse_value("invoice_excess", BSN)
    with pytest.raises(PolicyError) as bad_number:
        parse_value("invoice_reminders_max", int(BSN))
    for refused in (unknown, bad_value, bad_number):
        assert BSN not in str(refused.value) and BSN_REMOVED in str(refused.value)


def test_the_shipped_defaults_pass_their_own_checks():
    policy = load_default_policy()
    assert policy.value("invoice_reminder_after_days", dt.date(2022, 1, 1)) == 14
    assert policy.money("invoice_quarter_cap", dt.date(2022, 1, 1)) == Decimal("2000.00")
