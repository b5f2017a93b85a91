"""A timer or an event that cannot be handled is an incident on its case; the rest of the batch
goes on (issue 15, item 2). Before, one bad timer rolled back the whole batch of up to 2,000
deadlines and the monitor failed again every day; a policy that made a reminder loop
committed 1,000 e-mails before a guard tripped.

The faults here are the ones a running system meets: a deadline of a kind no process knows
any more (written by an older version), an inbox row that no longer parses, and a timer that
comes due again the day it fired."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, insert, select, update

from inburgering.engine import incidents, service
from inburgering.store.models import Case, Deadline, Incident, JournalEntry, Person, ReceivedEvent

DAY = dt.date(2022, 5, 2)


def _people_with_invoices(case_file, count: int) -> None:
    """People whose invoice waits: each has a reminder due 14 days later."""
    from inburgering.demo import demo_bsn

    with case_file.transaction() as session:
        for n in range(count):
            service.register_person(session, ref=f"p{n}", bsn=demo_bsn(n), name=f"Person {n}",
                                    email=f"p{n}@example.org")
            for event in ({"type": "loan_granted", "amount": "5000.00"},
                          {"type": "invoice_submitted", "school": "Taalhuis Noord", "invoice_number": f"F-{n}",
                           "contract_number": "C", "course_type": "Inburgering", "description": "x",
                           "invoice_date": DAY.isoformat(), "period_from": "2022-04-01",
                           "period_to": "2022-04-30", "courses": 1, "course_fee": "100.00",
                           "materials_fee": "0.00", "exam_fee": "0.00"}):
                service.receive(session, {**event, "person": f"p{n}", "date": DAY.isoformat()}, source="test",
                                received_on=DAY)
    service.ingest(case_file, DAY)


def test_a_timer_that_raises_is_an_incident_on_its_case_and_the_others_fire(case_file):
    _people_with_invoices(case_file, 5)
    with case_file.transaction() as session:
        bad_case = session.scalar(select(Case.id).where(Case.key == "invoice:Taalhuis Noord:F-2"))
        session.execute(insert(Deadline).values(case_id=bad_case, kind="a_retired_timer", due_on=DAY, data={},
                                                state="open", opened_on=DAY))
    reminder_day = DAY + dt.timedelta(days=14)
    report = service.run_monitor(case_file, reminder_day)
    assert report.incidents == 1
    with case_file.reading() as session:
        reminders = session.scalar(select(func.count()).select_from(JournalEntry)
                                   .where(JournalEntry.type == "invoice_reminder"))
        (incident,) = incidents.list_open(session)
        parked = session.scalar(select(Deadline.state).where(Deadline.kind == "a_retired_timer"))
    assert reminders == 5  # every case's reminder went, the bad case's too (its own timer was fine)
    assert (incident.kind, incident.source, incident.case_id, parked) == ("timer", "deadlines", bad_case, "incident")
    assert "could not fire" in incident.summary and "NotImplementedError" in incident.last_error
    # the monitor the next day does not fail on it again; staff retry puts it back
    assert service.run_monitor(case_file, reminder_day + dt.timedelta(days=1)).incidents == 0
    with case_file.transaction() as session:
        incidents.retry(session, now=dt.datetime.now(dt.timezone.utc), on=reminder_day, incident_id=incident.id)
    assert service.run_monitor(case_file, reminder_day + dt.timedelta(days=2)).incidents == 1  # still unknown


def test_an_event_that_cannot_be_applied_is_an_incident_and_the_batch_goes_on(case_file):
    _people_with_invoices(case_file, 3)
    with case_file.transaction() as session:
        person_id = session.scalar(select(Person.id).where(Person.ref == "p1"))
        broken = session.scalar(insert(ReceivedEvent).values(  # stored by an older version: no longer parses
            person_id=person_id, type="invoice_accepted", event_date=DAY, payload={"type": "invoice_accepted"},
            source="test", received_on=DAY, status="pending", idempotency_key="broken").returning(ReceivedEvent.id))
        for n in range(3):
            service.receive(session, {"type": "invoice_accepted", "invoice_number": f"F-{n}", "person": f"p{n}",
                                      "date": (DAY + dt.timedelta(days=1)).isoformat()}, source="test",
                            received_on=DAY)
    report = service.ingest(case_file, DAY + dt.timedelta(days=1))
    assert (report.applied, report.errors, report.incidents) == (3, 1, 1)
    with case_file.reading() as session:
        paid = session.scalar(select(func.count()).select_from(JournalEntry).where(JournalEntry.type == "school_paid"))
        row = session.get(ReceivedEvent, broken)
        (incident,) = incidents.list_open(session)
    assert paid == 3
    assert row.status == "error" and "parked as an incident" in row.reason
    assert (incident.kind, incident.source_id) == ("event", broken)


def _reminders(case_file) -> list[tuple[dt.date, str]]:
    with case_file.reading() as session:
        return [tuple(row) for row in session.execute(
            select(JournalEntry.on_date, JournalEntry.type).where(JournalEntry.type == "invoice_reminder")
            .order_by(JournalEntry.id))]


def test_a_catch_up_after_a_gap_in_monitor_runs_sends_one_reminder_and_parks_nothing(case_file):
    """No monitor ran for 120 days (issue 25, item 9): the reminder due long ago goes, once, and
    the next ones follow every 14 days from the day it went (invoice_reminders_max: 3) — never
    the same e-mail twice on one day (tests/test_workers.py: nothing in the journal twice)."""
    _people_with_invoices(case_file, 1)
    late = DAY + dt.timedelta(days=120)
    report = service.run_monitor(case_file, late)
    with case_file.reading() as session:
        opened = session.scalar(select(func.count()).select_from(Incident))
        (next_due,) = session.scalars(select(Deadline.due_on).where(Deadline.kind == "invoice_reminder",
                                                                    Deadline.state == "open")).all()
    assert (report.incidents, opened) == (0, 0)
    assert _reminders(case_file) == [(late, "invoice_reminder")] and report.fired["invoice_reminder"] == 1
    assert next_due == late + dt.timedelta(days=14)
    for day in range(121, 200):
        service.run_monitor(case_file, DAY + dt.timedelta(days=day))
    assert [on for on, _ in _reminders(case_file)] == [late + dt.timedelta(days=d) for d in (0, 14, 28)]


def test_a_timer_due_again_for_a_later_due_date_the_day_it_fired_is_a_catch_up_not_a_loop(case_file, monkeypatch):
    """The engine's rule, for a process that counts its next timer from the due date (not from
    the day it fired): after a gap each repeat is due again at once, each for a later date. That
    is a catch-up: every one fires (up to invoice_reminders_max) and no incident is opened."""
    from inburgering.domain import invoicing
    from inburgering.domain.process import OpenDeadline

    def from_due_dates(file, after, ctx):  # noqa: ANN001, ANN202 - the process's signature
        due = file.invoice.received_on + dt.timedelta(days=14 * (file.reminders_sent + 1))
        return [OpenDeadline(invoicing.REMINDER, due)] if file.reminders_sent < 3 else []

    _people_with_invoices(case_file, 1)
    monkeypatch.setattr(invoicing.InvoicingProcess, "_next_reminder", staticmethod(from_due_dates))
    report = service.run_monitor(case_file, DAY + dt.timedelta(days=120))
    with case_file.reading() as session:
        opened = session.scalar(select(func.count()).select_from(Incident))
    assert (report.incidents, opened) == (0, 0)
    assert len(_reminders(case_file)) == 3 == report.fired["invoice_reminder"]


def test_a_timer_due_again_for_the_same_due_date_is_a_loop_and_stops_at_the_first_repeat(case_file, monkeypatch):
    """A process that reopens a reminder on the very date it fired for (an interval of 0 days)
    would fire it again and again the same day: parked as an incident after the first."""
    from inburgering.domain import invoicing
    from inburgering.domain.process import OpenDeadline

    _people_with_invoices(case_file, 1)
    monkeypatch.setattr(invoicing.InvoicingProcess, "_next_reminder",
                        staticmethod(lambda file, after, ctx: [OpenDeadline(invoicing.REMINDER, after)]))
    report = service.run_monitor(case_file, DAY + dt.timedelta(days=14))  # the day the first is due
    with case_file.reading() as session:
        reminders = session.scalar(select(func.count()).select_from(JournalEntry)
                                   .where(JournalEntry.type == "invoice_reminder"))
        (incident,) = session.scalars(select(Incident)).all()
    assert reminders == 1 and report.incidents == 1
    assert "came due again" in incident.last_error and incident.kind == "timer"
    assert "not after the one it fired for" in incident.last_error
