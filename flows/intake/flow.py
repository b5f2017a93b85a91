"""The intake process's wait flow: one suspended run per intake case where someone must act (late,
waiting for a staff decision, or opened by staff), with the form of its wait. The mechanism
is flows/waiting/answer.py; the runs are made by the sync (flows/waiting/sync.py) and `open-case`."""

from __future__ import annotations

from prefect import flow

from flows.waiting.answer import wait_for_answer
from inburgering.domain.registry import TITLES


@flow(name=TITLES["intake"])
def intake_wait(case_id: int):  # noqa: ANN201 - the applied answer, or a state saying the case no longer waits
    """Intake and the start letter: a case waits for its prerequisites (residence permit, BSN, municipal registration)
    or, under Wi2021, for the PIP. Answer a run's form with what arrived on paper."""
    return wait_for_answer(case_id)
