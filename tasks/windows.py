"""Keep one Prefect flow run per waiting case, so process owners see each wait.

A case that waits (for a prerequisite, an acceptance, a declaration, a staff
decision) gets a `case-wait` run, named after the process and the case id, that
suspends with a typed form; staff answer the form to give the awaited input. When
the case moves on, its old wait run is cancelled and, if it waits again, a new one
is made. Work per call is bounded; the rest follows on the next call.
"""

from __future__ import annotations

import uuid

from prefect import get_client, get_run_logger, task
from prefect.deployments import run_deployment
from prefect.states import Cancelled
from sqlalchemy import or_, select

from inburgering.store.models import Case
from tasks.casefile import case_file

WAIT_DEPLOYMENT = "case-wait/case-wait"


@task(name="sync-case-waits")
def sync_case_waits(limit: int = 100) -> dict:
    created = cancelled = 0
    with case_file().transaction() as session:
        stale = session.scalars(
            select(Case).where(
                or_(
                    Case.waiting_for.is_not(None) & (Case.wait_version.is_(None) | (Case.wait_version != Case.version)),
                    Case.waiting_for.is_(None) & Case.wait_run_id.is_not(None),
                )
            ).order_by(Case.id).limit(limit)
        ).all()
        with get_client(sync_client=True) as client:
            for case in stale:
                if case.wait_run_id:
                    client.set_flow_run_state(uuid.UUID(case.wait_run_id),
                                              Cancelled(message="the case moved on"), force=True)
                    cancelled += 1
                    case.wait_run_id = None
                if case.waiting_for is not None:
                    run = run_deployment(
                        WAIT_DEPLOYMENT, parameters={"case_id": case.id}, timeout=0, as_subflow=False,
                        flow_run_name=f"{case.process} · case-{case.id} · waits for {case.waiting_for}",
                        tags=[f"process:{case.process}", f"status:{case.status}"],
                        idempotency_key=f"case-{case.id}-v{case.version}",
                    )
                    case.wait_run_id = str(run.id)
                    created += 1
                case.wait_version = case.version
    get_run_logger().info("case waits: %s shown, %s closed", created, cancelled)
    return {"created": created, "cancelled": cancelled}
