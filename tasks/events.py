"""Prefect events for process owners: an Automation turns them into a notification.

`inburgering.alert.<type>` (e.g. `inburgering.alert.start_letter_overdue`) for each alert an
ingest or monitor run raises, on the resource `inburgering.case.<id>` (named `case-<id>`),
related to its process. The payload holds the case, process, alert type, the day it was raised
and, when the alert says so, the day it was due and the days late: never personal data.

Every alert goes through an outbox (engine/alerts.py): the journal keeps it, and
`announce_alerts` tells Prefect the ones not told yet, once each: the claim commits only after
the server took the events (a commit that fails after that would tell them again). The event
ids are fresh: an id derived from the journal row would repeat in another case file on the
same server (a test's, a `bin/up` started afresh), and the server drops an event whose id it
has seen. An alert raised where no server was — before
`bin/up` had started it, by the command line, in a replay's case file — goes out with the
first ingest, monitor or dispatch run that reaches the server.
"""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from prefect import get_client, get_run_logger
from prefect.events import Event

from inburgering.engine import alerts

ALERT = "inburgering.alert"
_SAFE = ("due_by", "days_late", "decision_due")  # dates and counts only
PER_CALL = 500


def case_resource(case: str) -> dict[str, str]:
    """`case-12` -> the resource `inburgering.case.12`."""
    return {"prefect.resource.id": f"inburgering.case.{case.removeprefix('case-')}", "prefect.resource.name": case}


def alert_event(alert: dict) -> Event:
    """The event of one alert of the journal (engine/alerts.claim_unannounced's rows)."""
    payload = {"case": alert["case"], "process": alert["process"], "alert": alert["type"],
               "raised_on": alert["raised_on"], **{k: str(alert[k]) for k in _SAFE if alert.get(k) is not None}}
    return Event(id=uuid.uuid4(), event=f"{ALERT}.{alert['type']}",
                 resource=case_resource(alert["case"]), payload=payload,
                 related=[{"prefect.resource.id": f"inburgering.process.{alert['process']}",
                           "prefect.resource.role": "process", "prefect.resource.name": alert["process"]}])


def announce_alerts(case_file, limit: int = PER_CALL) -> int:  # noqa: ANN001 - a CaseFile
    """Tell Prefect the alerts not told yet (at most `limit`, oldest first), each once. When the
    server cannot be reached they stay in the outbox for the next call. Returns how many went."""
    now = dt.datetime.now(dt.timezone.utc)
    try:
        with case_file.transaction() as session:
            claimed = alerts.claim_unannounced(session, limit, now)
            if claimed:  # told before the claim commits
                with get_client(sync_client=True) as client:
                    client.request("POST", "/events", json=[alert_event(a).model_dump(mode="json")
                                                            for a in claimed])
    except httpx.HTTPError as exc:  # the server is not there: the alerts wait, nothing is lost
        _logger().warning("alerts wait for the Prefect server (%s): they go out with the next run that "
                          "reaches it", type(exc).__name__)
        return 0
    if claimed:
        _logger().info("alerts told to process owners: %s", ", ".join(f"{a['type']} on {a['case']}" for a in claimed))
    return len(claimed)


def _logger():  # noqa: ANN202
    import logging

    try:
        return get_run_logger()
    except Exception:  # noqa: BLE001 - outside a run: the module's own logger
        return logging.getLogger(__name__)
