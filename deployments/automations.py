"""The automation the project ships: tell process owners about every alert (a case late: a
letter held past its term, a decision overdue, an invoice waiting long...), from the Prefect
events `inburgering.alert.*` (tasks/events.py: case ids only).

It notifies through a custom-webhook notification block, `inburgering-process-owners`: the
embedded start points it at the local gateway (what process owners were told lands in
var/gateway.jsonl, channel `process_owners`); production gives its own webhook URL (a chat
channel, an e-mail relay) to `inburgering prefect-setup --notify-url`. Both create or update
the block and the automation by name, so running either again changes nothing.
"""

from __future__ import annotations

from prefect.automations import Automation, EventTrigger, SendNotification
from prefect.blocks.notifications import CustomWebhookNotificationBlock

BLOCK = "inburgering-process-owners"
ALERTS = "tell process owners about late cases"
SUBJECT = "{{ event.payload.alert }} on {{ event.resource.name }} ({{ event.payload.process }})"
BODY = ("{{ event.resource.name }}: {{ event.payload.alert }}{% if event.payload.days_late %}, "
        "{{ event.payload.days_late }} days late{% endif %} (event {{ event.id }})")


def notification_block(url: str, token: str | None = None) -> CustomWebhookNotificationBlock:
    """A webhook posting {channel, subject, body}; with a token, as the local gateway takes it
    (a bearer token, and the body, which names the event, as its idempotency key)."""
    headers = {"Authorization": "Bearer {{token}}", "Idempotency-Key": "{{body}}"} if token else None
    return CustomWebhookNotificationBlock(
        name="process owners", url=url, headers=headers, secrets={"token": token} if token else {},
        json_data={"channel": "process_owners", "subject": "{{subject}}", "body": "{{body}}"})


def ensure_alert_automation(url: str, token: str | None = None) -> str:
    """Create or update the block and the automation; says what it did."""
    block_id = notification_block(url, token).save(BLOCK, overwrite=True)
    automation = Automation(
        name=ALERTS,
        description="Every alert the ingest or the deadline monitor raises (events inburgering.alert.*) is sent "
                    "to the process owners' webhook (block inburgering-process-owners).",
        trigger=EventTrigger(expect={"inburgering.alert.*"}, match={"prefect.resource.id": "inburgering.case.*"},
                             posture="Reactive", threshold=1),
        actions=[SendNotification(block_document_id=block_id, subject=SUBJECT, body=BODY)])
    try:
        existing = Automation.read(name=ALERTS)
    except ValueError:
        existing = None
    if existing is None:
        automation.create()
        return f"automation '{ALERTS}' created (notifies {url})"
    automation.id = existing.id
    automation.update()
    return f"automation '{ALERTS}' up to date (notifies {url})"
