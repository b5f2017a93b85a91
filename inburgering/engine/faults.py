"""Fault injection for the crash tests: die hard at a named point, as a killed process would."""

from __future__ import annotations

import os


def crash_point(name: str) -> None:
    """Exit at once, without cleaning up, when INBURGERING_CRASH_AT names this point."""
    if os.environ.get("INBURGERING_CRASH_AT") == name:
        os._exit(137)
