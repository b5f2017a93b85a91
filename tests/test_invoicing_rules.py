"""The invoicing rules alone: quarter room, the split, the account, submission checks, policy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from inburgering.domain.events import parse_event
from inburgering.domain.invoicing import invoice_key, listed_schools, submission_problems
from inburgering.domain.invoicing_ledger import Deferral, PaidPart, account_of, room_in_quarter, split_payment
from inburgering.domain.policy import PolicyError, parse_value

D = Decimal


@pytest.mark.parametrize("amount, room, now, later", [
    ("900.00", "600.00", "600.00", "300.00"),
    ("250.00", "2000.00", "250.00", "0.00"),
    ("600.00", "600.00", "600.00", "0.00"),
    ("0.01", "0.00", "0.00", "0.01"),
    ("500.00", "-100.00", "0.00", "500.00"),
])
def test_split_pays_what_fits_and_defers_the_rest(amount, room, now, later):
    split = split_payment(D(amount), D(room))
    assert (split.now, split.later) == (D(now), D(later))


def test_a_lowered_cap_leaves_no_room_rather_than_negative_room():
    assert room_in_quarter(D("1500.00"), D("2000.00")) == D("0.00")


def test_account_sums_paid_per_quarter_and_waiting_deferrals_up_to_a_quarter():
    account = account_of(D("10000.00"), [
        ("Taalhuis Noord", [PaidPart(on=dt.date(2022, 5, 4), quarter="2022-Q2", amount="1400.00")], None),
        ("Leercentrum Zuid", [PaidPart(on=dt.date(2022, 5, 23), quarter="2022-Q2", amount="600.00")],
         Deferral(amount="300.00", to_quarter="2022-Q3", since=dt.date(2022, 5, 23))),
        ("Taalhuis  noord", [], Deferral(amount="50.00", to_quarter="2023-Q1", since=dt.date(2022, 12, 1))),
    ])
    assert account.paid_in("2022-Q2") == D("2000.00") and account.paid_in("2022-Q3") == D("0.00")
    assert account.paid_in("2022-Q2", "taalhuis noord") == D("1400.00")  # per school: case and spaces ignored
    assert account.schools_in("2022-Q2") == {"taalhuis noord", "leercentrum zuid"}
    assert account.waiting_for("2023-Q1", "Taalhuis Noord") == D("50.00")
    assert account.waiting_for("2022-Q3") == D("300.00")
    assert account.waiting_for("2022-Q4") == D("300.00")  # an overdue deferral still comes first
    assert account.waiting_for("2023-Q1") == D("350.00")
    assert account.left == D("10000.00") - D("2000.00") - D("350.00")


def _submitted(**changes):
    raw = {"date": "2022-06-01", "type": "invoice_submitted", "person": "p1", "school": "Taalhuis Noord",
           "invoice_number": "F-1", "contract_number": "C-1", "course_type": "Inburgering", "description": "x",
           "invoice_date": "2022-06-01", "period_from": "2022-04-01", "period_to": "2022-05-31", "courses": 3,
           "course_fee": "250.00", "materials_fee": "20.00", "exam_fee": "30.00"}
    return parse_event({**raw, **changes})


def test_a_correct_invoice_has_no_problems_and_period_may_end_on_the_invoice_date():
    assert submission_problems(_submitted(total="300.00", period_to="2022-06-01"), None) == []


def test_register_names_compare_without_case_or_extra_spaces():
    register = listed_schools(parse_value("invoice_school_register", ["taalhuis  noord", "Leercentrum Zuid"]))
    assert submission_problems(_submitted(), register) == []
    assert "not in the register" in submission_problems(_submitted(school="Elders"), register)[0]


def test_register_policy_round_trips_as_text_and_null_means_no_register():
    value = parse_value("invoice_school_register", [" A  B ", "C"])
    assert value == "A B; C" and parse_value("invoice_school_register", value) == value
    assert parse_value("invoice_school_register", None) is None
    assert listed_schools(None) is None
    with pytest.raises(PolicyError):
        parse_value("invoice_excess", "pay_anyway")


def test_long_school_and_number_still_give_a_case_key_that_fits():
    key = invoice_key("S" * 300, "N" * 300)
    assert len(key) <= 200 and key == invoice_key("S" * 300, "N" * 300) != invoice_key("S" * 300, "M" * 300)
    assert invoice_key("Taalhuis Noord", "F-1") == "invoice:Taalhuis Noord:F-1"
