"""Send what the outbox holds, exactly once, and never give a message up.

Each message is sent with its own idempotency key, and its outcome is written in the
transaction that claimed it. A crash between the gateway's answer and that commit leaves
the row pending; the next run sends it again with the same key and the gateway answers
"duplicate" — so nothing is lost and nothing is sent twice.

When the gateway cannot be reached a message is tried again after a back-off (1, 2, 4, …
minutes, at most an hour), without end. A run stops at the first message the gateway does
not answer at all or whose credentials it refuses (401, 403), or after a few 5xx answers
in a row, and postpones the rest of its batch as failed attempts too: one run costs one
timeout, not one per message. After the policy's `delivery_incident_after_attempts` a
message is an incident (engine/incidents.py) that process owners see; it keeps being
retried, and its incident closes itself once it is delivered. A message the gateway
refuses (another 4xx) is an incident at once and waits for staff (status `failed`). When a
run finds the gateway answering again, the messages waiting for their back-off go in the
same run.

Claims: on PostgreSQL a row is taken with FOR UPDATE SKIP LOCKED and held over the call.
SQLite has one writer and no row locks: an outcome is written only when the row is still as
it was read (pending, the same attempts), so of two dispatchers on one row one writes and
the other writes nothing (the gateway answers its send "duplicate"). Lock order, here and
for staff: the outbox row, then its incident.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from inburgering.letters.stored import letter_text
from inburgering.engine.faults import crash_point
from inburgering.domain.calendar import day_in_amsterdam
from inburgering.domain.events import header_safe
from inburgering.engine import incidents
from inburgering.engine.casebook import CHANNEL_BY_KIND
from inburgering.engine.errors import InputError
from inburgering.gateway.client import GatewayClient, GatewayError, GatewayRefused, GatewayUnavailable, \
    GatewayUnreachable
from inburgering.store.db import CaseFile, load_policy
from inburgering.store.models import Case, Letter, OutboxMessage, Person

BACKOFF_FIRST = dt.timedelta(minutes=1)
BACKOFF_CAP = dt.timedelta(hours=1)
UNAVAILABLE_IN_A_ROW = 3  # 5xx answers in a row that end a run (no answer at all ends it at once)
CHANNEL_NAMES = {"post": "letter", "email": "e-mail", "school": "notice to the school", "payment": "payment order"}

_OUTBOX = OutboxMessage.__table__


def backoff(attempts: int) -> dt.timedelta:
    """How long a message waits after its n-th failed attempt: 1, 2, 4, … minutes, at most an hour."""
    return min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(max(attempts - 1, 0), 16))


@dataclass
class DispatchReport:
    attempted: int = 0  # messages handed to the gateway
    sent: int = 0
    duplicates: int = 0  # the gateway already had it: a retry after a crash
    postponed: int = 0  # to be tried again after their back-off, tried in this run or not
    refused: int = 0  # the gateway refused them: incidents that wait for staff
    stopped_early: bool = False  # the gateway did not answer: the rest of the batch was postponed untried
    by_channel: dict[str, int] = field(default_factory=dict)
    opened: list[dict] = field(default_factory=list)  # incidents newly open (incidents.describe)
    closed: list[dict] = field(default_factory=list)  # incidents closed because their message went

    def as_dict(self) -> dict:
        return {"attempted": self.attempted, "sent": self.sent, "duplicates": self.duplicates,
                "postponed": self.postponed, "refused": self.refused, "stopped_early": self.stopped_early,
                "by_channel": self.by_channel, "incidents_opened": self.opened, "incidents_closed": self.closed}


def _message(session: Session, row: OutboxMessage, letter: Letter | None, person: Person) -> dict:
    """What the gateway needs to deliver, the letter rendered now from its template version and
    data; personal data goes to the gateway, never to Prefect."""
    message = {"channel": row.channel, "case": f"case-{row.case_id}", **(row.payload or {})}
    if letter is not None:
        text = letter_text(session, letter)
        message.update(kind=letter.kind, type=letter.type, subject=header_safe(text.subject), body=text.body,
                       date=letter.on_date.isoformat())
        if letter.recipient == "person":
            name = header_safe(person.name)  # a name goes into the To: header
            message["to"] = {"name": name, "email": person.email} if row.channel == "email" \
                else {"name": name, "person_ref": person.ref}
    return message


def _is_due(now: dt.datetime):  # noqa: ANN202
    return (OutboxMessage.status == "pending") & or_(OutboxMessage.next_attempt_at.is_(None),
                                                     OutboxMessage.next_attempt_at <= now)


def _due(now: dt.datetime):  # noqa: ANN202
    return select(OutboxMessage.id).where(_is_due(now)).order_by(OutboxMessage.id)


def _waiting(now: dt.datetime):  # noqa: ANN202
    return (select(OutboxMessage.id)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at > now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id))


def dispatch_pending(case_file: CaseFile, client: GatewayClient, *, now: dt.datetime, limit: int = 200) -> DispatchReport:
    """Send up to `limit` messages that are due at `now` (an aware moment)."""
    now = now.astimezone(dt.timezone.utc)
    with case_file.transaction() as session:
        incident_after = load_policy(session).value("delivery_incident_after_attempts", day_in_amsterdam(now))
        due = session.scalars(_due(now).limit(limit)).all()
    run = _Run(case_file, client, now, incident_after)
    if run.send(due, due_only=True) and run.report.sent and not run.report.postponed and len(due) < limit:
        # The gateway answers again: the messages waiting for their back-off need not wait.
        with case_file.transaction() as session:
            waiting = session.scalars(_waiting(now).limit(limit - len(due))).all()
        run.send(waiting, due_only=False)
    return run.report


class _Run:
    def __init__(self, case_file: CaseFile, client: GatewayClient, now: dt.datetime, incident_after: int):
        self.case_file, self.client, self.now, self.incident_after = case_file, client, now, incident_after
        self.today = day_in_amsterdam(now)
        self.report = DispatchReport()

    def send(self, ids: list[int], *, due_only: bool) -> bool:
        """Send these messages in order (`due_only`: those still due when claimed, as another
        dispatcher may have tried them meanwhile); False when the run stopped because the
        gateway did not answer."""
        unavailable = 0
        for index, outbox_id in enumerate(ids):
            failure = self._send_one(outbox_id, due_only)
            unavailable = unavailable + 1 if isinstance(failure, GatewayUnavailable) else 0
            if isinstance(failure, GatewayUnreachable) or _credentials_refused(failure) \
                    or unavailable >= UNAVAILABLE_IN_A_ROW:
                self._postpone_untried(ids[index + 1:], failure)
                self.report.stopped_early = True
                return False
        return True

    def _send_one(self, outbox_id: int, due_only: bool) -> GatewayError | None:
        claimable = _is_due(self.now) if due_only else OutboxMessage.status == "pending"
        with self.case_file.transaction() as session:
            row = session.scalar(_claim(session, select(OutboxMessage).where(OutboxMessage.id == outbox_id, claimable)))
            if row is None:  # another dispatcher has it, or had it
                return None
            letter = session.get(Letter, row.letter_id) if row.letter_id else None
            person = session.scalar(select(Person).join(Case, Case.person_id == Person.id)
                                    .where(Case.id == row.case_id))
            what = _what(row.channel, letter.type if letter else None, row.payload)
            crash_point("before_send")
            self.report.attempted += 1
            try:
                answer = self.client.send(_message(session, row, letter, person), row.idempotency_key)
            except GatewayUnavailable as exc:
                self._postpone(session, row.id, row.case_id, row.attempts, what, str(exc), _reason(exc))
                return exc
            except GatewayRefused as exc:
                if _credentials_refused(exc):  # not this message's fault: every message would fare the same
                    self._postpone(session, row.id, row.case_id, row.attempts, what, str(exc), _reason(exc))
                elif _write(session, row.id, row.attempts, status="failed", last_error=str(exc), next_attempt_at=None):
                    self.report.refused += 1
                    self._incident(session, row.id, row.case_id, row.attempts + 1, str(exc),
                                   f"The {what} for case-{row.case_id} was refused by the gateway (HTTP {exc.status}). "
                                   "It is not sent again until staff retry the incident (once what the gateway "
                                   "refused is put right) or close it.")
                return exc
            crash_point("after_send")
            if _write(session, row.id, row.attempts, status="sent", sent_at=self.now, last_error=None,
                      next_attempt_at=None):
                self.report.sent += 1
                self.report.duplicates += bool(answer.get("duplicate"))
                self.report.by_channel[row.channel] = self.report.by_channel.get(row.channel, 0) + 1
                closed = incidents.resolve_source(session, "outbox", row.id,
                                                  f"delivered after {row.attempts + 1} attempts", self.today)
                if closed is not None:
                    self.report.closed.append(incidents.describe(closed))
            return None

    def _postpone_untried(self, ids: list[int], failure: GatewayError) -> None:
        """The gateway does not answer: the rest of the batch counts a failed attempt, untried."""
        if not ids:
            return
        error = f"not tried: the gateway did not answer an earlier message in this run ({failure})"
        with self.case_file.transaction() as session:
            rows = session.execute(_claim(session, select(
                OutboxMessage.id, OutboxMessage.case_id, OutboxMessage.attempts, OutboxMessage.channel,
                OutboxMessage.payload, Letter.type).outerjoin(Letter, Letter.id == OutboxMessage.letter_id)
                .where(OutboxMessage.id.in_(ids), _is_due(self.now)))).all()
            for outbox_id, case_id, attempts, channel, payload, letter_type in rows:
                self._postpone(session, outbox_id, case_id, attempts, _what(channel, letter_type, payload), error,
                               _reason(failure))

    def _postpone(self, session: Session, outbox_id: int, case_id: int, attempts: int, what: str, error: str,
                  reason: str) -> None:
        attempts += 1
        if not _write(session, outbox_id, attempts - 1, last_error=error, next_attempt_at=self.now + backoff(attempts)):
            return
        self.report.postponed += 1
        if attempts >= self.incident_after:
            self._incident(session, outbox_id, case_id, attempts, error,
                           f"The {what} for case-{case_id} is not delivered after {attempts} attempts: {reason}. "
                           "It is tried again at least every hour and goes out once the gateway answers; "
                           "staff can retry it now.")

    def _incident(self, session: Session, outbox_id: int, case_id: int, attempts: int, error: str,
                  summary: str) -> None:
        incident, newly_open = incidents.open_incident(session, kind="delivery", source="outbox", source_id=outbox_id,
                                                       case_id=case_id, summary=summary, error=error,
                                                       attempts=attempts, on=self.today)
        if newly_open:
            self.report.opened.append(incidents.describe(incident))


def _claim(session: Session, query):  # noqa: ANN001, ANN202
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=OutboxMessage)  # several dispatchers at once
    return query


def _write(session: Session, outbox_id: int, attempts_read: int, **values: object) -> bool:
    """Write an attempt's outcome only if the row is still as it was read: pending, with the
    same attempts (always so under a PostgreSQL claim; on SQLite another dispatcher may have won)."""
    result = session.execute(update(_OUTBOX)
                             .where(_OUTBOX.c.id == outbox_id, _OUTBOX.c.status == "pending",
                                    _OUTBOX.c.attempts == attempts_read)
                             .values(attempts=attempts_read + 1, **values))
    return result.rowcount == 1


def _what(channel: str, letter_type: str | None, payload: dict | None) -> str:
    """How an incident names a message: its channel and type (and a payment's quarter), no personal data."""
    payload = payload or {}
    name = f"{CHANNEL_NAMES.get(channel, channel)} {letter_type or payload.get('type') or ''}".strip()
    return f"{name} of {payload['quarter']}" if channel == "payment" and payload.get("quarter") else name


def _credentials_refused(failure: GatewayError | None) -> bool:
    return isinstance(failure, GatewayRefused) and failure.status in (401, 403)


def _reason(failure: GatewayError) -> str:
    if isinstance(failure, GatewayUnreachable):
        return "the gateway could not be reached"
    if _credentials_refused(failure):
        return f"the gateway refused our credentials (HTTP {failure.status}; check the gateway token)"
    return f"the gateway answered HTTP {failure.status}" if failure.status else "the gateway is not available"


# ---- staff: resend (a retry and a close of an incident: engine/incidents.py) ----------------------


PAYMENT_TYPES = ("school_paid",)


def resend(session: Session, case_id: int, message_type: str, *, today: dt.date, now: dt.datetime) -> dict:
    """Staff send a case's message again. A letter goes again as a new message (a second
    copy). A payment order goes again as the same order with the same idempotency key (it
    names the case and the quarter: Casebook._ledger_entry), so the gateway never pays twice; of
    a case's orders, the newest one not yet delivered, else the newest."""
    if message_type in PAYMENT_TYPES:
        orders = [o for o in session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id,
                                                                         OutboxMessage.channel == "payment")
                                             .order_by(OutboxMessage.id.desc()))
                  if (o.payload or {}).get("type") == message_type]
        if not orders:
            raise InputError(f"case-{case_id} has no {message_type} payment order to resend")
        order = next((o for o in orders if o.status != "sent"), orders[0])
        was = order.status
        incidents.requeue_message(session, order.id, ("pending", "failed", "sent", "cancelled"))
        incident = incidents.active_for(session, "outbox", order.id)
        if incident is not None:
            incidents.retry(session, now=now, on=today, incident_id=incident.id)
        return {"payment_order": order.id, "type": message_type, "quarter": order.payload.get("quarter"),
                "was": was, "same_key": True}
    letter = session.scalar(select(Letter).where(Letter.case_id == case_id, Letter.type == message_type)
                            .order_by(Letter.id.desc()).limit(1))
    if letter is None:
        raise InputError(f"case-{case_id} has no {message_type} letter to resend")
    session.add(OutboxMessage(case_id=case_id, letter_id=letter.id, channel=CHANNEL_BY_KIND[letter.kind],
                              created_on=today, idempotency_key=uuid.uuid4().hex, payload={"resent": True}))
    return {"letter": letter.id, "type": letter.type, "dated": letter.on_date.isoformat()}
