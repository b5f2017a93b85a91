"""The term process's wait flow: one suspended run per term case where someone must act (late,
waiting for a staff decision, or opened by staff), with the form of its wait. The mechanism
is flows/waiting/answer.py; the runs are made by the sync (flows/waiting/sync.py) and `open-case`."""

from __future__ import annotations

from prefect import flow

from flows.waiting.answer import wait_for_answer
from inburgering.domain.registry import TITLES


@flow(name=TITLES["term"])
def integration_term(case_id: int):  # noqa: ANN201 - the applied answer, or a state saying the case no longer waits
    """The integration term: an extension request waits for the staff decision (policy extension_staff_review), or a
    term ends soon or has passed. Answer a run's form with the decision, or with an extension asked for on
    paper."""
    return wait_for_answer(case_id)
