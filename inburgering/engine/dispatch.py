"""Send what the outbox holds, exactly once.

Each message is sent with its own idempotency key and marked sent in its own short
transaction. A crash between the gateway's answer and that commit leaves the row
pending; the next run sends it again with the same key and the gateway answers
"duplicate" — so nothing is lost and nothing is sent twice.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field

from sqlalchemy import select

from inburgering.gateway.client import GatewayClient, GatewayRefused, GatewayUnavailable
from inburgering.store.db import CaseFile
from inburgering.store.models import Case, Letter, OutboxMessage, Person

MAX_ATTEMPTS = 5


@dataclass
class DispatchReport:
    sent: int = 0
    duplicates: int = 0  # the gateway already had it: a retry after a crash
    failed: int = 0
    postponed: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


def _message(row: OutboxMessage, letter: Letter | None, person: Person) -> dict:
    """What the gateway needs to deliver; personal data goes to the gateway, never to Prefect."""
    message = {"channel": row.channel, "case": f"case-{row.case_id}", **(row.payload or {})}
    if letter is not None:
        message.update(kind=letter.kind, type=letter.type, subject=letter.subject, body=letter.body,
                       date=letter.on_date.isoformat())
        if letter.recipient == "person":
            message["to"] = {"name": person.name, "email": person.email} if row.channel == "email" \
                else {"name": person.name, "person_ref": person.ref}
    return message


def dispatch_pending(case_file: CaseFile, client: GatewayClient, *, now: dt.datetime, limit: int = 200) -> DispatchReport:
    report = DispatchReport()
    with case_file.transaction() as session:
        ids = session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "pending")
                              .order_by(OutboxMessage.id).limit(limit)).all()
    for outbox_id in ids:
        with case_file.transaction() as session:
            query = (select(OutboxMessage).where(OutboxMessage.id == outbox_id, OutboxMessage.status == "pending"))
            if session.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)  # several workers may dispatch at once
            row = session.scalar(query)
            if row is None:
                continue
            letter = session.get(Letter, row.letter_id) if row.letter_id else None
            person = session.scalar(select(Person).join(Case, Case.person_id == Person.id)
                                    .where(Case.id == row.case_id))
            _crash_point("before_send")
            try:
                answer = client.send(_message(row, letter, person), row.idempotency_key)
            except GatewayUnavailable as exc:
                row.attempts += 1
                row.last_error = str(exc)
                report.postponed += 1
                if row.attempts >= MAX_ATTEMPTS:
                    row.status = "failed"
                    report.failed += 1
                continue
            except GatewayRefused as exc:
                row.attempts += 1
                row.status, row.last_error = "failed", str(exc)
                report.failed += 1
                continue
            _crash_point("after_send")
            row.attempts += 1
            row.status, row.sent_at, row.last_error = "sent", now, None
            report.sent += 1
            report.duplicates += bool(answer.get("duplicate"))
            report.by_channel[row.channel] = report.by_channel.get(row.channel, 0) + 1
    return report


def _crash_point(name: str) -> None:
    """Fault injection for the crash tests: die hard, as a killed worker would."""
    if os.environ.get("INBURGERING_CRASH_AT") == name:
        os._exit(137)
