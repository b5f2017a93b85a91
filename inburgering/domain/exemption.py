"""The AGI exemption: application, school declaration, alfa test, 8-week decision (domain.md §6, §8).

Not built yet: the process handles no events until its issue is done.
"""

from __future__ import annotations

from inburgering.domain.events import Event
from inburgering.domain.process import Context, Process, State, Transition


class ExemptionProcessState(State):
    pass


class ExemptionProcess(Process):
    name = "exemption"
    state_model = ExemptionProcessState
    event_types: tuple[str, ...] = ()

    def new_state(self, event: Event, ctx: Context) -> State:
        raise NotImplementedError

    def on_event(self, state: State, event: Event, ctx: Context) -> Transition:
        raise NotImplementedError
