from __future__ import annotations

from prefect import flow, get_client, get_run_logger, task
from prefect.runtime import deployment

from flows.naming import now_run_name
from inburgering.demo import demo_client, feed_next, feed_remaining
from inburgering.domain.calendar import today_in_amsterdam
from tasks.casefile import case_file, ingest_pending
from tasks.report import publish_boards
from flows.waiting.sync import sync_case_waits


@task(name="deliver-example-events", retries=2, retry_delay_seconds=[5, 30])
def deliver(count: int) -> int:
    """Through the inbound API, as the outside systems would (safe to repeat: ids)."""
    with demo_client() as client:
        return feed_next(case_file(), today_in_amsterdam(), client, count)


@flow(name="demo-feed", flow_run_name=now_run_name("demo feed"))
def demo_feed(count: int = 2) -> int:
    """Demo only: the example journeys' next events arrive and are applied. Once the feed is
    empty, the run pauses its own deployment's schedule: no more runs that do nothing."""
    arrived = deliver(count)
    if arrived:
        day = today_in_amsterdam()
        ingest_pending(day)
        sync_case_waits()
        publish_boards(day)
    left = feed_remaining(case_file())
    get_run_logger().info("%s example event(s) delivered, %s left", arrived, left)
    if not left and deployment.id:
        with get_client(sync_client=True) as client:
            client.pause_deployment(deployment.id)
        get_run_logger().info("the demo feed is empty: its schedule is paused")
    return arrived
