from __future__ import annotations

from prefect import flow, task

from inburgering.demo import feed_next
from inburgering.domain.calendar import today_in_amsterdam
from tasks.casefile import case_file, ingest_pending
from tasks.windows import sync_case_waits


@task(name="deliver-example-events")
def deliver(count: int) -> int:
    return feed_next(case_file(), today_in_amsterdam(), count)


@flow(name="demo-feed")
def demo_feed(count: int = 2) -> int:
    """Demo only: the example journeys' next events arrive and are applied."""
    arrived = deliver(count)
    if arrived:
        ingest_pending(today_in_amsterdam())
        sync_case_waits()
    return arrived
