"""Tasks over the case file: ingest, fire deadlines, record staff input, resend letters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import get_run_logger, task
from sqlalchemy import func, select

from inburgering.engine import board, dispatch, service
from inburgering.engine.errors import InputError, refusals_returned
from inburgering.store.db import CaseFile, load_policy
from inburgering.domain.calendar import today_in_amsterdam
from inburgering.store.models import Case, HeldLetter, Person
from tasks import casepage
from tasks.events import announce_alerts

_case_files: dict[str, CaseFile] = {}


def case_file() -> CaseFile:
    """One connection pool per process and database URL (the URL comes from the environment)."""
    from inburgering import config

    url = config.database_url()
    if url not in _case_files:
        _case_files[url] = CaseFile(url)
    return _case_files[url]


def _counts(counter: Any) -> dict[str, int]:
    return {"/".join(k) if isinstance(k, tuple) else str(k): v for k, v in sorted(counter.items())}


def _events(report: service.RunReport) -> dict[str, int]:
    return {"applied": report.applied, "rejected": report.rejected, "errors": report.errors}


def ingest_summary(report: service.IngestReport) -> dict:
    # "fired": the timers of the people brought up to date that came due by the day
    return {**_events(report), "fired": _counts(report.fired), "sent": _counts(report.journal)}


def monitor_summary(report: service.MonitorReport) -> dict:
    # "events": what was still pending of the people whose timers came due, applied first
    return {"fired": _counts(report.fired), "sent": _counts(report.journal), "alerts": report.alerts,
            "events": _events(report)}


@task(name="ingest-pending-events", retries=2, retry_delay_seconds=[5, 30])
def ingest_pending(as_of: dt.date, partition: service.Partition = service.ALL, pages: bool = True) -> dict:
    """Apply the events pending up to `as_of`; with `pages`, write the pages of the cases changed
    (tasks/casepage.py; a replay in a scratch case file writes none)."""
    report = service.ingest(case_file(), as_of, partition=partition)
    get_run_logger().info("applied %s events, rejected %s, errors %s; cases changed: %s", report.applied,
                          report.rejected, report.errors, casepage.named(report.cases))
    announce_alerts(case_file())
    if pages:
        casepage.write_pages(case_file(), report.cases, as_of)
    return ingest_summary(report)


@task(name="fire-due-deadlines", retries=2, retry_delay_seconds=[5, 30])
def fire_due_deadlines(as_of: dt.date, partition: service.Partition = service.ALL, pages: bool = True) -> dict:
    report = service.run_monitor(case_file(), as_of, partition=partition)
    get_run_logger().info("fired %s deadlines, %s alerts; cases changed: %s", sum(report.fired.values()),
                          len(report.alerts), casepage.named(report.cases))
    announce_alerts(case_file())
    if pages:
        casepage.write_pages(case_file(), report.cases, as_of)
    return monitor_summary(report)


def board_data(as_of: dt.date) -> dict:
    """Everything the boards show, read in one transaction that never waits for a writer (case ids only)."""
    with case_file().reading() as session:
        late_total, late = board.late_cases(session, as_of)
        ending_total, ending = board.terms(session, board.TERM_ENDING_SOON)
        passed_total, passed = board.terms(session, board.TERM_PASSED)
        return {"waiting": board.waiting_board(session), "late_total": late_total, "late": late,
                "processes": board.process_board(session), "statuses": board.status_counts(session),
                "terms_ending": (ending_total, ending), "terms_passed": (passed_total, passed),
                "holds": service.active_holds(session, as_of), "sent": board.sent_on(session, as_of),
                "incident_counts": board.incident_board(session), "incidents": board.open_incidents(session),
                "decisions": board.decisions(session, as_of, load_policy(session)),
                "categories": board.people_by_category(session)}


@task(name="read-case-board")
def read_board(as_of: dt.date) -> dict:
    return board_data(as_of)


@task(name="record-staff-event")
def record_event(case_id: int, event: dict, *, source: str, received_on: dt.date) -> dict:
    """Receive an event given by staff for a case and apply it at once (its outcome returned).
    The person is found from the case:
    no personal data travels through Prefect. An event dated after `received_on` (today)
    is refused before anything is stored: it has not happened yet. A refusal is returned
    (status "refused" and the sentence), not raised: the caller says it where staff read it."""
    try:
        with case_file().transaction() as session:
            case = session.get(Case, case_id)
            if case is None:
                raise InputError(f"case: there is no case-{case_id}")
            ref = session.scalar(select(Person.ref).where(Person.id == case.person_id))
            checked = service.validate_event({**event, "person": ref})
            if checked.date > received_on:
                raise InputError(f"date: {checked.date} is after today ({received_on}); record an event on or after "
                                 "the day it happened")
            return service.apply_now(session, {**event, "person": ref}, source=source, received_on=received_on)
    except InputError as exc:
        return {"received": None, "status": "refused", "reason": str(exc)}


def apply_staff_event(case_id: int, event: dict, *, source: str) -> dict:
    """Record staff input for a case and apply it now, to its own person, in one transaction
    (service.apply_now: waits for a worker that holds the person, never reads "pending"): the
    outcome, {"status": "applied"} or, when the input or the case refuses it, another status
    ("refused", "rejected", "duplicate") with the reason in the rule's own sentence. Nothing is
    half-applied."""
    today = today_in_amsterdam()
    received = record_event(case_id, event, source=source, received_on=today)
    if received["status"] == "applied":  # the case moved on: its page and any alert it raised
        announce_alerts(case_file())
        casepage.write_pages(case_file(), [case_id], today)
    if received["status"] != "applied" and not received["reason"]:
        received["reason"] = "no reason was recorded"
    return received


@task(name="resend-letter")
@refusals_returned
def resend_letter(case_id: int, letter_type: str, today: dt.date) -> dict:
    """Put a case's letter (a new send) or payment order (the same order again) in the outbox."""
    with case_file().transaction() as session:
        return dispatch.resend(session, case_id, letter_type, today=today, now=dt.datetime.now(dt.timezone.utc))


@task(name="hold-or-release-letters")
def set_hold(letter_type: str, hold: bool, today: dt.date, reason: str) -> dict:
    """Hold a letter type from today, or release its holds; says what changed: the holds, and the
    letters of the type that wait in a hold (a release sends them with the next ingest or
    monitor run)."""
    with case_file().transaction() as session:
        if hold:
            service.hold_letters(session, letter_type, from_day=today, reason=reason)
            changed = [{"letter_type": letter_type, "held_from": today.isoformat(), "reason": reason}]
        else:
            changed = [{"letter_type": h.letter_type, "held_from": h.held_from.isoformat(), "reason": h.reason}
                       for h in service.release_letters(session, letter_type, on_day=today)]
        active = service.active_holds(session, today)
        waiting = select(func.count(HeldLetter.id)).where(HeldLetter.state == "held")
        if letter_type != "*":
            waiting = waiting.where(HeldLetter.type == letter_type)
        return {"changed": changed, "active": active, "letters_waiting": session.scalar(waiting)}
