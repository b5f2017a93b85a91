"""The deployments, their entry points and schedules: one list for both ways of running.

`serve.py` serves these in one process; `prefect.yaml` declares the same for a
process work pool (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

TIMEZONE = "Europe/Amsterdam"


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    entrypoint: str  # path/to/file.py:function, as prefect.yaml writes it
    description: str
    cron: str | None = None
    interval_seconds: int | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


CATALOGUE: tuple[DeploymentSpec, ...] = (
    DeploymentSpec("deadline-monitor", "flows/monitor/flow.py:deadline_monitor",
                   "Daily: fire every deadline due, send reminders and alerts, show what is late.",
                   cron="0 6 * * *", tags=("monitor",)),
    DeploymentSpec("ingest-events", "flows/ingest/flow.py:ingest_events",
                   "Apply received events (registries, schools, Mijn Inburgering) in batches.",
                   interval_seconds=300, tags=("ingest",)),
    DeploymentSpec("dispatch-letters", "flows/dispatch/flow.py:dispatch_letters",
                   "Send the outbox (letters, e-mails, notices, payments) through the gateway.",
                   interval_seconds=120, tags=("dispatch",)),
    DeploymentSpec("case-wait", "flows/casewait/flow.py:case_wait",
                   "One run per waiting case; staff answer its form to give what it waits for.",
                   tags=("case",)),
    DeploymentSpec("record-paper-event", "flows/staff/flow.py:record_paper_event",
                   "Staff: record an event that arrived on paper for a case.", tags=("staff",)),
    DeploymentSpec("resend-letter", "flows/staff/flow.py:resend_letter",
                   "Staff: send a case's letter (or payment order) again.", tags=("staff",)),
    DeploymentSpec("retry-incidents", "flows/staff/flow.py:retry_incidents",
                   "Staff: retry one incident (by id) or every open one, e.g. once the gateway is back.",
                   tags=("staff", "incidents")),
    DeploymentSpec("close-incident", "flows/staff/flow.py:close_incident",
                   "Staff: close an incident with a resolution; its step is given up.", tags=("staff", "incidents")),
    DeploymentSpec("hold-letters", "flows/staff/flow.py:hold_letters",
                   "Process owner: hold letters of a type, e.g. while the mail gateway is down.", tags=("staff",)),
    DeploymentSpec("release-letters", "flows/staff/flow.py:release_letters",
                   "Process owner: let held letters go out again.", tags=("staff",)),
)

# Only the embedded demo: feeds the example journeys' events as if registries sent them.
DEMO = DeploymentSpec("demo-feed", "flows/demo/flow.py:demo_feed",
                      "Demo only: the example journeys' next events arrive, as registries would send them.",
                      interval_seconds=60, tags=("demo",))
