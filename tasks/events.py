"""Prefect events for process owners: an Automation turns them into a notification.

`inburgering.alert.<type>` (e.g. `inburgering.alert.start_letter_overdue`) for each alert an
ingest or monitor run raises, on the resource `inburgering.case.<id>` (named `case-<id>`),
related to its process. The payload holds the case, process, alert type and, when the alert
says so, the day it was due and the days late: never personal data.
"""

from __future__ import annotations

from prefect.events import emit_event

ALERT = "inburgering.alert"
_SAFE = ("due_by", "days_late", "decision_due")  # dates and counts only


def case_resource(case: str) -> dict[str, str]:
    """`case-12` -> the resource `inburgering.case.12`."""
    return {"prefect.resource.id": f"inburgering.case.{case.removeprefix('case-')}", "prefect.resource.name": case}


def announce_alerts(alerts: list[dict]) -> None:
    """One event per alert (`{"case", "process", "type", ...}` as the engine reports them)."""
    for alert in alerts:
        payload = {"case": alert["case"], "process": alert["process"], "alert": alert["type"],
                   **{k: str(alert[k]) for k in _SAFE if alert.get(k) is not None}}
        emit_event(event=f"{ALERT}.{alert['type']}", resource=case_resource(alert["case"]), payload=payload,
                   related=[{"prefect.resource.id": f"inburgering.process.{alert['process']}",
                             "prefect.resource.role": "process", "prefect.resource.name": alert["process"]}])
