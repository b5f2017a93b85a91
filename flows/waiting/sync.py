"""Keep exactly one live wait run per case where someone must act (cases.py says which and what
the sync does; answer.py is the flow body that takes the answer).

A wait run is made **already suspended, with its form** (the run input schema and the
description Prefect's Resume dialog shows), on the deployment of the case's process: nothing
executes until staff answer it. So showing a wait costs the server a run row and two inputs,
not a flow run that starts a process to suspend itself (measured: 2.7–80 state changes/s on
SQLite, bench/wait_sync.py).

One call:
1. reads the cases that should show a run (the actionable ones, most urgent first, at most
   policy `wait_runs_max`) and the cases that show one, from the case file (two indexed reads);
2. reads the shown runs' states from Prefect (one request per 200 runs);
3. cancels suspended runs no longer wanted or out of date, creates the missing runs (at most
   `create_limit` a call, in one request per 100 on the server's bulk endpoint, then their
   forms), renames runs whose name changed (the days late), and records what it showed.
A run that Failed, Crashed, was cancelled or deleted, or whose suspension ends within
`answer.RENEW_BEFORE`, is replaced. The case file is not held while Prefect is called:
a write that is lost is repaired by the next call, which finds the same runs again by their
idempotency keys.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import httpx
import orjson
from prefect import get_client, get_run_logger, task
from prefect._internal.pydantic.v2_schema import create_v2_schema
from prefect.client.schemas.actions import DeploymentFlowRunCreate
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.sorting import FlowRunSort
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.states import Cancelled, Suspended, to_state_create
from sqlalchemy import bindparam, update

from flows.waiting.forms import form_for, with_data
from flows.waiting.answer import RENEW_BEFORE, WAIT_TIMEOUT, answer_key, keyset
from inburgering.domain.calendar import today_in_amsterdam
from flows.waiting import cases as waits
from inburgering.store.db import load_policy
from inburgering.store.models import Case
from tasks.casefile import case_file

CANCEL_MESSAGE = "the case moved on"
CREATE_BATCH = 100  # the server's limit per bulk create
READ_BATCH = 200  # the server's default limit per read
CREATE_LIMIT = 200  # new runs per call: the rest follow on the next call


def suspended_state(form) -> Suspended:  # noqa: ANN001
    """The state a new wait run is made in: suspended for its first answer, with its form's keys."""
    state = Suspended(timeout_seconds=int(WAIT_TIMEOUT.total_seconds()), pause_key=answer_key(1))
    state.state_details.run_input_keyset = keyset(1)
    return state


def _trace_labels() -> dict:
    """The trace label run_deployment gives a run made from inside a flow run."""
    from prefect.telemetry.run_telemetry import LABELS_TRACEPARENT_KEY

    context = FlowRunContext.get()
    traceparent = context.flow_run.labels.get(LABELS_TRACEPARENT_KEY) if context and context.flow_run else None
    return {LABELS_TRACEPARENT_KEY: traceparent} if traceparent else {}


def read_runs(client, run_ids: list[str]) -> dict[str, waits.RunSeen]:  # noqa: ANN001 - SyncPrefectClient
    """The shown runs' states, one request per READ_BATCH; a run that is gone is missing."""
    seen: dict[str, waits.RunSeen] = {}
    for start in range(0, len(run_ids), READ_BATCH):
        chunk = [uuid.UUID(run_id) for run_id in run_ids[start:start + READ_BATCH]]
        for run in client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)),
                                         sort=FlowRunSort.ID_DESC, limit=len(chunk)):
            timeout = run.state.state_details.pause_timeout if run.state else None
            seen[str(run.id)] = waits.RunSeen(run.state.type.value if run.state else "GONE",
                                              dt.datetime.fromisoformat(str(timeout)) if timeout else None)
    return seen


