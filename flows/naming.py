from __future__ import annotations

from collections.abc import Callable

from prefect.runtime import flow_run

from inburgering import config
from inburgering.domain.calendar import today_in_amsterdam


def day_run_name(prefix: str) -> Callable[[], str]:
    """Name a run after the day it processes: "monitor · 2026-11-23", and the number of
    partitions it runs when more than one: "monitor · 2026-11-23 · 2 parts"."""

    def name() -> str:
        parameters = flow_run.parameters
        parts = parameters.get("partitions") or _configured_partitions()
        return f"{prefix} · {parameters.get('as_of') or today_in_amsterdam()}" + (f" · {parts} parts" if parts > 1
                                                                                 else "")

    return name


def _configured_partitions() -> int:
    try:
        return config.partitions()
    except ValueError:  # the run itself fails on it, saying so; its name need not
        return 1


def partition_run_name(prefix: str) -> Callable[[], str]:
    """Name a partition run after its day and share: "ingest · 2026-12-02 · part 1/2"."""

    def name() -> str:
        parameters = flow_run.parameters
        return f"{prefix} · {parameters.get('as_of')} · part {parameters.get('part')}/{parameters.get('parts')}"

    return name
