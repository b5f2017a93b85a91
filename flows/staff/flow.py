"""Flow runs staff trigger by hand from the Prefect UI. Parameters name cases, never people.

A staff action the rules refuse fails its run with the rule's own sentence as the run's state
message (what the run page shows at the top), logged as one line, not as a traceback. Typed
parameters (a closed list of letter types, one model per paper event) are checked by the
server before a run is made: a typo never runs green doing nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run
from pydantic import ConfigDict, Field, WithJsonSchema, create_model

from flows.dispatch.flow import dispatch_letters
from flows.naming import case_run_name, tag_with_case
from flows.refusals import refused, states_refusals, taken
from flows.waiting.form_rules import NO_BSN, ScreensBsn, StaffText
from inburgering.domain.calendar import today_in_amsterdam
from inburgering.domain.events import EVENT_TYPES, PAPER_EVENT_TYPES, Checked
from inburgering.engine.casepage import parse_case_id
from inburgering.engine.errors import InputError, refusals_returned
from inburgering.engine.incidents import KINDS
from inburgering.letters.render import LETTER_TYPES
from tasks import incidents as incident_tasks
from tasks.casefile import apply_staff_event, case_file, ingest_pending, resend_letter as resend_letter_task, set_hold

IncidentKind = Literal[KINDS]  # type: ignore[valid-type]
LetterType = Literal[LETTER_TYPES]  # type: ignore[valid-type]
HeldType = Literal[("*", *LETTER_TYPES)]  # type: ignore[valid-type]
ResendType = Literal[(*LETTER_TYPES, "school_paid")]  # type: ignore[valid-type]
# A case as staff paste it from a run's name or a page: "case-17" (or 17). The form shows a text
# field; the flow reads it (engine/casepage.parse_case_id) and refuses anything else in a sentence.
CaseRef = Annotated[Union[int, str], WithJsonSchema({  # noqa: UP007
    "type": "string", "title": "case", "examples": ["case-17"],
    "description": "The case, as a run's name or the case page shows it: case-17 (or just 17)."})]


def _case(case_id: int | str) -> int:
    """The case id of a staff run's parameter; the run is tagged with it (the case page's link)."""
    case = parse_case_id(case_id)
    tag_with_case(case)
    return case


# ---- paper events: one typed model per event type --------------------------------------------


def _paper(event: type, *, typed: bool = True) -> type:
    """The event's own fields but the person (the case names the person), and nothing else;
    without `type` for the form of one event type (the deployment says which)."""
    left_out = {"person"} | (set() if typed else {"type"})
    fields = {name: (info.annotation, info) for name, info in event.model_fields.items() if name not in left_out}
    return create_model(f"Paper{event.__name__}", __base__=_PaperBase, __doc__=event.__doc__, **fields)


class _PaperBase(ScreensBsn, Checked):
    model_config = ConfigDict(extra="forbid")  # no free-form fields: nothing can carry a BSN in


PAPER_EVENTS = tuple(_paper(EVENT_TYPES[name]) for name in PAPER_EVENT_TYPES)
PaperEvent = Annotated[Union[PAPER_EVENTS], Field(discriminator="type")]  # type: ignore[valid-type]


def _paper_type(parameters: dict) -> str:
    event = parameters.get("event")
    kind = event.get("type") if isinstance(event, dict) else getattr(event, "type", None)
    return f"paper {kind or 'event'}"


@flow(name="record-paper-event", flow_run_name=case_run_name(_paper_type))
@states_refusals
def record_paper_event(case_id: CaseRef, event: PaperEvent) -> Any:  # type: ignore[valid-type]
    """Record an event that reached DUO on paper for the person of a case, and apply it now.
    Choose its type; the form shows that type's own fields. A refused event ends the run
    Refused with the reason; nothing is half-applied."""
    return apply_paper_event(case_id, event.model_dump(mode="json", exclude_none=True))


def apply_paper_event(case_id: int | str, event: dict) -> Any:
    """A paper event (checked by its form) applied to the case's person now; a refusal as a state."""
    outcome = apply_staff_event(_case(case_id), event, source="staff:paper")
    return outcome if outcome["status"] == "applied" else refused(outcome)


