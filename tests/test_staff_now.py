"""A staff answer is applied to its own person in one transaction and its outcome returned at
once (service.apply_now, called by tasks/casefile.apply_staff_event). On PostgreSQL a person
another worker holds is waited for, not skipped: the answer used to read "pending" and staff
were shown a refusal "no reason was recorded", while the next ingest applied it anyway."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from inburgering.domain.calendar import today_in_amsterdam
from inburgering.engine import service
from inburgering.store.db import CaseFile
from inburgering.store.models import Case, JournalEntry, ReceivedEvent
from tests.test_driver import INVOICE

PERSON = {"ref": "p1", "bsn": "123456782", "name": "Amina Yusuf", "email": "amina@example.org"}


def _invoice(number: str, day: dt.date) -> dict:
    return {**INVOICE, "invoice_number": number, "date": day.isoformat(), "invoice_date": day.isoformat(),
            "period_from": (day - dt.timedelta(days=30)).isoformat(), "period_to": day.isoformat()}


def _waiting_invoice(case_file: CaseFile, today: dt.date) -> int:
    """p1 with a loan and invoice F-1 waiting for acceptance; returns the invoice's case id."""
    start = today - dt.timedelta(days=5)
    with case_file.transaction() as session:
        service.register_people(session, [PERSON])
        for raw in ({"date": start.isoformat(), "type": "residence_permit_granted", "person": "p1",
                     "obligation_start": (start - dt.timedelta(days=300)).isoformat()},
                    {"date": start.isoformat(), "type": "bsn_registered", "person": "p1"},
                    {"date": start.isoformat(), "type": "loan_granted", "person": "p1", "amount": "10000.00"},
                    _invoice("F-1", start)):
            service.receive(session, raw, source="test", received_on=start)
    service.ingest(case_file, start)
    with case_file.transaction() as session:
        return session.scalar(select(Case.id).where(Case.process == "invoicing", Case.key != "loan"))


def _payments(case_file: CaseFile) -> list[str]:
    with case_file.transaction() as session:
        return list(session.scalars(select(JournalEntry.type).where(JournalEntry.kind == "payment")))


def test_an_answer_is_applied_at_once_with_its_outcome_or_the_rules_reason(case_file):
    today = dt.date(2022, 6, 10)
    _waiting_invoice(case_file, today)
    with case_file.transaction() as session:
        accepted = service.apply_now(session, {"date": today.isoformat(), "type": "invoice_accepted", "person": "p1",
                                               "invoice_number": "F-1"}, source="staff:test", received_on=today)
    assert accepted["status"] == "applied" and accepted["reason"] is None
    assert _payments(case_file) == ["school_paid"]  # paid in the same transaction
    with case_file.transaction() as session:
        refused = service.apply_now(session, {"date": today.isoformat(), "type": "invoice_accepted", "person": "p1",
                                              "invoice_number": "F-404"}, source="staff:test", received_on=today)
    assert refused["status"] == "rejected" and "F-404" in refused["reason"]


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_server")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_answer_for_a_person_another_worker_claims_meanwhile_is_applied_not_left_pending(
        case_file, database_url, monkeypatch):
    """Another ingest claims the person as soon as the answer is in the inbox (it has the
    person's other event to apply too). Staff must read the answer's outcome, "applied" —
    not "pending" with the refusal "no reason was recorded" while the other worker applies it."""
    from tasks.casefile import apply_staff_event

    monkeypatch.setenv("INBURGERING_DATABASE_URL", database_url)
    today = today_in_amsterdam()
    case_id = _waiting_invoice(case_file, today)
    with case_file.transaction() as session:  # more work for p1, so an ingest claims them
        service.receive(session, _invoice("F-2", today), source="test", received_on=today)
    holding, answered, other_done = threading.Event(), threading.Event(), threading.Event()

    def hold_the_person(step: str) -> None:
        if threading.current_thread().name == "other-worker":
            holding.set()
            answered.wait(timeout=5)  # holds its claim until the answer is back, or 5 s

    def other_worker() -> None:
        """Waits for the answer to be in the inbox (committed), then ingests the day."""
        try:
            for _ in range(3000):
                with case_file.transaction() as session:
                    if session.scalar(select(ReceivedEvent.id).where(ReceivedEvent.type == "invoice_accepted")):
                        break
                answered.wait(timeout=0.02)
            service.ingest(case_file, today)
        finally:
            other_done.set()

    ingest = service.ingest

    def staff_ingest_after_the_other(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        while threading.current_thread().name == "staff" and not (holding.is_set() or other_done.is_set()):
            other_done.wait(timeout=0.02)
        return ingest(*args, **kwargs)

    outcome: dict = {}

    def answer() -> None:
        outcome.update(apply_staff_event(case_id, {"date": today.isoformat(), "type": "invoice_accepted",
                                                   "invoice_number": "F-1"}, source="staff:wait:test"))
        answered.set()

    monkeypatch.setattr(service, "ingest", staff_ingest_after_the_other)
    service.after_claim = hold_the_person
    try:
        other = threading.Thread(target=other_worker, name="other-worker")
        staff = threading.Thread(target=answer, name="staff")
        other.start()
        staff.start()
        staff.join(timeout=120)
        other.join(timeout=120)
    finally:
        service.after_claim = None
        answered.set()
    assert outcome["status"] == "applied", outcome
    assert _payments(case_file) == ["school_paid"]
    with case_file.transaction() as session:
        statuses = session.scalars(select(ReceivedEvent.status).order_by(ReceivedEvent.id)).all()
    assert statuses == ["applied"] * 6
