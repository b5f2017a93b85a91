"""All processes the engine runs, and which one an event belongs to."""

from __future__ import annotations

from functools import lru_cache

from inburgering.domain.events import Event
from inburgering.domain.exams import ExamsProcess
from inburgering.domain.exemption import ExemptionProcess
from inburgering.domain.form_exemption import FormExemptionProcess
from inburgering.domain.intake import IntakeProcess
from inburgering.domain.invoicing import InvoicingProcess
from inburgering.domain.journey import JourneyProcess
from inburgering.domain.objection import ObjectionProcess
from inburgering.domain.process import Context, Process
from inburgering.domain.term import TermProcess

PROCESSES: tuple[Process, ...] = (IntakeProcess(), InvoicingProcess(), ExemptionProcess(), ExamsProcess(),
                                  JourneyProcess(), TermProcess(), FormExemptionProcess(),
                                  ObjectionProcess())
_BY_NAME = {p.name: p for p in PROCESSES}

# The business processes in the words a process owner uses: the name of each one's wait flow in
# Prefect, and how the boards name it.
TITLES = {"intake": "intake and start letter", "invoicing": "invoice acceptance", "exemption": "AGI exemption",
          "exams": "exams", "term": "integration term",
          "form_exemption": "exemption (medical, integrated, vrijstelling)", "objection": "objection"}


def process_for(event: Event, ctx: Context | None = None) -> Process | None:
    """The process an event belongs to. When two handle its type (a school's declaration: the
    open AGI application's, else the term's), the first that takes it given the person's cases."""
    handlers = [process for process in PROCESSES if process.handles(event)]
    if ctx is not None and len(handlers) > 1:
        for process in handlers:
            if process.takes(event, ctx):
                return process
    return handlers[0] if handlers else None


def process_named(name: str) -> Process:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no process named {name!r}") from None


@lru_cache(maxsize=None)  # a handful of fact types; asked at every fact told
def fact_takers(fact_type: type) -> tuple[Process, ...]:
    """The processes a fact of this type is delivered to, in the order of PROCESSES."""
    return tuple(p for p in PROCESSES if any(issubclass(fact_type, taken) for taken in p.facts))
