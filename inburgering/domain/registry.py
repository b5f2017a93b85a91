"""All processes the engine runs, and which one an event belongs to."""

from __future__ import annotations

from inburgering.domain.events import Event
from inburgering.domain.intake import IntakeProcess
from inburgering.domain.process import Process

PROCESSES: list[Process] = [IntakeProcess()]


def register(process: Process) -> None:
    PROCESSES.append(process)


def process_for(event: Event) -> Process | None:
    for process in PROCESSES:
        if process.handles(event):
            return process
    return None


def process_named(name: str) -> Process:
    for process in PROCESSES:
        if process.name == name:
            return process
    raise KeyError(f"no process named {name!r}")