def _cancel(client, run_ids: list[str]) -> int:  # noqa: ANN001
    """Cancel suspended runs, one request a run (Prefect's bulk set-state endpoint saved only
    ~20 % of the server's time and once took 64 s for 100 runs on SQLite)."""
    cancelled = 0
    for run_id in run_ids:
        try:
            client.set_flow_run_state(run_id, Cancelled(message=CANCEL_MESSAGE), force=True)
            cancelled += 1
        except ObjectNotFound:
            pass
    return cancelled


def _retire(client, runs: dict[str, tuple[waits.CaseWait, str]]) -> int:  # noqa: ANN001
    """Rename runs that no longer show their case's wait (`case-12 · answered`), without the
    days late and the `late` tag: the late filter then counts live waits only."""
    renamed = 0
    for run_id, (case, state) in runs.items():
        try:
            client.update_flow_run(uuid.UUID(run_id), name=waits.ended_name(case.id, state),
                                   tags=waits.ended_tags(case.id, case.process))
            renamed += 1
        except ObjectNotFound:
            pass
    return renamed


def _bulk_create(client, deployment_id: uuid.UUID, bodies: list[dict]) -> list[str | None]:  # noqa: ANN001
    """Create runs in batches of the server's maximum (Prefect's REST API, one transaction a
    batch; the Python client has no method for it): the id of each run, in order, or None
    where the server refused it (e.g. SQLite busy) or has no such endpoint (older server)."""
    ids: list[str | None] = [None] * len(bodies)
    for start in range(0, len(bodies), CREATE_BATCH):
        try:
            response = client.request("POST", "/deployments/{id}/create_flow_run/bulk",
                                      path_params={"id": deployment_id}, json=bodies[start:start + CREATE_BATCH])
        except httpx.HTTPStatusError as error:
            if error.response.status_code in (404, 405, 422):  # a server without the endpoint: one by one
                return ids
            raise
        for offset, result in enumerate(response.json()["results"]):
            if result["status"] == "CREATED":
                ids[start + offset] = result["flow_run_id"]
    return ids


def _save_form(client, run_id: str, form) -> None:  # noqa: ANN001
    """What `RunInput.save` writes for a suspension: the form's schema and its description."""
    keys = keyset(1)
    for key, value in ((keys["schema"], create_v2_schema(form.__name__, model_base=form)),
                       (keys["description"], form._description)):
        try:
            client.create_flow_run_input(uuid.UUID(run_id), key, orjson.dumps(value).decode())
        except ObjectAlreadyExists:  # made by a call whose case-file write was lost
            pass


def create_waits(client, cases: list[waits.CaseWait], today: dt.date) -> tuple[dict[int, str], int]:  # noqa: ANN001
    """Make each case's wait run, suspended with its form, on its process's deployment, as
    run_deployment(timeout=0) names, tags and labels a run. Returns the run of each case and
    how many had to be made one by one."""
    labels = _trace_labels()
    made: dict[int, str] = {}
    one_by_one = 0
    by_process: dict[str, list[waits.CaseWait]] = {}
    for case in cases:
        by_process.setdefault(case.process, []).append(case)
    for process, group in by_process.items():
        deployment_id = client.read_deployment_by_name(waits.deployment_name(process)).id
        forms = [with_data(form_for(case), case, today) for case in group]
        runs = [dict(parameters={"case_id": case.id}, name=waits.run_name(case, today),
                     tags=waits.run_tags(case, today), idempotency_key=_key(case)) for case in group]
        bodies = [DeploymentFlowRunCreate(context={}, state=to_state_create(suspended_state(form)),
                                          parent_task_run_id=None, job_variables=None, labels=labels, **run)
                  .model_dump(mode="json", exclude_unset=True) for run, form in zip(runs, forms)]
        ids = _bulk_create(client, deployment_id, bodies)
        for case, form, run, run_id in zip(group, forms, runs, ids):
            if run_id is None:  # the same idempotency key: a run the batch did make is found, not doubled
                run_id = str(client.create_flow_run_from_deployment(
                    deployment_id, state=suspended_state(form), labels=labels, **run).id)
                one_by_one += 1
            _save_form(client, run_id, form)
            made[case.id] = run_id
    return made, one_by_one


