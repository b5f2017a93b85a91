"""One typed form per paper event type: the deployment `paper-<event-type>` (e.g.
`paper-municipality-registered`) of the flow `record-paper-event`, whose form holds the case
and that event's own fields, each checked by the server before a run is made (a missing
field, a blank text, a date like 2026-02-30, a number written as a BSN may be). The flow
applies the event to the case's person at once; a refusal ends the run Refused, with the
rule's sentence. `flows/staff/flow.py:record_paper_event` takes any type (Python, the tests).

The flows are made here, one per event type, as module attributes `paper_<event_type>` (what
the deployments' entry points name); there is no code per type.
"""

from typing import Any

from prefect import flow

from flows.naming import case_run_name
from flows.refusals import states_refusals
from flows.staff.flow import CaseRef, _paper, apply_paper_event
from inburgering.domain.events import EVENT_TYPES, PAPER_EVENT_TYPES


def deployment_name(event_type: str) -> str:
    return f"paper-{event_type.replace('_', '-')}"


def _paper_flow(event_type: str):  # noqa: ANN202
    form = _paper(EVENT_TYPES[event_type], typed=False)

    def record(case_id: CaseRef, event: form) -> Any:  # type: ignore[valid-type]
        return apply_paper_event(case_id, {"type": event_type, **event.model_dump(mode="json", exclude_none=True)})

    record.__name__ = record.__qualname__ = f"paper_{event_type}"
    record.__doc__ = (f"Record a {event_type.replace('_', ' ')} that reached DUO on paper for the person of a "
                      f"case, and apply it now. {' '.join((EVENT_TYPES[event_type].__doc__ or '').split())}")
    return flow(name="record-paper-event", flow_run_name=case_run_name(f"paper {event_type}"))(
        states_refusals(record))


for _type in PAPER_EVENT_TYPES:
    globals()[f"paper_{_type}"] = _paper_flow(_type)
