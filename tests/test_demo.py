"""The example journeys of the embedded default apply cleanly and show every process; the feed
sends its events through the inbound API, as the outside systems would."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from inburgering.api.client import ApiClient
from inburgering.demo import demo_sources, feed_next, load_examples
from inburgering.engine import board, service
from inburgering.store.models import Case, JournalEntry, ReceivedEvent
from tests.api_server import ThreadedApi


def test_examples_load_once_and_every_event_is_applied(case_file, database_url):
    today = dt.date(2026, 11, 23)
    assert load_examples(case_file, today) is True
    assert load_examples(case_file, today) is False  # a restart does not load them twice
    tokens = demo_sources(case_file, dt.datetime(2026, 11, 23, 8, tzinfo=dt.timezone.utc))
    with ThreadedApi(database_url) as api, ApiClient(api.url, tokens) as client:
        while feed_next(case_file, today, client, count=3):
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
    with case_file.transaction() as session:
        through_api = session.scalars(select(ReceivedEvent.source).where(ReceivedEvent.source_id.is_not(None))).all()
    assert len(through_api) == 20 and {"api:demo-brp", "api:demo-portal", "api:demo-school"} <= set(through_api)
