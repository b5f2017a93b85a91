"""bench.api works: a handful of requests against the real server, every accepted event in the
inbox once. No timing is asserted."""

from __future__ import annotations

from bench.api import run


def test_the_api_benchmark_runs_and_finds_every_accepted_event_in_the_inbox(database_url, tmp_path):
    result = run(database_url, "db", list_events=250, singles=12, connections=4, log_dir=tmp_path)
    lists, singles = result["phases"]
    assert (lists["requests"], lists["events"], lists["statuses"]) == (3, 250, {"202": 3})
    assert (singles["requests"], singles["statuses"]) == (12, {"202": 12})
    assert result["accepted"] == 262 and result["missing"] == 0 and result["extra"] == 0
