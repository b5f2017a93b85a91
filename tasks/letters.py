"""Letter dispatch: the outbox to the gateway, with retries and back-off."""

from __future__ import annotations

import datetime as dt

from prefect import get_run_logger, task
from prefect.tasks import exponential_backoff

from inburgering.engine.dispatch import dispatch_pending
from inburgering.gateway.client import GatewayClient, GatewaySettings
from tasks.casefile import case_file


@task(name="dispatch-outbox", retries=4, retry_delay_seconds=exponential_backoff(backoff_factor=10))
def dispatch_outbox(limit: int = 500) -> dict:
    with GatewayClient(GatewaySettings.from_environment()) as client:
        report = dispatch_pending(case_file(), client, now=dt.datetime.now(dt.timezone.utc), limit=limit)
    get_run_logger().info("sent %s (of which %s already at the gateway), postponed %s, failed %s",
                          report.sent, report.duplicates, report.postponed, report.failed)
    return {"sent": report.sent, "duplicates": report.duplicates, "postponed": report.postponed,
            "failed": report.failed, "by_channel": report.by_channel}
