"""Flow runs staff trigger by hand from the Prefect UI. Parameters name cases, never people."""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from inburgering.domain.calendar import today_in_amsterdam
from inburgering.domain.events import EVENT_TYPES, Day
from tasks.casefile import apply_staff_event, resend_letter as resend_letter_task, set_hold

EventType = Literal[tuple(sorted(EVENT_TYPES))]  # type: ignore[valid-type]


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
    """Send the newest letter of a type for a case again (it goes out with the next dispatch)."""
    result = resend_letter_task(case_id, letter_type, today_in_amsterdam())
    get_run_logger().info("letter %s of case-%s queued again: %s", letter_type, case_id, reason)
    return result


@flow(name="hold-letters", flow_run_name="hold {letter_type}")
def hold_letters(reason: str, letter_type: str = "*") -> int:
    """Stop sending letters of a type ('*' for all), e.g. while the mail gateway is down.
    Deadlines keep running: cases held past their term raise alerts."""
    return set_hold(letter_type, True, today_in_amsterdam(), reason)


@flow(name="release-letters", flow_run_name="release {letter_type}")
def release_letters(letter_type: str = "*") -> int:
    """Let held letters go out again, from today."""
    return set_hold(letter_type, False, today_in_amsterdam(), "released")
