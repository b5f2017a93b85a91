"""`python -m bench.prefect_flows` on 20 journeys against the suite's Prefect server.

Not a timing test: it checks what a user of the figures relies on — the backlog was
really applied through the flows (nothing dated up to the day is left pending), each
flow run made the bounded number of task runs the benchmark claims, Prefect and the
embedded engine left the same case file, and every figure is there.
"""

from __future__ import annotations

import pytest

from bench.prefect_flows import EXPECTED_TASK_RUNS, PATH_KEYS, PATHS, RATIO_KEYS, SETUP_KEYS, measure, ratio

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    return measure(20, seed=3, days=365, directory=str(tmp_path_factory.mktemp("bench-prefect")))


def test_every_event_up_to_the_day_is_applied_on_every_path(figures):
    due = figures["setup"]["events_due"]
    assert due > 50
    for path in PATHS:
        f = figures[path]
        assert f["ingest_processed"] == due, path
        assert f["ingest_applied"] + f["ingest_rejected"] == due, path
        assert f["pending_left"] == 0, path  # nothing dated up to the daily run's day is left in the inbox
        assert f["outcome"] == figures["embedded"]["outcome"], path  # the same case file as without Prefect


def test_each_flow_run_makes_the_bounded_number_of_task_runs(figures):
    for path, waits in (("prefect", False), ("prefect_waits", True)):
        f = figures[path]
        assert f["ingest_task_runs"] == EXPECTED_TASK_RUNS[("ingest", waits)] == len(f["task_seconds"]["ingest"])
        assert f["monitor_task_runs"] == f["daily_task_runs"] == EXPECTED_TASK_RUNS[("monitor", waits)]
        names = {name.rsplit("-", 1)[0] for name in f["task_seconds"]["daily"]}
        ingest_names = {name.rsplit("-", 1)[0] for name in f["task_seconds"]["ingest"]}
        assert ingest_names == {"ingest-pending-events"} | ({"sync-case-waits", "publish-boards"} if waits else set())
        assert names == {"ingest-pending-events", "fire-due-deadlines", "read-case-board", "publish-monitor-report"} \
            | ({"sync-case-waits"} if waits else set())
    # every case where someone must act shows one wait run (20 journeys: under the bound, and the
    # three syncs of the path create up to 600)
    assert figures["prefect_waits"]["case_wait_runs"] == figures["prefect_waits"]["actionable_cases"]
    assert figures["prefect"]["case_wait_runs"] == 0


def test_the_figures_have_every_key(figures):
    assert set(figures) == {"setup", *PATHS, "ratios", "expected_task_runs"}
    assert set(figures["setup"]) == set(SETUP_KEYS)
    for path in PATHS:
        assert set(figures[path]) == set(PATH_KEYS), path
    for path in PATHS[1:]:
        assert set(figures["ratios"][path]) == set(RATIO_KEYS)
        # None where the embedded step took under the 1 ms the figures keep (a fast machine)
        assert all(ratio is None or ratio > 0 for ratio in figures["ratios"][path].values())
    assert figures["setup"]["heartbeat"] == "off"


def test_a_ratio_over_a_step_too_quick_to_measure_is_none_not_an_error():
    assert ratio(0.012, 0.0) is None  # the embedded day rounded to 0.000 s on a fast machine
    assert ratio(0.012, 0.004) == 3.0
