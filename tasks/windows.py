"""Keep one Prefect flow run per waiting case, so process owners see each wait.

A case that waits (for a prerequisite, an acceptance, a declaration, a staff
decision) gets a `case-wait` run, named after the process and the case id, that
suspends with a typed form; staff answer the form to give the awaited input. When
the case moves on, its old wait run is cancelled and, if it waits again, a new one
is made. Work per call is bounded; the rest follows on the next call.

What it costs is the Prefect server's work per run (measured on a 2-core machine: about
25 ms to create a run in a batch, 40 ms one run a request, 25 ms to cancel one). So one
call uses one client and reads the deployment once; the new runs are created in one
batch request (`POST /deployments/{id}/create_flow_run/bulk`) with what
`run_deployment(..., timeout=0, as_subflow=False)` gives a run, falling back to one
request a run where the server refuses (no such endpoint, SQLite busy); the stale runs'
states are read in one request, and those still open are cancelled one request each (a
run that finished, e.g. answered through its form, keeps its state). The case file is
read and written in two short transactions, not held while Prefect is called: a write
that is lost is repaired by the next call, which finds the same runs by their
idempotency keys.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
from prefect import get_client, get_run_logger, task
from prefect.client.schemas.actions import DeploymentFlowRunCreate
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Scheduled, to_state_create
from sqlalchemy import Select, bindparam, select, update

from inburgering.store.models import WAIT_RUN_STALE, Case
from tasks.casefile import case_file

WAIT_DEPLOYMENT = "case-wait/case-wait"
CANCEL_MESSAGE = "the case moved on"
CREATE_BATCH = 100  # the server's limit per bulk create
READ_BATCH = 200  # the server's default limit per read


# ---- the rules (plain functions) ---------------------------------------------------------------


@dataclass(frozen=True)
class WaitRun:
    """The case-wait run a waiting case shows: nothing about the person, only the case id."""

    name: str
    parameters: dict
    tags: list[str]
    idempotency_key: str  # one run per case version: a repeated call finds the same run


@dataclass(frozen=True)
class WaitChange:
    case_id: int
    version: int
    cancel: str | None  # the run shown for an earlier version
    show: WaitRun | None  # the run to show now (None: the case no longer waits)


def stale_waits(limit: int) -> Select:
    """Cases whose shown run is missing or out of date (`WAIT_RUN_STALE`, indexed)."""
    cases = Case.__table__
    return select(cases.c.id, cases.c.process, cases.c.status, cases.c.waiting_for, cases.c.version,
                  cases.c.wait_run_id).where(WAIT_RUN_STALE).order_by(cases.c.id).limit(limit)


def wait_change(case) -> WaitChange:  # noqa: ANN001 - a row of stale_waits()
    show = None
    if case.waiting_for is not None:
        show = WaitRun(name=f"{case.process} · case-{case.id} · waits for {case.waiting_for}",
                       parameters={"case_id": case.id},
                       tags=[f"process:{case.process}", f"status:{case.status}"],
                       idempotency_key=f"case-{case.id}-v{case.version}")
    return WaitChange(case_id=case.id, version=case.version, cancel=case.wait_run_id or None, show=show)


# ---- Prefect ----------------------------------------------------------------------------------


def _trace_labels() -> dict:
    """The trace label run_deployment gives a run made from inside a flow run."""
    from prefect.telemetry.run_telemetry import LABELS_TRACEPARENT_KEY

    context = FlowRunContext.get()
    traceparent = context.flow_run.labels.get(LABELS_TRACEPARENT_KEY) if context and context.flow_run else None
    return {LABELS_TRACEPARENT_KEY: traceparent} if traceparent else {}


def _cancel(client, run_ids: list[str]) -> int:  # noqa: ANN001 - SyncPrefectClient
    """Cancel the runs shown for earlier versions that are still open (scheduled, suspended,
    running), forced as before, one request a run: Prefect's bulk set-state endpoint saved
    only ~20 % of the server's time and once took 64 s for 100 runs on SQLite. A run that has
    finished keeps its state: an answered run stays Completed (Prefect accepts Cancelled over
    Completed even without force, so the runs' states are read first, in one request a batch).
    A run that is gone (deleted in the UI) needs no cancelling. Returns how many it cancelled."""
    cancelled = 0
    finished = [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]
    for start in range(0, len(run_ids), READ_BATCH):
        chunk = [uuid.UUID(run_id) for run_id in run_ids[start:start + READ_BATCH]]
        still_open = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk),
                                          state=FlowRunFilterState(type=FlowRunFilterStateType(not_any_=finished))),
            sort=FlowRunSort.ID_DESC, limit=len(chunk))
        for run in still_open:
            try:
                client.set_flow_run_state(run.id, Cancelled(message=CANCEL_MESSAGE), force=True)
                cancelled += 1
            except ObjectNotFound:
                pass
    return cancelled


def _bulk_create(client, deployment_id: uuid.UUID, runs: list[WaitRun],  # noqa: ANN001 - SyncPrefectClient
                 labels: dict) -> list[str | None]:
    """Create runs in batches of the server's maximum (Prefect's REST API, one transaction a
    batch; the Python client has no method for it): the id of each run, in order, or None
    where the server refused it (e.g. SQLite busy) or has no such endpoint (older server)."""
    ids: list[str | None] = [None] * len(runs)
    for start in range(0, len(runs), CREATE_BATCH):
        chunk = runs[start:start + CREATE_BATCH]
        body = [DeploymentFlowRunCreate(
            parameters=run.parameters, context={}, state=to_state_create(Scheduled()), tags=run.tags,
            name=run.name, idempotency_key=run.idempotency_key, parent_task_run_id=None, job_variables=None,
            labels=labels).model_dump(mode="json", exclude_unset=True) for run in chunk]
        try:
            response = client.request("POST", "/deployments/{id}/create_flow_run/bulk",
                                      path_params={"id": deployment_id}, json=body)
        except httpx.HTTPStatusError as error:
            if error.response.status_code in (404, 405, 422):  # a server without the endpoint: one by one
                return ids
            raise
        for offset, result in enumerate(response.json()["results"]):
            if result["status"] == "CREATED":
                ids[start + offset] = result["flow_run_id"]
    return ids


def _create(client, runs: list[WaitRun]) -> tuple[list[str], int]:  # noqa: ANN001 - SyncPrefectClient
    """Create the runs as run_deployment(timeout=0, as_subflow=False) does: Scheduled now,
    with name, tags, parameters, idempotency key and trace label. Returns their ids and
    how many had to be made one by one."""
    deployment_id = client.read_deployment_by_name(WAIT_DEPLOYMENT).id
    labels = _trace_labels()
    ids = _bulk_create(client, deployment_id, runs, labels)
    one_by_one = 0
    for index, run in enumerate(runs):
        if ids[index] is None:  # the same idempotency key: a run the batch did make is found, not doubled
            ids[index] = str(client.create_flow_run_from_deployment(
                deployment_id, parameters=run.parameters, state=Scheduled(), name=run.name, tags=run.tags,
                idempotency_key=run.idempotency_key, labels=labels).id)
            one_by_one += 1
    return ids, one_by_one


@task(name="sync-case-waits")
def sync_case_waits(limit: int = 100) -> dict:
    with case_file().transaction() as session:
        changes = [wait_change(row) for row in session.execute(stale_waits(limit))]
    to_show = [c for c in changes if c.show is not None]
    to_close = [c.cancel for c in changes if c.cancel]
    cancelled = one_by_one = 0
    if changes:
        with get_client(sync_client=True) as client:
            cancelled = _cancel(client, to_close)
            ids, one_by_one = _create(client, [c.show for c in to_show]) if to_show else ([], 0)
        shown = dict(zip((c.case_id for c in to_show), ids))
        cases = Case.__table__
        with case_file().transaction() as session:
            # A table-level UPDATE: showing a wait is not a change of the case (no new version).
            session.connection().execute(
                update(cases).where(cases.c.id == bindparam("b_case"))
                .values(wait_run_id=bindparam("b_run"), wait_version=bindparam("b_version")),
                [{"b_case": c.case_id, "b_run": shown.get(c.case_id), "b_version": c.version} for c in changes])
    get_run_logger().info("case waits: %s shown (%s of them one by one), %s closed (%s runs cancelled, the rest "
                          "had finished or were deleted)", len(to_show), one_by_one, len(to_close), cancelled)
    # closed: waits of earlier case versions replaced or ended; cancelled: their runs still open.
    return {"created": len(to_show), "closed": len(to_close), "cancelled": cancelled}
