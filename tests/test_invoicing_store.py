"""What invoicing leaves in the case file, on SQLite and PostgreSQL: the loan ledger, the
payment orders in the outbox, each invoice's status, the rendered e-mails and notices,
and migration 0002 on a case file that already existed."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.exc import IntegrityError

from inburgering.scenario.loader import load_scenario
from inburgering.scenario.runner import embedded_driver, prepare
from inburgering.store.db import CaseFile, alembic_config, load_policy, make_engine
from inburgering.store.models import Case, CaseStatus, Letter, LoanLedgerEntry, OutboxMessage
from inburgering.letters.stored import letter_text
from tests.scenario_helpers import make_scenario


def replay_into(case_file: CaseFile, scenario) -> None:
    prepare(case_file, scenario)
    days = (scenario.until - scenario.start).days + 1
    embedded_driver(case_file, [scenario.start + dt.timedelta(days=i) for i in range(days)])


def test_quarter_cap_scenario_leaves_a_loan_ledger_and_one_payment_order_per_payment(case_file, scenarios_dir):
    replay_into(case_file, load_scenario(scenarios_dir / "quarter_cap_one_school.yaml"))
    with case_file.transaction() as session:
        ledger = session.scalars(sa.select(LoanLedgerEntry).order_by(LoanLedgerEntry.id)).all()
        assert [(e.on_date.isoformat(), e.entry, e.invoice_number, e.amount, e.quarter, e.loan_left)
                for e in ledger] == [
            ("2022-04-02", "loan_granted", None, Decimal("10000.00"), None, Decimal("10000.00")),
            ("2022-05-04", "school_paid", "A-100", Decimal("1400.00"), "2022-Q2", Decimal("8600.00")),
            ("2022-05-23", "school_paid", "B-7", Decimal("600.00"), "2022-Q2", Decimal("7700.00")),
            ("2022-05-23", "payment_deferred", "B-7", Decimal("300.00"), "2022-Q3", Decimal("7700.00")),
            ("2022-07-01", "school_paid", "B-7", Decimal("300.00"), "2022-Q3", Decimal("7700.00")),
        ]
        orders = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.channel == "payment")
                                 .order_by(OutboxMessage.id)).all()
        assert [o.payload for o in orders] == [
            {"type": "school_paid", "school": "Taalhuis Noord", "invoice_number": "A-100", "amount": "1400.00",
             "quarter": "2022-Q2"},
            {"type": "school_paid", "school": "Taalhuis Noord", "invoice_number": "B-7", "amount": "600.00",
             "quarter": "2022-Q2"},
            {"type": "school_paid", "school": "Taalhuis Noord", "invoice_number": "B-7", "amount": "300.00",
             "quarter": "2022-Q3"},
        ]
        assert len({o.idempotency_key for o in orders}) == 3

        # An invoice is paid at most once in a quarter: the database refuses a second row.
        b7 = ledger[2]
        session.add(LoanLedgerEntry(person_id=b7.person_id, case_id=b7.case_id, on_date=b7.on_date,
                                    entry="school_paid", amount_cents=100, loan_left_cents=0, quarter="2022-Q2"))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()


def test_each_invoice_is_a_case_with_the_status_mijn_inburgering_shows(case_file, scenarios_dir):
    replay_into(case_file, load_scenario(scenarios_dir / "quarter_cap_one_school.yaml"))
    with case_file.transaction() as session:
        cases = {c.key: c for c in session.scalars(sa.select(Case).where(Case.process == "invoicing"))}
        assert set(cases) == {"loan", "invoice:Taalhuis Noord:A-100", "invoice:Taalhuis Noord:B-7"}
        b7 = cases["invoice:Taalhuis Noord:B-7"]
        history = session.execute(sa.select(CaseStatus.on_date, CaseStatus.status)
                                  .where(CaseStatus.case_id == b7.id).order_by(CaseStatus.id)).all()
        assert [(d.isoformat(), s) for d, s in history] == [
            ("2022-05-20", "Factuur is openstaand"), ("2022-05-23", "Factuur is vrijgegeven")]
        # released but waiting for its deferred part until the first day of Q3, then closed
        assert b7.closed_on == dt.date(2022, 7, 1) and b7.waiting_for is None
        assert cases["invoice:Taalhuis Noord:A-100"].closed_on == dt.date(2022, 5, 4)
        assert cases["loan"].closed_on is None and cases["loan"].waiting_for is None


def test_a_deferred_part_shows_what_the_invoice_still_waits_for(case_file):
    events = [{"date": "2022-05-02", "type": "loan_granted", "person": "p1", "amount": "5000.00"},
              {"date": "2022-05-02", "type": "invoice_submitted", "person": "p1", "school": "Taalhuis Noord",
               "invoice_number": "F-1", "contract_number": "C-1", "course_type": "Inburgering", "description": "x",
               "invoice_date": "2022-05-02", "period_from": "2022-04-01", "period_to": "2022-04-30", "courses": 1,
               "course_fee": "2300.00", "materials_fee": "0.00", "exam_fee": "0.00"},
              {"date": "2022-05-03", "type": "invoice_accepted", "person": "p1", "invoice_number": "F-1"}]
    replay_into(case_file, make_scenario(events, start="2022-05-02", until="2022-05-03"))
    with case_file.transaction() as session:
        case = session.scalar(sa.select(Case).where(Case.key == "invoice:Taalhuis Noord:F-1"))
        assert case.status == "Factuur is vrijgegeven" and case.closed_on is None
        assert case.waiting_for == "the deferred €300.00 to be paid in 2022-Q3 (quarter cap)"
        assert case.waiting_since == dt.date(2022, 5, 3)


def test_emails_and_school_notices_are_rendered_in_dutch_and_english(case_file):
    invoice = {"type": "invoice_submitted", "person": "p1", "school": "Taalhuis Noord", "contract_number": "C-1",
               "course_type": "Inburgering", "description": "x", "period_from": "2022-04-01",
               "period_to": "2022-04-30", "courses": 1, "materials_fee": "0.00", "exam_fee": "0.00"}
    events = [
        {"date": "2022-05-02", "type": "loan_granted", "person": "p1", "amount": "1000.00"},
        {**invoice, "date": "2022-05-02", "invoice_number": "F-1", "invoice_date": "2022-05-02", "course_fee": "1400.00"},
        {"date": "2022-05-03", "type": "invoice_accepted", "person": "p1", "invoice_number": "F-1"},
        {**invoice, "date": "2022-05-04", "invoice_number": "F-2", "invoice_date": "2022-05-04", "course_fee": "80.00"},
        {"date": "2022-05-05", "type": "invoice_refused", "person": "p1", "invoice_number": "F-2",
         "reason": "amount_wrong"},
        {**invoice, "date": "2022-05-06", "invoice_number": "F-3", "invoice_date": "2022-05-06", "course_fee": "90.00"},
    ]
    replay_into(case_file, make_scenario(events, start="2022-05-02", until="2022-05-20"))
    by_type: dict[str, list] = {}
    with case_file.transaction() as session:  # each letter as sent: rendered from its template and data
        for letter in session.scalars(sa.select(Letter).order_by(Letter.id)):
            text = letter_text(session, letter)
            by_type.setdefault(letter.type, []).append(SimpleNamespace(
                recipient=letter.recipient, kind=letter.kind, on_date=letter.on_date, subject=text.subject,
                body=text.body))

    waiting = by_type["invoice_waiting"][0]
    assert waiting.recipient == "person" and waiting.kind == "email"
    assert waiting.subject == "Er staat een factuur voor u klaar / An invoice is waiting for you"
    assert "€\xa01.400,00" in waiting.body and "€1,400.00" in waiting.body
    assert "Beste Amina Yusuf" in waiting.body and "2 mei 2022" in waiting.body and "2 May 2022" in waiting.body

    refused_by_duo, refused_by_person = by_type["invoice_refused_to_school"]
    assert refused_by_duo.recipient == "school" and refused_by_duo.kind == "notice"
    assert "Beste Taalhuis Noord" in refused_by_duo.body
    assert "lening van de inburgeraar is niet genoeg" in refused_by_duo.body and "€\xa01.000,00" in refused_by_duo.body
    assert "Factuurbedrag is niet goed" in refused_by_person.body
    assert "the invoice amount is not right" in refused_by_person.body

    (not_paid,) = by_type["invoice_not_paid"]
    assert not_paid.recipient == "person" and "DUO betaalt factuur F-1 niet" in not_paid.subject

    (reminder,) = by_type["invoice_reminder"]  # only F-3 is still open two weeks on
    assert reminder.on_date == dt.date(2022, 5, 20) and reminder.subject.startswith("Herinnering")
    assert "F-3" in reminder.body and "6 mei 2022" in reminder.body and "6 May 2022" in reminder.body


def test_migration_0002_gives_an_existing_case_file_the_new_policy_keys(database_url):
    engine = make_engine(database_url)
    try:
        command.upgrade(alembic_config(engine), "0001")
        with engine.begin() as connection:  # a case file in use: policy seeded before invoicing existed
            connection.execute(sa.text("INSERT INTO policy_values (key, valid_from, value) "
                                       "VALUES ('invoice_reminder_after_days', '2013-01-01', '14')"))
        command.upgrade(alembic_config(engine), "head")
        with engine.connect() as connection:
            keys = set(connection.execute(sa.text("SELECT key FROM policy_values")).scalars())
            assert {"invoice_reminders_max", "invoice_school_register"} <= keys
            assert connection.execute(sa.text("SELECT count(*) FROM loan_ledger")).scalar() == 0
        command.downgrade(alembic_config(engine), "0001")
        with engine.connect() as connection:
            assert not sa.inspect(connection).has_table("loan_ledger")
    finally:
        engine.dispose()


def test_a_fresh_case_file_is_seeded_with_the_invoicing_defaults(case_file):
    with case_file.transaction() as session:
        policy = load_policy(session)
    assert policy.value("invoice_reminders_max", dt.date(2022, 1, 1)) == 3
    assert policy.value("invoice_school_register", dt.date(2022, 1, 1)) is None
    assert policy.money("invoice_quarter_cap", dt.date(2022, 1, 1)) == Decimal("2000.00")
