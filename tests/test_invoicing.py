"""Invoicing: school invoices wait for the person's acceptance, then DUO pays the school
from the loan within the quarter cap (domain.md §4–5), replayed through the real engine."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inburgering.scenario.loader import ScenarioError
from tests.scenario_helpers import entries, make_scenario, replay

LOAN = {"date": "2022-04-01", "type": "loan_granted", "person": "p1", "amount": "10000.00"}


def invoice(date: str, number: str, course_fee: str, *, school: str = "Taalhuis Noord", **extra) -> dict:
    """An invoice for the lessons of its own month, up to its date (so it counts in its own quarter)."""
    event = {"date": date, "type": "invoice_submitted", "person": "p1", "school": school,
             "invoice_number": number, "contract_number": "C-1", "course_type": "Inburgering",
             "description": "lessen", "invoice_date": date, "period_from": date[:8] + "01", "period_to": date,
             "courses": 10, "course_fee": course_fee, "materials_fee": "0.00", "exam_fee": "0.00"}
    return {**event, **extra}


def accept(date: str, number: str) -> dict:
    return {"date": date, "type": "invoice_accepted", "person": "p1", "invoice_number": number}


def refuse(date: str, number: str, reason: str, text: str | None = None) -> dict:
    event = {"date": date, "type": "invoice_refused", "person": "p1", "invoice_number": number, "reason": reason}
    return {**event, "reason_text": text} if text else event


def run(events: list[dict], *, until: str = "2022-06-30", policy: dict | None = None, loan: bool = True) -> dict:
    return replay(make_scenario(([LOAN] if loan else []) + events, start="2022-04-01", until=until, policy=policy))


def payments(result: dict, type: str = "school_paid") -> list[tuple[str, str, str, str]]:
    quarter = "quarter" if type == "school_paid" else "to_quarter"
    return [(e["date"], e["data"]["invoice_number"], e["data"]["amount"], e["data"][quarter])
            for e in entries(result, "payment", type)]


def rejected_reasons(result: dict) -> dict[int, str]:
    return {r["event"]: r["reason"] for r in result["rejected"]}


# ---- the shared scenarios, on SQLite and PostgreSQL --------------------------------------------


def test_invoice_accept_scenario(scenarios_dir, database_url):
    result = replay(scenarios_dir / "invoice_accept.yaml", database_url=database_url)
    (waiting,) = entries(result, "email", "invoice_waiting", "p1")
    assert waiting["date"] in ("2022-06-01", "2022-06-02")
    assert waiting["data"]["invoice_number"] == "FAC229230568" and waiting["data"]["total"] == "250.00"
    (paid,) = entries(result, "payment", "school_paid", "p1")
    assert "2022-06-03" <= paid["date"] <= "2022-06-04"
    assert {k: paid["data"][k] for k in ("invoice_number", "amount", "quarter")} == {
        "invoice_number": "FAC229230568", "amount": "250.00", "quarter": "2022-Q2"}
    assert entries(result, "email", "invoice_reminder") == []
    assert result["rejected"] == []


def test_quarter_cap_scenario(scenarios_dir, database_url):
    # two schools in one quarter since 2021: added up; the excess is not paid, not deferred
    result = replay(scenarios_dir / "quarter_cap.yaml", database_url=database_url)
    assert payments(result) == [("2022-05-04", "A-100", "1400.00", "2022-Q2"),
                                ("2022-05-23", "B-7", "600.00", "2022-Q2")]
    assert payments(result, "payment_deferred") == []
    (notice,) = entries(result, "notice", "invoice_refused_to_school")
    (email,) = entries(result, "email", "invoice_not_paid")
    for told in (notice, email):
        assert told["date"] == "2022-05-23"
        assert {k: told["data"][k] for k in ("invoice_number", "reason", "quarter", "room", "amount_not_paid")} == {
            "invoice_number": "B-7", "reason": "quarter_cap_exceeded", "quarter": "2022-Q2", "room": "600.00",
            "amount_not_paid": "300.00"}
    assert result["rejected"] == []


def test_quarter_cap_one_school_scenario(scenarios_dir, database_url):
    # one school above the cap: the excess is billed a quarter later
    result = replay(scenarios_dir / "quarter_cap_one_school.yaml", database_url=database_url)
    paid = payments(result)
    assert paid == [("2022-05-04", "A-100", "1400.00", "2022-Q2"), ("2022-05-23", "B-7", "600.00", "2022-Q2"),
                    ("2022-07-01", "B-7", "300.00", "2022-Q3")]
    assert payments(result, "payment_deferred") == [("2022-05-23", "B-7", "300.00", "2022-Q3")]
    q2 = [Decimal(amount) for date, _, amount, _ in paid if "2022-04-01" <= date <= "2022-06-30"]
    assert sum(q2) == Decimal("2000.00")
    assert entries(result, "notice") == [] and entries(result, "email", "invoice_not_paid") == []
    assert result["rejected"] == []


# ---- waiting for acceptance ------------------------------------------------------------------------


def test_person_is_emailed_reminded_and_process_owners_alerted_while_the_invoice_waits():
    result = run([invoice("2022-04-04", "F-1", "250.00")], until="2022-06-30")
    (waiting,) = entries(result, "email", "invoice_waiting")
    assert (waiting["date"], waiting["data"]["invoice_number"], waiting["data"]["total"]) == (
        "2022-04-04", "F-1", "250.00")
    reminders = entries(result, "email", "invoice_reminder")
    # every 14 days, at most 3 times (policy invoice_reminder_after_days, invoice_reminders_max)
    assert [r["date"] for r in reminders] == ["2022-04-18", "2022-05-02", "2022-05-16"]
    assert all(r["data"]["invoice_number"] == "F-1" and r["data"]["total"] == "250.00" for r in reminders)
    (alert,) = entries(result, "alert", "invoice_waiting_long")
    assert alert["date"] == "2022-05-16"  # 42 days after it arrived
    assert alert["data"]["invoice_number"] == "F-1" and alert["data"]["days_waiting"] == 42
    assert entries(result, "payment") == []


def test_reminder_interval_and_count_are_policy():
    result = run([invoice("2022-04-04", "F-1", "250.00")], until="2022-06-30",
                 policy={"invoice_reminder_after_days": 7, "invoice_reminders_max": 2,
                         "invoice_waiting_long_after_days": 30})
    assert [r["date"] for r in entries(result, "email", "invoice_reminder")] == ["2022-04-11", "2022-04-18"]
    assert [a["date"] for a in entries(result, "alert", "invoice_waiting_long")] == ["2022-05-04"]


def test_acceptance_stops_reminders_and_the_alert():
    result = run([invoice("2022-04-04", "F-1", "250.00"), accept("2022-04-20", "F-1")], until="2022-06-30")
    assert [r["date"] for r in entries(result, "email", "invoice_reminder")] == ["2022-04-18"]
    assert entries(result, "alert") == []
    assert payments(result) == [("2022-04-20", "F-1", "250.00", "2022-Q2")]


# ---- refusal by the person -----------------------------------------------------------------------------


def test_refused_invoice_is_not_paid_and_the_school_is_told_why():
    result = run([invoice("2022-04-04", "F-1", "250.00"), refuse("2022-04-06", "F-1", "amount_wrong")])
    (notice,) = entries(result, "notice", "invoice_refused_to_school")
    assert notice["date"] == "2022-04-06"
    assert notice["data"]["invoice_number"] == "F-1" and notice["data"]["reason"] == "amount_wrong"
    assert entries(result, "payment") == []
    assert entries(result, "email", "invoice_reminder") == []


def test_refusal_for_another_reason_carries_its_text_to_the_school():
    result = run([invoice("2022-04-04", "F-1", "250.00"),
                  refuse("2022-04-06", "F-1", "other", "de lessen in maart zijn niet gegeven")])
    (notice,) = entries(result, "notice", "invoice_refused_to_school")
    assert notice["data"]["reason"] == "other"
    assert notice["data"]["reason_text"] == "de lessen in maart zijn niet gegeven"


def test_refusal_for_another_reason_without_text_is_a_malformed_file():
    with pytest.raises(ScenarioError, match=r"events\[2\].*reason_text"):
        run([invoice("2022-04-04", "F-1", "250.00"), refuse("2022-04-06", "F-1", "other")])


# ---- events for an invoice that is not open -------------------------------------------------------------


def test_decisions_on_an_invoice_that_is_not_open_are_rejected_with_the_reason():
    result = run([
        invoice("2022-04-04", "F-1", "250.00"),
        accept("2022-04-05", "F-1"),
        accept("2022-04-06", "F-1"),                      # 3: already accepted
        refuse("2022-04-06", "F-1", "incomplete"),        # 4: already accepted
        invoice("2022-04-04", "F-2", "100.00"),
        refuse("2022-04-07", "F-2", "number_wrong"),
        accept("2022-04-08", "F-2"),                      # 7: refused before
        accept("2022-04-08", "F-9"),                      # 8: unknown
    ])
    reasons = rejected_reasons(result)
    assert set(reasons) == {3, 4, 7, 8}
    assert "already accepted on 2022-04-05" in reasons[3] and "already accepted" in reasons[4]
    assert "F-2 was refused on 2022-04-07" in reasons[7]
    assert "no invoice F-9" in reasons[8]
    assert payments(result) == [("2022-04-05", "F-1", "250.00", "2022-Q2")]


# ---- checks on a submitted invoice ------------------------------------------------------------------------


@pytest.mark.parametrize("extra, words", [
    ({"total": "300.00"}, "the total €300.00 is not course_fee + materials_fee + exam_fee = €250.00"),
    ({"materials_fee": "-10.00"}, "materials_fee is €-10.00: amounts cannot be negative"),
    ({"course_fee": "0.00"}, "asks for €0.00"),
    ({"period_from": "2022-04-01", "period_to": "2022-03-01"}, "the period starts (2022-04-01) after it ends"),
    ({"period_to": "2022-04-10"}, "the period ends (2022-04-10) after the invoice date (2022-04-04)"),
])
def test_a_wrong_invoice_is_rejected_with_an_actionable_reason_and_changes_nothing(extra, words):
    result = run([invoice("2022-04-04", "F-1", **{"course_fee": "250.00", **extra}), accept("2022-04-05", "F-1")])
    reasons = rejected_reasons(result)
    assert words in reasons[1] and reasons[1].startswith("invoice F-1 from Taalhuis Noord is not taken")
    assert "no invoice F-1" in reasons[2]
    assert [e for e in result["timeline"] if e["kind"] != "letter"] == []


def test_a_stated_total_that_matches_is_fine_and_every_problem_is_named_at_once():
    result = run([invoice("2022-04-04", "F-1", "250.00", materials_fee="25.50", total="275.50"),
                  invoice("2022-04-04", "F-2", "250.00", exam_fee="-1.00", period_to="2022-05-01")])
    assert entries(result, "email", "invoice_waiting")[0]["data"]["total"] == "275.50"
    reason = rejected_reasons(result)[2]
    assert "exam_fee is €-1.00" in reason and "after the invoice date" in reason


def test_money_with_more_than_two_decimals_is_a_malformed_file():
    with pytest.raises(ScenarioError, match=r"events\[1\]\.course_fee"):
        run([invoice("2022-04-04", "F-1", "250.005")])


def test_the_same_invoice_number_from_the_same_school_is_taken_only_once():
    result = run([
        invoice("2022-04-04", "F-1", "250.00"),
        refuse("2022-04-05", "F-1", "amount_wrong"),
        invoice("2022-04-06", "f-1 ", "200.00"),                     # 3: same number, even refused before
        invoice("2022-04-06", "F-1", "200.00", school="Leercentrum Zuid"),  # another school: fine
        accept("2022-04-07", "F-1"),
    ])
    reasons = rejected_reasons(result)
    assert set(reasons) == {3}
    assert "already received on 2022-04-04" in reasons[3] and "new invoice number" in reasons[3]
    assert payments(result) == [("2022-04-07", "F-1", "200.00", "2022-Q2")]
    (paid,) = entries(result, "payment", "school_paid")
    assert paid["data"]["school"] == "Leercentrum Zuid"


def test_a_decision_naming_a_number_two_schools_have_open_is_rejected():
    result = run([invoice("2022-04-04", "F-1", "250.00"),
                  invoice("2022-04-04", "F-1", "200.00", school="Leercentrum Zuid"),
                  accept("2022-04-07", "F-1")])
    assert "more than one open invoice has number F-1 (from Leercentrum Zuid, Taalhuis Noord)" in \
        rejected_reasons(result)[3]
    assert entries(result, "payment") == []


def test_with_a_register_only_listed_schools_are_taken():
    result = run([invoice("2022-04-04", "F-1", "250.00"),
                  invoice("2022-04-04", "Z-1", "250.00", school="Leercentrum Zuid")],
                 policy={"invoice_school_register": ["Taalhuis Noord", "Het Talenhuis"]})
    reasons = rejected_reasons(result)
    assert set(reasons) == {2}
    assert "Leercentrum Zuid is not in the register of quality-marked schools on the invoice date 2022-04-04" \
        in reasons[2]
    assert [e["data"]["invoice_number"] for e in entries(result, "email", "invoice_waiting")] == ["F-1"]


# ---- the quarter cap -------------------------------------------------------------------------------------


def test_an_excess_larger_than_a_quarter_is_deferred_again():
    result = run([invoice("2022-04-04", "F-1", "1200.00"), accept("2022-04-05", "F-1")],
                 until="2022-12-31", policy={"invoice_quarter_cap": "500.00"})
    assert payments(result) == [("2022-04-05", "F-1", "500.00", "2022-Q2"),
                                ("2022-07-01", "F-1", "500.00", "2022-Q3"),
                                ("2022-10-01", "F-1", "200.00", "2022-Q4")]
    assert payments(result, "payment_deferred") == [("2022-04-05", "F-1", "700.00", "2022-Q3"),
                                                    ("2022-07-01", "F-1", "200.00", "2022-Q4")]


def test_amounts_deferred_to_a_quarter_are_paid_before_invoices_accepted_in_it():
    # F-1's excess of 1000.00 waits for Q3; F-2, accepted on Q3's first day, gets only what is left
    result = run([invoice("2022-05-02", "F-1", "3000.00"), accept("2022-05-03", "F-1"),
                  invoice("2022-06-20", "F-2", "1500.00"), accept("2022-07-01", "F-2")],
                 until="2022-10-31")
    assert payments(result) == [("2022-05-03", "F-1", "2000.00", "2022-Q2"),
                                ("2022-07-01", "F-2", "1000.00", "2022-Q3"),
                                ("2022-07-01", "F-1", "1000.00", "2022-Q3"),
                                ("2022-10-01", "F-2", "500.00", "2022-Q4")]


def test_with_excess_refuse_one_school_is_paid_up_to_the_cap_and_both_are_told_of_the_rest():
    result = run([invoice("2022-05-02", "A-100", "1400.00"), accept("2022-05-04", "A-100"),
                  invoice("2022-05-20", "B-7", "900.00"), accept("2022-05-23", "B-7")],
                 until="2022-07-31", policy={"invoice_excess": "refuse"})
    assert payments(result) == [("2022-05-04", "A-100", "1400.00", "2022-Q2"),
                                ("2022-05-23", "B-7", "600.00", "2022-Q2")]
    assert payments(result, "payment_deferred") == []
    (notice,) = entries(result, "notice", "invoice_refused_to_school")
    assert {k: notice["data"][k] for k in ("invoice_number", "reason", "quarter_cap", "room", "amount_not_paid")} == {
        "invoice_number": "B-7", "reason": "quarter_cap_exceeded", "quarter_cap": "2000.00", "room": "600.00",
        "amount_not_paid": "300.00"}
    (email,) = entries(result, "email", "invoice_not_paid")
    assert email["data"]["invoice_number"] == "B-7" and email["data"]["reason"] == "quarter_cap_exceeded"


def test_a_quarter_already_full_pays_nothing_of_a_second_schools_invoice():
    result = run([invoice("2022-05-02", "A-100", "2000.00"), accept("2022-05-04", "A-100"),
                  invoice("2022-05-20", "B-7", "900.00", school="Leercentrum Zuid"), accept("2022-05-23", "B-7")],
                 until="2022-07-31")
    assert payments(result) == [("2022-05-04", "A-100", "2000.00", "2022-Q2")]
    (email,) = entries(result, "email", "invoice_not_paid")
    assert (email["data"]["room"], email["data"]["amount_not_paid"]) == ("0.00", "900.00")


def test_before_2021_each_school_counts_against_the_cap_on_its_own():
    loan = {**LOAN, "date": "2020-04-01"}
    events = [loan, invoice("2020-05-04", "A-100", "1400.00"), accept("2020-05-06", "A-100"),
              invoice("2020-05-20", "B-7", "1900.00", school="Leercentrum Zuid"), accept("2020-05-22", "B-7")]
    result = replay(make_scenario(events, start="2020-04-01", until="2020-06-30"))
    assert payments(result) == [("2020-05-06", "A-100", "1400.00", "2020-Q2"),
                                ("2020-05-22", "B-7", "1900.00", "2020-Q2")]


def test_an_invoice_counts_in_the_quarter_of_its_lessons_not_of_its_acceptance():
    # April-May lessons accepted on 1 July still count in Q2's room: accepting late dodges no cap
    april = invoice("2022-05-31", "A-1", "1800.00", period_from="2022-04-01")
    may = invoice("2022-06-10", "A-2", "700.00", period_from="2022-05-01", period_to="2022-05-31")
    result = run([april, accept("2022-06-01", "A-1"), may, accept("2022-07-01", "A-2")], until="2022-10-31")
    assert payments(result) == [("2022-06-01", "A-1", "1800.00", "2022-Q2"),
                                ("2022-07-01", "A-2", "200.00", "2022-Q2"),  # what Q2 had left
                                ("2022-07-01", "A-2", "500.00", "2022-Q3")]  # its excess: Q3 has begun already
    assert payments(result, "payment_deferred") == []


# ---- the loan ---------------------------------------------------------------------------------------------


def test_an_invoice_the_remaining_loan_cannot_cover_is_not_paid_and_both_are_told():
    events = [{**LOAN, "amount": "1500.00"},
              invoice("2022-04-04", "F-1", "1000.00"), accept("2022-04-05", "F-1"),
              invoice("2022-04-04", "F-2", "600.00"), accept("2022-04-06", "F-2"),
              invoice("2022-04-04", "F-3", "500.00"), accept("2022-04-07", "F-3")]
    result = run(events, loan=False)
    assert payments(result) == [("2022-04-05", "F-1", "1000.00", "2022-Q2"),
                                ("2022-04-07", "F-3", "500.00", "2022-Q2")]
    (notice,) = entries(result, "notice", "invoice_refused_to_school")
    assert notice["data"]["invoice_number"] == "F-2" and notice["data"]["reason"] == "loan_insufficient"
    assert notice["data"]["loan_left"] == "500.00"
    (email,) = entries(result, "email", "invoice_not_paid")
    assert email["date"] == "2022-04-06" and email["data"]["reason"] == "loan_insufficient"


def test_a_loan_above_the_maximum_is_rejected_with_the_reason():
    result = run([{**LOAN, "date": "2022-04-02", "amount": "50000.00"}], loan=False)
    assert rejected_reasons(result) == {0: "a loan of €50000.00 is more than the maximum of €10000.00 in force on "
                                           "2022-04-02"}
    assert entries(result, "payment") == []


def test_without_an_e_mail_address_the_invoice_messages_go_by_post():
    person = {"bsn": "123456782", "name": "Amina Yusuf", "born": "1990-05-01"}  # no e-mail
    result = replay(make_scenario([LOAN, invoice("2022-04-04", "F-1", "250.00")], start="2022-04-01",
                                  until="2022-04-30", people={"p1": person}))
    assert [(e["kind"], e["type"]) for e in result["timeline"]] == [
        ("letter", "invoice_waiting"), ("letter", "invoice_reminder")]


def test_without_a_loan_nothing_is_paid():
    result = run([invoice("2022-04-04", "F-1", "100.00"), accept("2022-04-05", "F-1")], loan=False)
    assert entries(result, "payment") == []
    assert entries(result, "email", "invoice_not_paid")[0]["data"]["loan_left"] == "0.00"


def test_the_loan_cannot_be_set_below_what_was_paid_or_promised():
    result = run([invoice("2022-04-04", "F-1", "2500.00"), accept("2022-04-05", "F-1"),
                  {"date": "2022-04-06", "type": "loan_granted", "person": "p1", "amount": "2400.00"},
                  {"date": "2022-04-07", "type": "loan_granted", "person": "p1", "amount": "2500.00"}])
    reasons = rejected_reasons(result)
    assert set(reasons) == {3}
    assert "cannot be set to €2400.00: €2500.00 has already been paid or promised" in reasons[3]
