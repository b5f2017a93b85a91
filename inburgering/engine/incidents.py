"""Incidents, as Camunda has them: a step that failed and waits for people.

A step that cannot be done — a message the gateway does not take, a timer or an event
that raises — is not given up and does not roll back anyone else's work: it becomes an
incident on its case. Process owners see the open ones (the board, a Prefect event);
staff retry them or close them with a resolution.

An incident names the row of work it is about: `source` is the table (outbox, deadlines,
received_events) and `source_id` the row. At most one incident per source row is not
closed, so opening one again updates it (attempts, error) instead of adding another.

    open ──staff retry──▶ retried ──the step succeeds──▶ closed ("delivered after 7 attempts")
      ▲                      │
      └──fails again─────────┘
    open or retried ──staff close, with a resolution──▶ closed (the step is given up)

The step's own code opens incidents (`open_incident`) and closes them when it succeeds
(`resolve_source`). What a retry or a close does to the source row is in one table here
(`SOURCES`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from inburgering.engine.errors import InputError
from inburgering.store.models import INCIDENT_ACTIVE, Deadline, Incident, OutboxMessage, ReceivedEvent

_OUTBOX = OutboxMessage.__table__

KINDS = ("delivery", "timer", "event")
STATES = ("open", "retried", "closed")


# ---- what a retry or a close does to the row of work, per source table ------------------------


def requeue_message(session: Session, outbox_id: int, from_statuses: tuple[str, ...] = ("pending", "failed")) -> bool:
    """The message goes with the next dispatch (False: it was sent meanwhile)."""
    result = session.execute(update(_OUTBOX).where(_OUTBOX.c.id == outbox_id, _OUTBOX.c.status.in_(from_statuses))
                             .values(status="pending", next_attempt_at=None))
    return result.rowcount == 1


def _abandon_message(session: Session, outbox_id: int) -> None:
    """Its message is not sent (unless it went already)."""
    session.execute(update(_OUTBOX).where(_OUTBOX.c.id == outbox_id, _OUTBOX.c.status.in_(("pending", "failed")))
                    .values(status="cancelled", next_attempt_at=None))


def _requeue_event(session: Session, inbox_id: int) -> bool:
    row = session.get(ReceivedEvent, inbox_id)
    if row is None or row.status != "error":
        return False
    row.status, row.reason, row.processed_on = "pending", None, None
    return True


def _abandon_event(session: Session, inbox_id: int) -> None:
    row = session.get(ReceivedEvent, inbox_id)
    if row is not None and row.status in ("error", "pending"):
        row.status, row.reason = "rejected", "not applied: staff closed its incident"


def _requeue_deadline(session: Session, deadline_id: int) -> bool:
    row = session.get(Deadline, deadline_id)
    if row is None or row.state != "incident":
        return False
    row.state, row.closed_on = "open", None
    return True


def _abandon_deadline(session: Session, deadline_id: int) -> None:
    row = session.get(Deadline, deadline_id)
    if row is not None and row.state == "incident":
        row.state = "cancelled"


@dataclass(frozen=True)
class SourceHandlers:
    # Put the row's work back in the queue; False when there is nothing left to do (done meanwhile).
    requeue: Callable[[Session, int], bool]
    # Give the row's work up (staff closed its incident).
    abandon: Callable[[Session, int], None]


# One table, the only registration there is: the source tables incidents name.
SOURCES: dict[str, SourceHandlers] = {
    "outbox": SourceHandlers(requeue_message, _abandon_message),
    "received_events": SourceHandlers(_requeue_event, _abandon_event),
    "deadlines": SourceHandlers(_requeue_deadline, _abandon_deadline),
}


def _handlers(source: str) -> SourceHandlers:
    if source not in SOURCES:
        raise RuntimeError(f"no retry and close for incidents on {source!r}")
    return SOURCES[source]


# ---- the step's side ---------------------------------------------------------------------------


def open_incident(session: Session, *, kind: str, source: str, source_id: int, case_id: int | None,
                  summary: str, on: dt.date, error: str | None = None,
                  attempts: int | None = None) -> tuple[Incident, bool]:
    """Open an incident for a failed step, or update the one of that source row that is not
    closed. `attempts` is the step's own count when it keeps one, else one more each time.
    Returns the incident and whether it is newly open — new, or failed again after a retry —
    which is what process owners should be told about. The summary is shown to people: case
    ids, types and counts only, never personal data."""
    if kind not in KINDS:
        raise ValueError(f"incident kind {kind!r}: use one of {', '.join(KINDS)}")
    incident = active_for(session, source, source_id)
    if incident is None:
        values = dict(kind=kind, source=source, source_id=source_id, case_id=case_id, summary=summary,
                      last_error=error, attempts=attempts or 1, state="open", opened_on=on)
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        # Two workers failing on one row at once: the index lets one insert, the other updates it.
        new_id = session.scalar(dialect.insert(Incident).values(**values)
                                .on_conflict_do_nothing(index_elements=["source", "source_id"],
                                                        index_where=INCIDENT_ACTIVE)
                                .returning(Incident.id))
        if new_id is not None:
            return session.get(Incident, new_id), True
        incident = active_for(session, source, source_id)
    newly_open = incident.state == "retried"
    incident.state, incident.summary, incident.last_error = "open", summary, error
    incident.attempts = attempts if attempts is not None else incident.attempts + 1
    return incident, newly_open


def resolve_source(session: Session, source: str, source_id: int, resolution: str, on: dt.date) -> Incident | None:
    """The step of a source row succeeded: close its incident, if it has one."""
    incident = active_for(session, source, source_id)
    if incident is not None:
        _close(incident, resolution, on)
    return incident


def active_for(session: Session, source: str, source_id: int) -> Incident | None:
    """The incident of a source row that is not closed, if any (locked on PostgreSQL)."""
    query = select(Incident).where(Incident.source == source, Incident.source_id == source_id, INCIDENT_ACTIVE)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def _close(incident: Incident, resolution: str, on: dt.date) -> None:
    incident.state, incident.resolution, incident.closed_on = "closed", resolution, on


# ---- what people do --------------------------------------------------------------------------------


def list_open(session: Session, kind: str | None = None, limit: int = 200) -> list[Incident]:
    """Incidents not closed (open, or retried and not yet through), oldest first."""
    query = select(Incident).where(INCIDENT_ACTIVE)
    if kind is not None:
        query = query.where(Incident.kind == _kind(kind))
    return list(session.scalars(query.order_by(Incident.id).limit(limit)))


def retry(session: Session, *, now: dt.datetime, on: dt.date, incident_id: int | None = None,
          kind: str | None = None) -> list[Incident]:
    """Staff retry one incident (by id) or every open one (of a kind): its step is queued again
    and the incident is `retried` until the step succeeds (closed) or fails again (open).
    One whose step was done meanwhile is closed at once."""
    if incident_id is not None:
        incidents = [_for_staff(session, incident_id)]
    else:
        query = select(Incident).where(Incident.state == "open")
        if kind is not None:
            query = query.where(Incident.kind == _kind(kind))
        incidents = list(session.scalars(query.order_by(Incident.id)))
    for incident in incidents:
        if _handlers(incident.source).requeue(session, incident.source_id):
            incident.state = "retried"
        else:
            _close(incident, "nothing left to do: the step was done before the retry", on)
    return incidents


def close(session: Session, incident_id: int, resolution: str, on: dt.date) -> Incident:
    """Staff close an incident with a resolution: its step is given up (a message is not sent)."""
    resolution = " ".join(str(resolution).split())
    if not resolution:
        raise InputError("resolution: say how the incident was resolved (it is kept with the incident)")
    incident = _for_staff(session, incident_id)
    _handlers(incident.source).abandon(session, incident.source_id)
    _close(incident, resolution, on)
    return incident


def _for_staff(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise InputError(f"incident: there is no incident {incident_id}")
    if incident.state == "closed":
        raise InputError(f"incident {incident_id} is already closed (on {incident.closed_on.isoformat()})")
    return incident


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InputError(f"kind: {kind!r} is not an incident kind; use one of {', '.join(KINDS)}")
    return kind


def describe(incident: Incident) -> dict:
    """An incident as process owners see it (boards, Prefect events): case ids, no personal data."""
    return {"incident": incident.id, "case": f"case-{incident.case_id}" if incident.case_id else None,
            "kind": incident.kind, "source": incident.source, "state": incident.state,
            "attempts": incident.attempts, "opened_on": incident.opened_on.isoformat(), "summary": incident.summary}
