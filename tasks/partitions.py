"""Work split by person, through Prefect (architecture.md §9).

A parent run (`ingest-events`, `deadline-monitor`) with more than one partition creates one
flow run per partition of its `…-partition` deployment on the work pool, waits for them and
sums their reports. Each partition run holds a global concurrency limit of its own (one slot,
shared by ingest and monitor), so the same share of people is never worked on by two runs at
once; the engine's claims keep the case file right even if it were.

A partition run's report travels back as a table artifact on that run: on several machines
the parent cannot read a result its child stored on another machine's disk, and the table
also shows process owners what each share did.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prefect import get_client, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterType,
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from inburgering.engine.errors import InputError
from inburgering.engine.service import Partition

# How long a partition run waits for its slot while another run has it (then it fails, saying so).
SLOT_WAIT_SECONDS = 3600
# A slot's lease: renewed while the run lives; a run whose machine died frees it after this long.
SLOT_LEASE_SECONDS = 60
POLL_SECONDS = 2


def partition_count(partitions: int | None) -> int:
    """The number of partitions a parent run splits into: its parameter, else INBURGERING_PARTITIONS."""
    from inburgering import config

    if partitions is None:
        return config.partitions()
    if partitions < 1:
        raise InputError(f"partitions: {partitions} is not a number of partitions; use 1 or more")
    return partitions


def partition(part: int, parts: int) -> Partition:
    """The engine's partition for Prefect's 1-based `part` of `parts` (run names say "part 1/2")."""
    if parts < 1 or not 1 <= part <= parts:
        raise InputError(f"part: {part} of {parts} is not a partition; use a part from 1 to {parts}")
    return Partition(part - 1, parts)


def limit_name(part: int, parts: int) -> str:
    return f"inburgering-partition-{part}-of-{parts}"


def _ensure_limit(name: str) -> None:
    """Create the one-slot limit the first time a partition needs it (a limit edited in the UI
    is left as it is)."""
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            except ObjectAlreadyExists:  # another partition run created it at the same moment
                pass


@contextmanager
def partition_slot(part: int, parts: int) -> Iterator[None]:
    """Hold partition `part` of `parts`: a second run of the same partition (ingest or monitor)
    waits here until this one is done."""
    name = limit_name(part, parts)
    _ensure_limit(name)
    with concurrency(name, occupy=1, timeout_seconds=SLOT_WAIT_SECONDS, lease_duration=SLOT_LEASE_SECONDS,
                     strict=True, raise_on_lease_renewal_failure=False):
        yield


# ---- a report as table rows, and back -------------------------------------------------------

SEP = " › "


def report_rows(report: dict) -> list[dict]:
    """A report (counts, nested counts, lists of alerts) as rows: one per count, one per list item."""
    rows: list[dict] = []

    def walk(path: list[str], value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(path + [str(key)], item)
        elif isinstance(value, list):
            rows.extend({"what": SEP.join(path), "count": 1, "item": json.dumps(item, sort_keys=True, default=str)}
                        for item in value)
        elif isinstance(value, int) and not isinstance(value, bool):
            rows.append({"what": SEP.join(path), "count": value, "item": ""})
        # anything else (the day) is the parent's own

    walk([], report)
    return rows


def sum_reports(empty: dict, row_sets: list[list[dict]]) -> dict:
    """The partitions' reports added up, in the shape of `empty` (a report of no work)."""
    total = json.loads(json.dumps(empty))
    for rows in row_sets:
        for row in rows:
            *parents, leaf = row["what"].split(SEP)
            node = total
            for key in parents:
                node = node.setdefault(key, {})
            if row["item"]:
                node.setdefault(leaf, []).append(json.loads(row["item"]))
            else:
                node[leaf] = node.get(leaf, 0) + row["count"]
    return total


# ---- the partition run and the parent -----------------------------------------------------------


def run_partition(label: str, part: int, parts: int, work: Callable[[Partition], dict]) -> dict:
    """A partition run's body: hold the partition, do `work`, leave the report as a table."""
    share = partition(part, parts)
    with partition_slot(part, parts):
        report = work(share)
    leave_report(label, part, parts, report)
    return report


def leave_report(label: str, part: int, parts: int, report: dict) -> None:
    """A partition run's report, as a table on the run, for its parent to sum (`run_partitions`)."""
    create_table_artifact(report_rows(report), description=f"{label} · part {part}/{parts}: what this share of "
                                                           "the people's work did (summed by its parent run)")


def run_partitions(deployment: str, label: str, day: dt.date, parts: int, empty: dict,
                   parameters: dict | None = None) -> dict:
    """Run the `parts` partitions of `day` as flow runs of `deployment` ("flow/deployment") on the
    work pool, side by side, and return their reports summed. Fails, naming them, when a
    partition run did not complete (the next run does what it left: nothing was half-written).
    `parameters`: what each partition run is given besides its part (default: the day)."""
    context = FlowRunContext.get()
    parent = f"{context.flow_run.id}:{context.flow_run.run_count}" if context and context.flow_run else None
    given = parameters if parameters is not None else {"as_of": day.isoformat()}
    runs = [run_deployment(deployment, parameters={**given, "part": part, "parts": parts},
                           flow_run_name=f"{label} · part {part}/{parts}", timeout=0, as_subflow=True,
                           idempotency_key=f"{parent}:part-{part}-of-{parts}" if parent else None)
            for part in range(1, parts + 1)]
    get_run_logger().info("%s: %s partition runs on the work pool", label, parts)
    ids = [run.id for run in runs]
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
            if len(runs) == len(ids) and all(run.state and run.state.is_final() for run in runs):
                break
            time.sleep(POLL_SECONDS)
        unfinished = sorted(f"{run.name} ({run.state.name})" for run in runs if not run.state.is_completed())
        if unfinished:
            raise RuntimeError(f"{label}: not every partition completed: {', '.join(unfinished)}; "
                               "the next run takes over what they left")
        tables = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=ids), type=ArtifactFilterType(any_=["table"])))
    by_run = {artifact.flow_run_id: json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
              for artifact in tables}
    missing = [run.name for run in runs if run.id not in by_run]
    if missing:
        raise RuntimeError(f"{label}: no report from {', '.join(sorted(missing))}")
    return sum_reports(empty, [by_run[run_id] for run_id in ids])
