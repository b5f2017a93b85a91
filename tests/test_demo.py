"""The example journeys of the embedded default apply cleanly and show every process."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from inburgering.demo import feed_next, load_examples
from inburgering.engine import board, service
from inburgering.store.models import Case, JournalEntry, ReceivedEvent


def test_examples_load_once_and_every_event_is_applied(case_file):
    today = dt.date(2026, 11, 23)
    assert load_examples(case_file, today) is True
    assert load_examples(case_file, today) is False  # a restart does not load them twice
    while feed_next(case_file, today, count=3):
        service.ingest(case_file, today)
    service.run_monitor(case_file, today)
    with case_file.transaction() as session:
        outcomes = dict(session.execute(select(ReceivedEvent.status, func.count()).group_by(ReceivedEvent.status)).all())
        refused = session.execute(select(ReceivedEvent.source, ReceivedEvent.reason)
                                  .where(ReceivedEvent.status != "applied")).all()
        processes = set(session.scalars(select(Case.process)))
        sent = set(session.execute(select(JournalEntry.kind, JournalEntry.type)).all())
        late_total, late = board.late_cases(session, today)
    assert refused == [], refused
    assert outcomes["applied"] > 30
    assert {"intake", "invoicing", "exams", "exemption"} <= processes
    assert ("payment", "school_paid") in sent and ("email", "invoice_waiting") in sent
    assert ("alert", "start_letter_overdue") in sent  # letters on hold since 75 days ago
    assert late_total >= 1 and {row["process"] for row in late} >= {"intake"}
