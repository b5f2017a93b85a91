from __future__ import annotations

from prefect import flow

from tasks.letters import dispatch_outbox


@flow(name="dispatch-letters")
def dispatch_letters(limit: int = 500) -> dict:
    """Send what the outbox holds through the gateway, each message exactly once."""
    return dispatch_outbox(limit)
