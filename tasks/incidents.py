"""Incidents in Prefect: a Prefect event for each incident opened or closed (so an
Automation can notify someone), the `open-incidents` table artifact, and the staff actions.
Case and incident ids only: the summaries carry no personal data."""

from __future__ import annotations

import datetime as dt

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.events import emit_event

from inburgering.domain.calendar import today_in_amsterdam
from inburgering.engine import board, incidents
from inburgering.engine.errors import refusals_returned
from tasks.casefile import case_file
from tasks.events import case_resource

OPENED = "inburgering.incident.opened"
RETRIED = "inburgering.incident.retried"
CLOSED = "inburgering.incident.closed"


def _resource(incident: dict) -> dict[str, str]:
    """The case the incident is on (`inburgering.case.12`), or the incident when it has no case."""
    if incident["case"]:
        return case_resource(incident["case"])
    return {"prefect.resource.id": f"inburgering.incident.{incident['incident']}",
            "prefect.resource.name": f"incident-{incident['incident']}"}


def announce_incidents(opened: list[dict] = (), closed: list[dict] = (), retried: list[dict] = ()) -> None:
    """One Prefect event per incident newly open, retried or closed (`incidents.describe` rows)."""
    for name, rows in ((OPENED, opened), (RETRIED, retried), (CLOSED, closed)):
        for incident in rows:
            emit_event(event=name, resource=_resource(incident), payload=incident,
                       related=[{"prefect.resource.id": f"inburgering.incident.{incident['incident']}",
                                 "prefect.resource.role": "incident",
                                 "prefect.resource.name": f"incident-{incident['incident']}"},
                                {"prefect.resource.id": f"inburgering.incident-kind.{incident['kind']}",
                                 "prefect.resource.role": "incident-kind"}])


def incidents_artifact(rows: list[dict], description: str) -> None:
    create_table_artifact(rows or [{"incident": "—", "summary": "no open incidents"}], key="open-incidents",
                          description=description)


@task(name="publish-incidents")
def publish_incidents() -> int:
    with case_file().transaction() as session:
        rows = board.open_incidents(session)
    incidents_artifact(rows, f"Incidents not closed on {today_in_amsterdam()} (oldest first)")
    return len(rows)


@task(name="retry-incidents")
@refusals_returned
def retry(incident_id: int | None, kind: str | None) -> list[dict]:
    with case_file().transaction() as session:
        retried = incidents.retry(session, now=dt.datetime.now(dt.timezone.utc), on=today_in_amsterdam(),
                                  incident_id=incident_id, kind=kind)
        rows = [incidents.describe(i) for i in retried]
    get_run_logger().info("retried %s incident(s): %s", len(rows), ", ".join(f"incident-{r['incident']}" for r in rows))
    return rows


@task(name="close-incident")
@refusals_returned
def close(incident_id: int, resolution: str) -> dict:
    with case_file().transaction() as session:
        return incidents.describe(incidents.close(session, incident_id, resolution, today_in_amsterdam()))
