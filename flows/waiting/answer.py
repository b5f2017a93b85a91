"""The one mechanism behind the five wait flows (flows/<process>/flow.py): a suspended run
shows a case where someone must act, with its form; staff answer it; the answer is applied.

The sync (sync.py) makes these runs already suspended, with their form, so nothing
runs until someone answers. A run executes only after a Resume, from the top (Prefect's
suspended runs do): it finds the answers it has not handled yet in the run's inputs (keys
`suspended-answer-<n>-response`; what became of answer n is kept as `outcome-<n>`), applies
the next one and

- when the case takes it: the run completes (the sync shows the case's next wait, if any);
- when the case refuses it: the run suspends again at once with a new form whose description
  says why, in the rule's own sentence; it never fails for a refused answer;
- resumed without an answer (a form with nothing to enter): it suspends again, showing the
  case as it now stands.

Each suspension has a key of its own (`answer-<n>`): a key whose form was shown is never used
again, so an answer is never read twice and a form never written over.

A run whose case no longer waits completes, saying so.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import get_client, get_run_logger, task
from prefect.context import FlowRunContext
from prefect.flow_runs import suspend_flow_run
from prefect.input.actions import create_flow_run_input, filter_flow_run_input
from prefect.states import Completed
from pydantic import ValidationError

from flows.waiting.forms import FORMS, NothingToEnter, form_for, with_data
from flows.refusals import states_refusals, taken
from inburgering.domain.calendar import today_in_amsterdam
from flows.waiting import cases as waits
from inburgering.engine.errors import InputError, refusals_returned
from tasks.casefile import apply_staff_event, case_file

# A suspended run fails when its timeout passes; the durable timers live in the case file, so
# this only bounds how long one run stays open: the sync renews a run well before (RENEW_BEFORE).
WAIT_TIMEOUT = dt.timedelta(days=366)
RENEW_BEFORE = dt.timedelta(days=14)


def answer_key(n: int) -> str:
    return f"answer-{n}"


def keyset(n: int) -> dict[str, str]:
    """The run-input keys of the n-th suspension, as Prefect names them for a Suspended state."""
    from prefect.input.run_input import keyset_from_base_key

    return keyset_from_base_key(f"suspended-{answer_key(n)}")


@task(name="read-waiting-case")
@refusals_returned
def read_case(case_id: int) -> waits.CaseWait | None:
    with case_file().transaction() as session:
        case = waits.one(session, case_id)
    if case is None:
        raise InputError(f"case: there is no case-{case_id}")
    return case if case.waiting_for is not None else None


def _inputs(flow_run_id) -> dict[str, Any]:  # noqa: ANN001
    """This run's inputs: the answers, their forms and what became of them."""
    found = {}
    for prefix in ("suspended-answer-", "outcome-"):
        found |= {i.key: i.decoded_value for i in filter_flow_run_input(prefix, limit=1000, flow_run_id=flow_run_id)}
    return found


def _handle(case_id: int, form_name: str, response: dict) -> dict:
    """Apply one answer: {"status": "applied"|"refused"|..., "reason": ...}. Never raises for a
    refusal: a form the model refuses (a rule the schema cannot hold) is refused with its sentence."""
    form = FORMS.get(form_name)
    if form is None:
        return {"status": "refused", "reason": f"the form {form_name!r} is not one this version knows; answer the "
                                               "form shown now"}
    if form is NothingToEnter:
        return {"status": "noted", "reason": None}
    try:
        answer = form.model_validate(response)
    except ValidationError as exc:
        return {"status": "refused", "reason": str(InputError.from_validation(exc))}
    return apply_staff_event(case_id, answer.to_event(), source=f"staff:wait:{form_name}")


def _refusal(outcome: dict) -> str | None:
    """Why an answer was not taken (refused by the form's rules, rejected by the case, a duplicate)."""
    return None if outcome["status"] in ("applied", "noted", "resumed") else outcome["reason"]


def _ended(run, case_id: int, state: str) -> None:  # noqa: ANN001
    """This run no longer shows the case's wait: renamed at once, without days late or `late`."""
    process = next((tag.split(":", 1)[1] for tag in run.tags if tag.startswith("process:")), None)
    with get_client(sync_client=True) as client:
        client.update_flow_run(run.id, name=waits.ended_name(case_id, state),
                               tags=waits.ended_tags(case_id, process) if process else [waits.WAIT_TAG])


@states_refusals
def wait_for_answer(case_id: int) -> Any:
    """The body of every wait flow: see the module's docstring."""
    logger = get_run_logger()
    run = FlowRunContext.get().flow_run
    inputs = _inputs(run.id)
    refused = None
    n = 1
    while True:
        keys = keyset(n)
        outcome = inputs.get(f"outcome-{n}")
        if outcome is not None:
            refused = _refusal(outcome)
            n += 1
            continue
        response = inputs.get(keys["response"])
        schema = inputs.get(keys["schema"])
        if response is not None and schema is not None:
            outcome = _handle(case_id, schema.get("title", ""), response)
            create_flow_run_input(key=f"outcome-{n}", value=outcome, flow_run_id=run.id)
            if outcome["status"] == "applied":
                logger.info("case-%s: the answer was applied", case_id)
                _ended(run, case_id, "COMPLETED")
                return outcome
            refused = _refusal(outcome)
            if refused:
                logger.warning("case-%s: the answer was refused: %s", case_id, refused)
            n += 1
            continue
        if schema is not None:  # the n-th form was shown, and the run resumed without an answer to it
            create_flow_run_input(key=f"outcome-{n}", value={"status": "resumed", "reason": None}, flow_run_id=run.id)
            n += 1
            continue
        case = taken(read_case(case_id))
        if case is None:
            _ended(run, case_id, "CANCELLED")
            return Completed(message=f"case-{case_id} no longer waits")
        today = today_in_amsterdam()
        form = with_data(form_for(case), case, today, refused=refused)
        suspend_flow_run(wait_for_input=form, key=answer_key(n), timeout=int(WAIT_TIMEOUT.total_seconds()))
