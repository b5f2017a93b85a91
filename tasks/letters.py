"""Letter dispatch: the outbox to the gateway. Back-off and incidents are the engine's
(engine/dispatch.py); the task retries only when the run itself fails (e.g. the database)."""

from __future__ import annotations

import datetime as dt

from prefect import get_run_logger, task

from inburgering.engine.dispatch import dispatch_pending
from inburgering.gateway.client import GatewayClient, GatewaySettings
from tasks.casefile import case_file


@task(name="dispatch-outbox", retries=2, retry_delay_seconds=[10, 30])
def dispatch_outbox(limit: int = 500) -> dict:
    with GatewayClient(GatewaySettings.from_environment()) as client:
        report = dispatch_pending(case_file(), client, now=dt.datetime.now(dt.timezone.utc), limit=limit)
    get_run_logger().info(
        "sent %s (of which %s already at the gateway), postponed %s%s, refused %s; incidents opened %s, closed %s",
        report.sent, report.duplicates, report.postponed,
        " (the gateway did not answer: run stopped early)" if report.stopped_early else "",
        report.refused, len(report.opened), len(report.closed))
    return report.as_dict()
