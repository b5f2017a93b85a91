"""The queries that run on every flow run find their rows through an index, on both
databases — not a timing test: it fails when a query and the index under it drift apart
(a partial index serves only a WHERE that is the very expression it was made with)."""

from __future__ import annotations

from sqlalchemy import text

from flows.waiting import cases as waits
from inburgering.store.models import ACTIONABLE, WAIT_SHOWN, Case


def _plan(case_file, statement) -> str:
    with case_file.transaction() as session:
        sql = str(statement.compile(session.bind, compile_kwargs={"literal_binds": True}))
        if session.bind.dialect.name == "sqlite":
            return " ".join(row[-1] for row in session.execute(text("EXPLAIN QUERY PLAN " + sql)))
        session.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table: show what it can use
        return " ".join(row[0] for row in session.execute(text("EXPLAIN " + sql)))


def test_the_wait_sync_reads_only_the_actionable_cases_and_those_that_show_a_run(case_file):
    cases = Case.__table__
    plan = _plan(case_file, waits._select().where(ACTIONABLE).order_by(cases.c.late_since).limit(100))
    assert "ix_cases_actionable" in plan, plan
    plan = _plan(case_file, waits._select().where(WAIT_SHOWN))
    assert "ix_cases_wait_shown" in plan, plan


def test_the_boards_count_what_went_out_today_through_the_journals_day(case_file):
    import datetime as dt

    from sqlalchemy import func, select

    from inburgering.store.models import JournalEntry

    plan = _plan(case_file, select(JournalEntry.kind, func.count()).where(JournalEntry.on_date == dt.date(2026, 12, 2))
                 .group_by(JournalEntry.kind))
    assert "ix_journal_on_date" in plan, plan
