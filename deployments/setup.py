"""What a Prefect server needs before `prefect deploy --all`: the process work pool, its queues
in their order, and the automation that marks a run Crashed when its heartbeats stop.

    inburgering prefect-setup [--pool inburgering]

Safe to run again: what exists is brought to this shape, nothing is duplicated.
"""

from __future__ import annotations

from datetime import timedelta

from prefect import get_client
from prefect.events.schemas.automations import AutomationCore
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectNotFound

from deployments.catalogue import CRASHED_AFTER_SECONDS, HEARTBEAT_SECONDS, QUEUES

POOL = "inburgering"
CRASHED_RUNS = "inburgering: mark runs without heartbeats Crashed"


def crashed_runs_automation(after_seconds: int = CRASHED_AFTER_SECONDS) -> AutomationCore:
    """After a run starts (Pending, Running) and after each of its heartbeats, the next heartbeat,
    its start or its end is expected within `after_seconds`; otherwise its process is gone (a
    machine lost, `kill -9`) and the run is marked Crashed, so it does not stay Running for good
    and frees its deployment's concurrency slot. A run killed before its first heartbeat reached
    the server is caught by its Running event. A run that suspends or pauses (a case waiting for
    staff) stops its heartbeats on purpose."""
    return AutomationCore(
        name=CRASHED_RUNS,
        description=f"Flow runs send a heartbeat every {HEARTBEAT_SECONDS} s (prefect.yaml); a run silent for "
                    f"{after_seconds} s has lost its process and is marked Crashed.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat", "prefect.flow-run.Pending", "prefect.flow-run.Running"},
            expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Running", "prefect.flow-run.Completed",
                    "prefect.flow-run.Failed", "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed",
                    "prefect.flow-run.Paused", "prefect.flow-run.Suspended"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=after_seconds),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message=f"No heartbeat for {after_seconds} s: the worker or its machine "
                                            "was lost. The next run takes over its work.")],
    )


def set_up(pool: str = POOL, after_seconds: int = CRASHED_AFTER_SECONDS) -> list[str]:
    """Create or bring up to date the pool, queues and automation; returns what was done."""
    done = []
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
            done.append(f"work pool {pool}: there")
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
            done.append(f"work pool {pool}: created (process)")
        existing = {q.name: q for q in client.read_work_queues(work_pool_name=pool)}
        for name, priority in sorted(QUEUES.items(), key=lambda item: item[1]):
            if name not in existing:
                client.create_work_queue(name=name, work_pool_name=pool, priority=priority)
                done.append(f"queue {name}: created, priority {priority}")
            elif existing[name].priority != priority:
                client.update_work_queue(existing[name].id, priority=priority)
                done.append(f"queue {name}: priority {priority}")
            else:
                done.append(f"queue {name}: there, priority {priority}")
        wanted = crashed_runs_automation(after_seconds)
        found = client.read_automations_by_name(CRASHED_RUNS)
        if found:
            client.update_automation(found[0].id, wanted)
            for extra in found[1:]:
                client.delete_automation(extra.id)
            done.append(f"automation '{CRASHED_RUNS}': up to date ({after_seconds} s)")
        else:
            client.create_automation(wanted)
            done.append(f"automation '{CRASHED_RUNS}': created ({after_seconds} s)")
    return done
