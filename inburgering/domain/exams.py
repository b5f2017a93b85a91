"""Exam registration by channel, invitation letters, results and the diploma (domain.md §3).

Not built yet: the process handles no events until its issue is done.
"""

from __future__ import annotations

from inburgering.domain.events import Event
from inburgering.domain.process import Context, Process, State, Transition


class ExamsProcessState(State):
    pass


class ExamsProcess(Process):
    name = "exams"
    state_model = ExamsProcessState
    event_types: tuple[str, ...] = ()

    def new_state(self, event: Event, ctx: Context) -> State:
        raise NotImplementedError

    def on_event(self, state: State, event: Event, ctx: Context) -> Transition:
        raise NotImplementedError
