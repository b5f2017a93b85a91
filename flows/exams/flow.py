"""The exams process's wait flow: one suspended run per exams case where someone must act (late,
waiting for a staff decision, or opened by staff), with the form of its wait. The mechanism
is flows/waiting/answer.py; the runs are made by the sync (flows/waiting/sync.py) and `open-case`."""

from __future__ import annotations

from prefect import flow

from flows.waiting.answer import wait_for_answer
from inburgering.domain.registry import TITLES


@flow(name=TITLES["exams"])
def exams_wait(case_id: int):  # noqa: ANN201 - the applied answer, or a state saying the case no longer waits
    """Exams: a registration waits for its fee or its result. Answer a run's form with a fee paid or a result that came
    on paper."""
    return wait_for_answer(case_id)
