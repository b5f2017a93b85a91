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
from sqlalchemy import or_, select, update

from inburgering.store.models import Case
from tasks.casefile import case_file

WAIT_DEPLOYMENT = "case-wait/case-wait"


@task(name="sync-case-waits")
def sync_case_waits(limit: int = 100) -> dict:
    created = cancelled = 0
    cases = Case.__table__
    with case_file().transaction() as session:
        stale = session.execute(
            select(cases.c.id, cases.c.process, cases.c.status, cases.c.waiting_for, cases.c.version,
                   cases.c.wait_run_id).where(
                or_(
                    cases.c.waiting_for.is_not(None)
                    & (cases.c.wait_version.is_(None) | (cases.c.wait_version != cases.c.version)),
                    cases.c.waiting_for.is_(None) & cases.c.wait_run_id.is_not(None),
                )
            ).order_by(cases.c.id).limit(limit)
        ).all()
        with get_client(sync_client=True) as client:
            for case in stale:
                run_id = None
                if case.wait_run_id:
                    client.set_flow_run_state(uuid.UUID(case.wait_run_id),
                                              Cancelled(message="the case moved on"), force=True)
                    cancelled += 1
                if case.waiting_for is not None:
                    run = run_deployment(
                        WAIT_DEPLOYMENT, parameters={"case_id": case.id}, timeout=0, as_subflow=False,
                        flow_run_name=f"{case.process} · case-{case.id} · waits for {case.waiting_for}",
                        tags=[f"process:{case.process}", f"status:{case.status}"],
                        idempotency_key=f"case-{case.id}-v{case.version}",
                    )
                    run_id = str(run.id)
                    created += 1
                # A table-level UPDATE: showing a wait is not a change of the case (no new version).
                session.execute(update(cases).where(cases.c.id == case.id)
                                .values(wait_run_id=run_id, wait_version=case.version))
    get_run_logger().info("case waits: %s shown, %s closed", created, cancelled)
    return {"created": created, "cancelled": cancelled}
