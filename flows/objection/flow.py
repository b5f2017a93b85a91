"""The objection process's wait flow: one suspended run per objection where someone must act (the
staff decision, late, or opened by staff), its form showing the decision objected to and the
grounds. The mechanism is flows/waiting.py; the runs are made by the sync (tasks/windows.py)."""

from __future__ import annotations

from prefect import flow

from flows.waiting.answer import wait_for_answer
from inburgering.domain.registry import TITLES


@flow(name=TITLES["objection"])
def objection_wait(case_id: int):  # noqa: ANN201 - the applied answer, or a state saying the case no longer waits
    """Objection: staff decide within 6 weeks after the objection period (once 6 more): granted revises the decision,
    refused upholds it. Answer a run's form with the decision."""
    return wait_for_answer(case_id)