@flow(name="resend-letter", flow_run_name=case_run_name(lambda parameters: f"resend {parameters.get('letter_type')}"))
@states_refusals
def resend_letter(case_id: CaseRef, letter_type: ResendType, reason: StaffText) -> dict:  # type: ignore[valid-type]
    """Send the newest letter of a type for a case again (it goes out with the next dispatch).
    `school_paid` sends the case's payment order again with its own idempotency key, so the
    school is never paid twice."""
    case_id = _case(case_id)
    result = taken(resend_letter_task(case_id, letter_type, today_in_amsterdam()))
    get_run_logger().info("%s of case-%s queued again: %s", letter_type, case_id, reason)
    return result


def _retry_run_name() -> str:
    incident_id, kind = flow_run.parameters.get("incident_id"), flow_run.parameters.get("kind")
    if incident_id is not None:
        return f"retry incident-{incident_id}"
    return f"retry all open {kind} incidents" if kind else "retry all open incidents"


@flow(name="retry-incidents", flow_run_name=_retry_run_name)
@states_refusals
def retry_incidents(incident_id: int | None = None, kind: IncidentKind | None = None,  # type: ignore[valid-type]
                    dispatch_now: bool = True) -> dict:
    """Retry one incident (its id) or every open one (of a kind, or all): its step is queued
    again and the incident is `retried` until the step succeeds (it closes) or fails again
    (it is open again). With `dispatch_now`, retried messages go to the gateway at once."""
    retried = taken(incident_tasks.retry(incident_id, kind))
    incident_tasks.announce_incidents(retried=retried)
    result: dict[str, Any] = {"retried": [r["incident"] for r in retried]}
    if dispatch_now and any(r["kind"] == "delivery" for r in retried):
        state = dispatch_letters(return_state=True)
        result["dispatch"] = state.result() if state.is_completed() else \
            f"the dispatch did not run ({state.name}); the scheduled dispatch-letters run sends them"
    incident_tasks.publish_incidents()
    return result


@flow(name="close-incident", flow_run_name="close incident-{incident_id}")
@states_refusals
def close_incident(incident_id: int, resolution: StaffText) -> dict:
    """Close an incident with a resolution (kept with it): its step is given up, e.g. a
    message is not sent. To have the step done, retry the incident instead."""
    closed = taken(incident_tasks.close(incident_id, resolution))
    incident_tasks.announce_incidents(closed=[closed])
    incident_tasks.publish_incidents()
    return closed


# ---- letters on hold ---------------------------------------------------------------------------


def _say_holds(result: dict, what: str) -> None:
    logger = get_run_logger()
    for hold in result["changed"]:
        logger.info("%s: %s (held from %s: %s)", what, hold["letter_type"], hold["held_from"], hold["reason"])
    logger.info("holds in force now: %s", ", ".join(f"{h['letter_type']} since {h['held_from']} "
                                                     f"({h['letters_waiting']} letters waiting)"
                                                     for h in result["active"]) or "none")


@flow(name="hold-letters", flow_run_name="hold {letter_type}")
@states_refusals
def hold_letters(reason: StaffText, letter_type: HeldType = "*") -> dict:  # type: ignore[valid-type]
    """Stop sending letters of a type ('*' for all) from today, e.g. while the mail gateway is
    down. Deadlines keep running: letters held past their term raise alerts. The letters are
    kept with their cases and go out after `release-letters`."""
    result = set_hold(letter_type, True, today_in_amsterdam(), reason)
    _say_holds(result, "held from today")
    get_run_logger().info("%s letter(s) of %s already wait in a hold", result["letters_waiting"], letter_type)
    return result


