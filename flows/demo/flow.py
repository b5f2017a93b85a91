from __future__ import annotations

from prefect import flow, task

from inburgering.demo import demo_client, feed_next
from inburgering.domain.calendar import today_in_amsterdam
from tasks.casefile import case_file, ingest_pending
from tasks.windows import sync_case_waits


@task(name="deliver-example-events", retries=2, retry_delay_seconds=[5, 30])
def deliver(count: int) -> int:
    """Through the inbound API, as the outside systems would (safe to repeat: ids)."""
    with demo_client() as client:
        return feed_next(case_file(), today_in_amsterdam(), client, count)


@flow(name="demo-feed")
def demo_feed(count: int = 2) -> int:
    """Demo only: the example journeys' next events arrive and are applied."""
    arrived = deliver(count)
    if arrived:
        ingest_pending(today_in_amsterdam())
        sync_case_waits()
    return arrived
