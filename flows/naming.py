from __future__ import annotations

from collections.abc import Callable

import pendulum
from prefect.runtime import flow_run

from inburgering import config
from inburgering.domain.calendar import TIMEZONE, today_in_amsterdam
from inburgering.engine.casepage import page_key, parse_case_id
from inburgering.engine.errors import InputError


def clock() -> str:
    """The time of day in Amsterdam, to tell a day's runs apart: "10:45"."""
    return pendulum.now(TIMEZONE).format("HH:mm")


def day_run_name(prefix: str) -> Callable[[], str]:
    """Name a run after the day it processes: "monitor · 2026-11-23"; a run for today (no
    `as_of`) also after its time, so the day's ingests differ: "ingest · 2026-11-23 10:45"; and
    after the number of partitions it runs when more than one: "monitor · 2026-11-23 · 2 parts"."""

    def name() -> str:
        parameters = flow_run.parameters
        as_of = parameters.get("as_of")
        parts = parameters.get("partitions") or _configured_partitions()
        return (f"{prefix} · {as_of}" if as_of else f"{prefix} · {today_in_amsterdam()} {clock()}") + (
            f" · {parts} parts" if parts > 1 else "")

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


def now_run_name(prefix: str) -> Callable[[], str]:
    """Name a run after when it runs: "dispatch · 2026-11-23 10:46"."""
    return lambda: f"{prefix} · {today_in_amsterdam()} {clock()}"


def case_run_name(prefix: str | Callable[[dict], str]) -> Callable[[], str]:
    """Name a staff run after what it does and its case, as pasted or typed: "open case-12",
    "paper pip_established · case-12". `prefix` may read the parameters."""

    def name() -> str:
        parameters = flow_run.parameters
        try:
            case = page_key(parse_case_id(parameters.get("case_id")))
        except InputError:
            case = "no such case"  # the run itself is refused, saying why
        return f"{prefix(parameters) if callable(prefix) else prefix} · {case}"

    return name


def tag_with_case(case_id: int) -> None:
    """Tag this run `case-12`, as the case's wait runs are: the case page links to the runs
    tagged so (`/runs?tag=case-12`)."""
    from prefect import get_client
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    run = context.flow_run
    with get_client(sync_client=True) as client:
        client.update_flow_run(run.id, tags=sorted({*run.tags, page_key(case_id)}))
