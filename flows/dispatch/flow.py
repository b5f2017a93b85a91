from __future__ import annotations

from prefect import flow

from flows.naming import now_run_name
from tasks.casefile import case_file
from tasks.events import announce_alerts
from tasks.incidents import announce_incidents, publish_incidents
from tasks.letters import dispatch_outbox


@flow(name="dispatch-letters", flow_run_name=now_run_name("dispatch"))
def dispatch_letters(limit: int = 500) -> dict:
    """Send what the outbox holds through the gateway, each message exactly once. A message
    that cannot be delivered is retried with back-off; past the policy's attempts, or refused,
    it is an incident: a Prefect event `inburgering.incident.opened` on its case and a row
    in the `open-incidents` artifact. Alerts not told to Prefect yet are told."""
    # Alerts raised where no Prefect server was (before bin/up had one, by the command line) go
    # out within a dispatch's interval of the server being there, gateway or not.
    announced = announce_alerts(case_file())
    report = dispatch_outbox(limit) | {"alerts_announced": announced}
    if report["incidents_opened"] or report["incidents_closed"]:
        announce_incidents(opened=report["incidents_opened"], closed=report["incidents_closed"])
        publish_incidents()
    return report
