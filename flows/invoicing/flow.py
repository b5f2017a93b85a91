"""The invoicing process's wait flow: one suspended run per invoicing case where someone must act (late,
waiting for a staff decision, or opened by staff), with the form of its wait. The mechanism
is flows/waiting/answer.py; the runs are made by the sync (flows/waiting/sync.py) and `open-case`."""

from __future__ import annotations

from prefect import flow

from flows.waiting.answer import wait_for_answer
from inburgering.domain.registry import TITLES


@flow(name=TITLES["invoicing"])
def invoice_acceptance(case_id: int):  # noqa: ANN201 - the applied answer, or a state saying the case no longer waits
    """Invoices waiting for the person's acceptance: answer a run's form with the person's answer that came by post
    (accept, or refuse with a reason)."""
    return wait_for_answer(case_id)
