"""The forms' exemptions' wait flow (medical, integrated, vrijstelling): one suspended run per
application where someone must act (the staff decision, late, or opened by staff). The
mechanism is flows/waiting.py; the runs are made by the sync (tasks/windows.py)."""

from __future__ import annotations

from prefect import flow

from flows.waiting.answer import wait_for_answer
from inburgering.domain.registry import TITLES


@flow(name=TITLES["form_exemption"])
def form_exemption_wait(case_id: int):  # noqa: ANN201 - the applied answer, or a state saying the case no longer waits
    """Exemption (medical, integrated, vrijstelling): staff decide integrated and vrijstelling on the evidence; a
    medical one waits for the adviser. Answer a run's form with the decision or the documents that completed it."""
    return wait_for_answer(case_id)
