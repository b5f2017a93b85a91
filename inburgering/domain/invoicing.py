"""School invoices waiting for acceptance, the quarter cap and the loan (domain.md §4–5).

Not built yet: the process handles no events until its issue is done.
"""

from __future__ import annotations

from inburgering.domain.events import Event
from inburgering.domain.process import Context, Process, State, Transition


class InvoicingProcessState(State):
    pass


class InvoicingProcess(Process):
    name = "invoicing"
    state_model = InvoicingProcessState
    event_types: tuple[str, ...] = ()

    def new_state(self, event: Event, ctx: Context) -> State:
        raise NotImplementedError

    def on_event(self, state: State, event: Event, ctx: Context) -> Transition:
        raise NotImplementedError
