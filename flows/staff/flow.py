"""Flow runs staff trigger by hand from the Prefect UI. Parameters name cases, never people."""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from pydantic import BaseModel, Field

from inburgering.domain.calendar import today_in_amsterdam
from inburgering.domain.events import EVENT_TYPES, Day
from flows.dispatch.flow import dispatch_letters
from inburgering.engine.incidents import KINDS
from tasks import incidents as incident_tasks
from tasks.casefile import apply_staff_event, resend_letter as resend_letter_task, set_hold

EventType = Literal[tuple(sorted(EVENT_TYPES))]  # type: ignore[valid-type]
IncidentKind = Literal[KINDS]  # type: ignore[valid-type]


class PaperEvent(BaseModel):
    """An event that reached DUO on paper. `fields` holds the event's own fields
    (see the scenario contract), e.g. {"municipality": "Utrecht"}."""

    type: EventType  # type: ignore[valid-type]
    date: Day  # on or before today: checked when it is recorded
    fields: dict[str, Any] = Field(default_factory=dict)


@flow(name="record-paper-event", flow_run_name="paper {event.type} · case-{case_id}")
def record_paper_event(case_id: int, event: PaperEvent) -> dict:
    """Record an event for the person of a case and apply it now. Fails, naming the
    problem, when the event is refused; nothing is half-applied."""
    raw = {**event.fields, "type": event.type, "date": event.date.isoformat()}
    return apply_staff_event(case_id, raw, source="staff:paper")


@flow(name="resend-letter", flow_run_name="resend {letter_type} · case-{case_id}")
def resend_letter(case_id: int, letter_type: str, reason: str) -> dict:
    """Send the newest letter of a type for a case again (it goes out with the next dispatch).
    `school_paid` sends the case's payment order again with its own idempotency key, so the
    school is never paid twice."""
    result = resend_letter_task(case_id, letter_type, today_in_amsterdam())
    get_run_logger().info("%s of case-%s queued again: %s", letter_type, case_id, reason)
    return result


def _retry_run_name() -> str:
    incident_id, kind = flow_run.parameters.get("incident_id"), flow_run.parameters.get("kind")
    if incident_id is not None:
        return f"retry incident-{incident_id}"
    return f"retry all open {kind} incidents" if kind else "retry all open incidents"


@flow(name="retry-incidents", flow_run_name=_retry_run_name)
def retry_incidents(incident_id: int | None = None, kind: IncidentKind | None = None,  # type: ignore[valid-type]
                    dispatch_now: bool = True) -> dict:
    """Retry one incident (its id) or every open one (of a kind, or all): its step is queued
    again and the incident is `retried` until the step succeeds (it closes) or fails again
    (it is open again). With `dispatch_now`, retried messages go to the gateway at once."""
    retried = incident_tasks.retry(incident_id, kind)
    incident_tasks.announce_incidents(retried=retried)
    result: dict[str, Any] = {"retried": [r["incident"] for r in retried]}
    if dispatch_now and any(r["kind"] == "delivery" for r in retried):
        state = dispatch_letters(return_state=True)
        result["dispatch"] = state.result() if state.is_completed() else \
            f"the dispatch did not run ({state.name}); the scheduled dispatch-letters run sends them"
    incident_tasks.publish_incidents()
    return result


@flow(name="close-incident", flow_run_name="close incident-{incident_id}")
def close_incident(incident_id: int, resolution: str) -> dict:
    """Close an incident with a resolution (kept with it): its step is given up, e.g. a
    message is not sent. To have the step done, retry the incident instead."""
    closed = incident_tasks.close(incident_id, resolution)
    incident_tasks.announce_incidents(closed=[closed])
    incident_tasks.publish_incidents()
    return closed


@flow(name="hold-letters", flow_run_name="hold {letter_type}")
def hold_letters(reason: str, letter_type: str = "*") -> int:
    """Stop sending letters of a type ('*' for all), e.g. while the mail gateway is down.
    Deadlines keep running: cases held past their term raise alerts."""
    return set_hold(letter_type, True, today_in_amsterdam(), reason)


@flow(name="release-letters", flow_run_name="release {letter_type}")
def release_letters(letter_type: str = "*") -> int:
    """Let held letters go out again, from today."""
    return set_hold(letter_type, False, today_in_amsterdam(), "released")
