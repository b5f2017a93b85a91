from __future__ import annotations

from collections.abc import Callable

import pendulum
from prefect.runtime import flow_run

from inburgering.domain.calendar import TIMEZONE, today_in_amsterdam


def clock() -> str:
    """The time of day in Amsterdam, to tell a day's runs apart: "10:45"."""
    return pendulum.now(TIMEZONE).format("HH:mm")


def day_run_name(prefix: str) -> Callable[[], str]:
    """Name a run after the day it processes: "monitor · 2026-11-23"; a run for today (no
    `as_of`) also after its time, so the day's ingests differ: "ingest · 2026-11-23 10:45"."""

    def name() -> str:
        as_of = flow_run.parameters.get("as_of")
        return f"{prefix} · {as_of}" if as_of else f"{prefix} · {today_in_amsterdam()} {clock()}"

    return name


def now_run_name(prefix: str) -> Callable[[], str]:
    """Name a run after when it runs: "dispatch · 2026-11-23 10:46"."""
    return lambda: f"{prefix} · {today_in_amsterdam()} {clock()}"
