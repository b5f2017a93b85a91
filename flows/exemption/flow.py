"""The exemption process's wait flow: one suspended run per exemption case where someone must act (late,
waiting for a staff decision, or opened by staff), with the form of its wait. The mechanism
is flows/waiting/answer.py; the runs are made by the sync (flows/waiting/sync.py) and `open-case`."""

from __future__ import annotations

from prefect import flow

from flows.waiting.answer import wait_for_answer
from inburgering.domain.registry import TITLES


@flow(name=TITLES["exemption"])
def agi_exemption(case_id: int):  # noqa: ANN201 - the applied answer, or a state saying the case no longer waits
    """AGI exemption: an application waits for the school's declaration, the alfa test (invoice), or the staff decision
    (policy agi_staff_review). Answer a run's form with what arrived, or the decision."""
    return wait_for_answer(case_id)
