"""bench.partitions on a few journeys: two processes, one partition each, leave the case file one
process leaves (on PostgreSQL side by side, on SQLite one writer at a time). No figure is checked."""

from __future__ import annotations

import pytest

from bench.partitions import measure, report


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_partition_processes_leave_what_one_process_leaves(database, tmp_path, request):
    postgres = request.getfixturevalue("postgres") if database == "postgresql" else None
    result = measure(database, journeys=40, years=1, seed=5, every=3, runs=1, directory=str(tmp_path),
                     postgres=postgres)
    assert [(r["processes"], r["same_as_one_process"]) for r in result["runs"]] == [(1, None), (2, True)]
    assert result["all_the_same"] and result["events"] > 300
    assert f"{database}: {result['events']} events" in report(result)