def _key(case: waits.CaseWait) -> str:
    """One run per case version and run it replaces: a repeated call finds the same run."""
    return f"case-{case.id}-v{case.version}-after-{case.wait_run_id or 'none'}"


_RECORD = (update(Case.__table__).where(Case.__table__.c.id == bindparam("b_case"))
           .values(wait_run_id=bindparam("b_run"), wait_version=bindparam("b_version"),
                   wait_name=bindparam("b_name")))


def sync(today: dt.date, *, now: dt.datetime | None = None, create_limit: int = CREATE_LIMIT) -> dict:
    """One sync (see the module's docstring). Returns what it did, and how many actionable
    cases there are (those past the policy's bound are on the boards only)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    with case_file().transaction() as session:
        bound = load_policy(session).value("wait_runs_max", today)
        wanted = waits.actionable(session, bound)
        showing = waits.shown(session)
        actionable = waits.count_actionable(session) if len(wanted) >= bound else len(wanted)
    with get_client(sync_client=True) as client:
        runs = read_runs(client, [c.wait_run_id for c in showing])
        plan = waits.plan(wanted, showing, runs, today=today, now=now, renew_before=RENEW_BEFORE)
        to_show = plan.show[:create_limit]
        replaced = [c.wait_run_id for c in to_show if c.wait_run_id in runs and runs[c.wait_run_id].state in waits.LIVE]
        cancelled = _cancel(client, plan.cancel + replaced)
        made, one_by_one = create_waits(client, to_show, today) if to_show else ({}, 0)
        ended = {c.id for c in to_show} | set(plan.clear)  # a run replaced later keeps its name till then
        retired = _retire(client, {run_id: how for run_id, how in plan.retire.items() if how[0].id in ended})
        for case in plan.rename:
            client.update_flow_run(uuid.UUID(case.wait_run_id), name=waits.run_name(case, today),
                                   tags=waits.run_tags(case, today))
    shown_now = {c.id: c for c in to_show}
    records = ([{"b_case": c.id, "b_run": made[c.id], "b_version": c.version, "b_name": waits.run_name(c, today)}
                for c in shown_now.values()]
               + [{"b_case": c.id, "b_run": c.wait_run_id, "b_version": c.wait_version,
                   "b_name": waits.run_name(c, today)} for c in plan.rename]
               + [{"b_case": case_id, "b_run": None, "b_version": None, "b_name": None} for case_id in plan.clear])
    if records:
        with case_file().transaction() as session:
            # A table-level UPDATE: showing a wait is not a change of the case (no new version).
            session.connection().execute(_RECORD, records)
    return {"shown": len(to_show), "replaced": dict(Counter(plan.replaced)), "renamed": len(plan.rename),
            "closed": len(plan.clear), "cancelled": cancelled, "retired": retired, "one_by_one": one_by_one,
            "left_for_next_call": len(plan.show) - len(to_show), "actionable": actionable, "bound": bound}


@task(name="sync-case-waits")
def sync_case_waits(create_limit: int = CREATE_LIMIT) -> dict:
    """Show every case where someone must act as one live wait run (see the module's docstring)."""
    result = sync(today_in_amsterdam(), create_limit=create_limit)
    beyond = max(result["actionable"] - result["bound"], 0)
    get_run_logger().info(
        "wait runs: %s shown (%s replaced: %s), %s renamed, %s closed, %s cancelled, %s left for the next call; %s "
        "cases where someone must act%s", result["shown"], sum(result["replaced"].values()),
        result["replaced"] or "none", result["renamed"], result["closed"], result["cancelled"],
        result["left_for_next_call"], result["actionable"],
        f", {beyond} of them beyond policy wait_runs_max ({result['bound']}): on the boards only" if beyond else "")
    return result
