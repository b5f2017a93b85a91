"""The queries that run on every flow run find their rows through an index, on both
databases — not a timing test: it fails when a query and the index under it drift apart
(a partial index serves only a WHERE that is the very expression it was made with)."""

from __future__ import annotations

from sqlalchemy import text

from tasks.windows import stale_waits


def _plan(case_file, statement) -> str:
    with case_file.transaction() as session:
        sql = str(statement.compile(session.bind, compile_kwargs={"literal_binds": True}))
        if session.bind.dialect.name == "sqlite":
            return " ".join(row[-1] for row in session.execute(text("EXPLAIN QUERY PLAN " + sql)))
        session.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table: show what it can use
        return " ".join(row[0] for row in session.execute(text("EXPLAIN " + sql)))


def test_the_wait_sync_reads_only_the_cases_whose_wait_run_is_stale(case_file):
    plan = _plan(case_file, stale_waits(100))
    assert "ix_cases_wait_run_stale" in plan, plan