@flow(name="release-letters", flow_run_name="release {letter_type}")
@states_refusals
def release_letters(letter_type: HeldType = "*") -> dict:  # type: ignore[valid-type]
    """Let held letters of a type go out again (a release of '*' ends a hold on '*' only): the
    letters that waited are sent at once, through an ingest of today."""
    today = today_in_amsterdam()
    result = set_hold(letter_type, False, today, "released")
    if not result["changed"]:
        get_run_logger().warning("no hold on %s was in force: nothing changed", letter_type)
    _say_holds(result, "released")
    waiting = result["letters_waiting"]
    sent = ingest_pending(today)["sent"] if waiting else {}
    get_run_logger().info("%s held letter(s) of %s were waiting; sent now: %s", waiting, letter_type,
                          ", ".join(f"{k} {v}" for k, v in sent.items()) or "nothing")
    return {**result, "sent": sent}


# ---- a case on demand ------------------------------------------------------------------------


@task(name="open-case-wait")
@refusals_returned
def _ask_for_wait(case_id: int) -> None:
    from sqlalchemy import update

    from flows.waiting.cases import TITLES
    from inburgering.store.models import Case

    with case_file().transaction() as session:
        case = session.get(Case, case_id)
        if case is None:
            raise InputError(f"case: there is no case-{case_id}")
        if case.process not in TITLES:
            raise InputError(f"case: case-{case_id} is a {case.process} case; only {', '.join(TITLES)} cases have a "
                             "wait flow with a form")
        if case.closed_on is not None or case.waiting_for is None:
            raise InputError(f"case: case-{case_id} waits for nothing now (status {case.status})")
        session.execute(update(Case.__table__).where(Case.__table__.c.id == case_id)
                        .values(wait_demand_version=case.version))


@flow(name="open-case", flow_run_name=case_run_name("open"))
@states_refusals
def open_case(case_id: CaseRef) -> dict:
    """Give a waiting case a wait run with its form now, late or not (it keeps it until the case
    moves on). Its link is in this run's log; the run is in the case's process flow."""
    from prefect.settings import PREFECT_UI_URL

    from inburgering.store.models import Case
    from flows.waiting.sync import sync_case_waits

    case_id = _case(case_id)
    taken(_ask_for_wait(case_id))
    sync_case_waits()
    with case_file().transaction() as session:
        run_id = session.get(Case, case_id).wait_run_id
    if run_id is None:
        raise InputError(f"case: case-{case_id} could not be shown now (policy wait_runs_max reached); it is on "
                         "the boards")
    url = f"{PREFECT_UI_URL.value()}/runs/flow-run/{run_id}"
    get_run_logger().info("case-%s waits in %s", case_id, url)
    return {"case": f"case-{case_id}", "run": run_id, "url": url}


# ---- a case found ------------------------------------------------------------------------------


@task(name="find-case")
@refusals_returned
def _find(lookup: str) -> list[dict]:
    from prefect.settings import PREFECT_UI_URL

    from inburgering.engine.casepage import find_cases
    from tasks.casepage import write_pages

    today = today_in_amsterdam()
    with case_file().reading() as session:
        found = find_cases(session, lookup)
    write_pages(case_file(), found, today, limit=len(found))
    ui = PREFECT_UI_URL.value()
    return [{"case": f"case-{case_id}", "page": f"{ui}/artifacts/key/case-{case_id}" if ui else f"case-{case_id}"}
            for case_id in found]


def _lookup_name() -> str:
    from inburgering.domain.bsn import redact_bsn

    return f"find {redact_bsn(str(flow_run.parameters.get('lookup', '')))[:60]}"


@flow(name="find-case", flow_run_name=_lookup_name)
@states_refusals
def find_case(lookup: Annotated[str, Field(min_length=1, max_length=100, json_schema_extra={
        **NO_BSN, "description": "case-12, 12, or the reference the sending system gives the person (e.g. "
                                "p-4711). Never a BSN."})]) -> list:
    """Find a case and write its page now: by its id as a run's name shows it (case-12), or every
    case of the person the sending system knows by a reference (p-4711). Never by a BSN. The
    pages are the artifacts keyed `case-12`; their links are in this run's log."""
    found = taken(_find(lookup))
    for row in found:
        get_run_logger().info("%s: %s", row["case"], row["page"])
    return found
