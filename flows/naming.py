from __future__ import annotations

from collections.abc import Callable

from prefect.runtime import flow_run

from inburgering.domain.calendar import today_in_amsterdam


def day_run_name(prefix: str) -> Callable[[], str]:
    """Name a run after the day it processes: "monitor · 2026-11-23"."""

    def name() -> str:
        return f"{prefix} · {flow_run.parameters.get('as_of') or today_in_amsterdam()}"

    return name
