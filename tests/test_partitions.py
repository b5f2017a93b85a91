"""Partitions through Prefect and the production set-up, on a real (temporary) Prefect server.

The whole path — workers, a parent fanning partitions out on the pool, a killed machine — is
tests/test_production_path.py; here are the pieces: a partition's report and the parent's sum,
the slot that keeps two runs of one partition apart, and what `inburgering prefect-setup` leaves
on the server (queues in order, and an automation that crashes a silent run, never a run that
suspended to wait for staff).
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from prefect import flow, get_client
from prefect.client.schemas.objects import StateType
from prefect.states import Running, Suspended

from deployments.catalogue import QUEUES
from deployments.setup import CRASHED_RUNS, set_up
from inburgering.engine.errors import InputError
from tasks.partitions import limit_name, partition, partition_count, partition_slot, report_rows, sum_reports


def _monitor_report(applied: int, fired: dict, alerts: list) -> dict:
    return {"ingest": {"applied": applied, "rejected": 1, "errors": 0, "fired": {},
                       "sent": {"letter/start_letter": applied}},
            "monitor": {"fired": fired, "sent": {}, "alerts": alerts,
                        "events": {"applied": 0, "rejected": 0, "errors": 0}}}


def test_the_parent_sums_what_each_partition_reports():
    empty = _monitor_report(0, {}, [])
    empty["ingest"].update(rejected=0, sent={})
    one = _monitor_report(3, {"exam_reminder": 2}, [{"case": "case-4", "process": "exams", "type": "late",
                                                     "days_late": 3}])
    two = _monitor_report(5, {"exam_reminder": 1, "invoice_reminder": 4}, [])
    summed = sum_reports(empty, [report_rows(one), report_rows(two)])
    assert summed["ingest"] == {"applied": 8, "rejected": 2, "errors": 0, "fired": {},
                               "sent": {"letter/start_letter": 8}}
    assert summed["monitor"]["fired"] == {"exam_reminder": 3, "invoice_reminder": 4}
    assert summed["monitor"]["alerts"] == one["monitor"]["alerts"]
    assert summed["monitor"]["events"] == {"applied": 0, "rejected": 0, "errors": 0}
    assert sum_reports(empty, []) == empty  # no partition did anything: the shape is still whole


def test_partitions_are_numbered_from_one_and_refused_by_name():
    assert (partition(1, 2).index, partition(2, 2).index) == (0, 1)
    for part, parts in ((0, 2), (3, 2), (1, 0)):
        with pytest.raises(InputError, match=f"part: {part} of {parts} is not a partition"):
            partition(part, parts)
    with pytest.raises(InputError, match="partitions: 0 is not a number of partitions"):
        partition_count(0)


def test_the_number_of_partitions_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("INBURGERING_PARTITIONS", raising=False)
    assert partition_count(None) == 1
    monkeypatch.setenv("INBURGERING_PARTITIONS", "3")
    assert (partition_count(None), partition_count(2)) == (3, 2)
    monkeypatch.setenv("INBURGERING_PARTITIONS", "two")
    with pytest.raises(ValueError, match="INBURGERING_PARTITIONS: 'two' is not a number of partitions"):
        partition_count(None)


@pytest.mark.prefect
def test_a_partition_never_runs_twice_at_once(prefect_server):
    parts = 50 + uuid.uuid4().int % 1000  # limits of their own on the session's server
    order: list[str] = []
    holding, released, other_done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold(who: str, part: int, wait: threading.Event | None, then: threading.Event | None) -> None:
        try:
            with partition_slot(part, parts):
                order.append(f"{who} in")
                if then is not None:
                    then.set()
                if wait is not None:
                    wait.wait(120)
                order.append(f"{who} out")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    first = threading.Thread(target=hold, args=("first", 1, released, holding))
    first.start()
    assert holding.wait(120)
    second = threading.Thread(target=hold, args=("second", 1, None, None))  # the same partition: waits
    other = threading.Thread(target=hold, args=("other", 2, None, other_done))  # another partition: goes on
    second.start()
    other.start()
    assert other_done.wait(120)
    other.join(120)
    second.join(3)  # it must still be waiting for the slot the first holds
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(limit_name(1, parts)).active_slots == 1
    released.set()
    first.join(120)
    second.join(120)
    assert not errors, errors
    assert order.index("second in") > order.index("first out")
    assert order.index("other out") < order.index("first out")


@pytest.mark.prefect
def test_the_set_up_is_safe_to_repeat(prefect_server):
    first, again = set_up(pool="setup-test"), set_up(pool="setup-test")
    assert "work pool setup-test: created (process)" in first and "work pool setup-test: there" in again
    with get_client(sync_client=True) as client:
        queues = {q.name: q.priority for q in client.read_work_queues(work_pool_name="setup-test")}
        automations = client.read_automations_by_name(CRASHED_RUNS)
    assert queues == QUEUES  # staff (1) before the scheduled work (2)
    assert len(automations) == 1


@flow(name="heartbeat-subject")
def _subject() -> None:
    pass


@pytest.mark.prefect
def test_a_run_that_goes_silent_is_marked_crashed_and_a_suspended_one_is_not(prefect_server):
    """The set-up's automation with a short silence (the shipped one waits 120 s; the production-
    path test kills a real worker), driven by the state events the server sends: a run that
    started and then says nothing has lost its process; a run suspended to wait for staff has not."""
    set_up(pool="setup-test", after_seconds=10)
    try:
        with get_client(sync_client=True) as client:
            silent, waiting = (client.create_flow_run(_subject, name=f"heartbeat test {i}") for i in range(2))
            for run in (silent, waiting):
                client.set_flow_run_state(run.id, Running())
            client.set_flow_run_state(waiting.id, Suspended(timeout_seconds=3600), force=True)
            deadline = time.monotonic() + 300
            while client.read_flow_run(silent.id).state.type != StateType.CRASHED and time.monotonic() < deadline:
                time.sleep(1)
            crashed = client.read_flow_run(silent.id).state
            assert crashed.type == StateType.CRASHED and "No heartbeat" in crashed.message
            assert client.read_flow_run(waiting.id).state.name == "Suspended"
    finally:
        set_up(pool="setup-test")  # the shipped automation again, for the rest of the session


def test_prefect_setup_refuses_a_webhook_that_is_not_http_before_touching_the_server(monkeypatch):
    from typer.testing import CliRunner

    from inburgering.cli import app

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # nothing listens: it must not be asked
    result = CliRunner().invoke(app, ["prefect-setup", "--notify-url", "ftp://chat.internal/hook"])
    assert result.exit_code == 2
    assert "--notify-url: 'ftp://chat.internal/hook' is not an http(s) URL" in result.output
