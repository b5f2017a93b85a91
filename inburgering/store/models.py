"""SQLAlchemy 2.0 models of the case file. Alembic migrations create the schema."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, literal_column
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

JsonData = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


class Person(Base):
    """A person with an integration journey. The BSN lives here and nowhere else."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(100), unique=True)  # how other systems name the person
    bsn: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    born: Mapped[dt.date | None] = mapped_column(Date)


class Case(Base):
    """One process instance for a person: its state, status and what it waits for."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("person_id", "process", "key", name="uq_case_person_process_key"),
        Index("ix_cases_process_status", "process", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))  # uq_case_person_process_key indexes it
    process: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(60))
    waiting_for: Mapped[str | None] = mapped_column(String(300))
    waiting_since: Mapped[dt.date | None] = mapped_column(Date)
    late_since: Mapped[dt.date | None] = mapped_column(Date)
    state: Mapped[dict[str, Any]] = mapped_column(JsonData)
    opened_on: Mapped[dt.date] = mapped_column(Date)
    updated_on: Mapped[dt.date] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The Prefect flow run that shows this case's wait, the case version it shows and its
    # name as last given (the sync renames it when the days late change). (0008: wait_name)
    wait_run_id: Mapped[str | None] = mapped_column(String(40))
    wait_version: Mapped[int | None] = mapped_column(Integer)
    wait_name: Mapped[str | None] = mapped_column(String(500))
    # Staff opened the case at this version (the `open-case` flow): it keeps a wait run until it
    # moves on. (0008)
    wait_demand_version: Mapped[int | None] = mapped_column(Integer)

    person: Mapped[Person] = relationship(lazy="raise")

    # Optimistic locking: an UPDATE names the version it read, so two workers changing
    # one case at once cannot both win; the loser's batch rolls back and is retried.
    __mapper_args__ = {"version_id_col": version}

    @property
    def label(self) -> str:
        """How Prefect and process owners name the case: never with personal data."""
        return f"case-{self.id}"


_cases = Case.__table__
# The statuses in which a case waits for a staff decision (AGI with agi_staff_review, an
# extension with extension_staff_review): someone must act, so the case has a wait run.
STAFF_DECISION_STATUSES = ("waiting_for_staff_decision", "extension_under_review")
# A case where someone must act: it waits and is late, waits for a staff decision, or staff
# opened it (on demand, until it moves on). Each has one live wait run in Prefect (bounded by
# policy `wait_runs_max`, the longest late last); every other waiting case is on the boards.
# A case is late only from a transition (late_since is never a day ahead), so this needs no day.
ACTIONABLE = (_cases.c.waiting_for.is_not(None) & _cases.c.closed_on.is_(None)
              & (_cases.c.late_since.is_not(None)
                 | _cases.c.status.in_([literal_column(f"'{status}'") for status in STAFF_DECISION_STATUSES])
                 | (_cases.c.wait_demand_version == _cases.c.version)))
# Partial indexes (migration 0008): the sync reads the actionable cases and the cases that show
# a run, never the whole cases table (10^5 waiting cases: bench/wait_sync.py). The planners use
# a partial index only for a WHERE that is this very expression.
Index("ix_cases_actionable", _cases.c.id, sqlite_where=ACTIONABLE, postgresql_where=ACTIONABLE)
WAIT_SHOWN = _cases.c.wait_run_id.is_not(None)
Index("ix_cases_wait_shown", _cases.c.id, sqlite_where=WAIT_SHOWN, postgresql_where=WAIT_SHOWN)


class CaseStatus(Base):
    """The status history of a case."""

    __tablename__ = "case_status_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(String(60))
    on_date: Mapped[dt.date] = mapped_column(Date)
    cause: Mapped[str] = mapped_column(String(120))  # the event type or timer kind

    case: Mapped[Case] = relationship(lazy="raise")


class ReceivedEvent(Base):
    """The inbox: every event received, applied once, with its outcome."""

    __tablename__ = "received_events"
    __table_args__ = (Index("ix_received_events_status_date_id", "status", "event_date", "id"),
                      # a sender's id names one event of that sender (migration 0007)
                      UniqueConstraint("source_id", "sender_event_id", name="uq_received_events_source_sender_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: the same event delivered twice is applied once. NULL on duplicate rows.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    type: Mapped[str] = mapped_column(String(60))
    event_date: Mapped[dt.date] = mapped_column(Date)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonData)
    source: Mapped[str] = mapped_column(String(120))  # registry, staff, scenario:<index>, ...
    received_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|applied|rejected|duplicate|error
    reason: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    processed_on: Mapped[dt.date | None] = mapped_column(Date)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("received_events.id"))
    # Sent through the inbound API (api.md): by which source, under the sender's own id, with a
    # hash of its content (the same id again with other content is refused). NULL otherwise.
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", name="fk_received_events_source_id"))
    sender_event_id: Mapped[str | None] = mapped_column(String(200))
    content_hash: Mapped[str | None] = mapped_column(String(80))


class Source(Base):
    """A system that sends events through the inbound API. Its token is kept only as a hash."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # ind | brp | municipality | school | portal | exams | payments
    school: Mapped[str | None] = mapped_column(String(500))  # a school sends for this school name only
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token, hex
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Deadline(Base):
    """A durable timer. The deadline monitor fires what is due as of a day."""

    __tablename__ = "deadlines"
    __table_args__ = (
        Index("ix_deadlines_state_due", "state", "due_on"),
        Index("ix_deadlines_case_state", "case_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(80))
    due_on: Mapped[dt.date] = mapped_column(Date)
    data: Mapped[dict[str, Any]] = mapped_column(JsonData, default=dict)
    state: Mapped[str] = mapped_column(String(12), default="open")  # open|fired|cancelled
    opened_on: Mapped[dt.date] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)

    case: Mapped[Case] = relationship(lazy="raise")


class JournalEntry(Base):
    """What the journey showed the outside world: letters, e-mails, payments, alerts."""

    __tablename__ = "journal"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    on_date: Mapped[dt.date] = mapped_column(Date, index=True)  # the boards count what went out today
    kind: Mapped[str] = mapped_column(String(20))  # letter|email|notice|payment|alert
    type: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict[str, Any]] = mapped_column(JsonData)

    case: Mapped[Case] = relationship(lazy="raise")


class AlertAnnounced(Base):
    """An alert (a journal row of kind `alert`) told to Prefect as an event: the outbox of alert
    events. An alert without a row here waits for the Prefect server (raised by a replay, the
    command line, or before the server was up) and is announced once when it is reachable.
    (migration 0011)"""

    __tablename__ = "alerts_announced"

    journal_id: Mapped[int] = mapped_column(ForeignKey("journal.id"), primary_key=True)
    announced_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


# The alerts among the journal rows (a partial index: the announcer never reads the whole journal).
ALERT_ROWS = JournalEntry.__table__.c.kind == literal_column("'alert'")
Index("ix_journal_alerts", JournalEntry.__table__.c.id, sqlite_where=ALERT_ROWS, postgresql_where=ALERT_ROWS)


class Letter(Base):
    """A letter, e-mail or notice of a case: its template (`type`), the version of the template
    set and the recipient's name; its data is its journal entry's. Rendered when sent or read
    (`inburgering.letters.stored`); letters from before migration 0008 keep their stored text."""

    __tablename__ = "letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    journal_id: Mapped[int] = mapped_column(ForeignKey("journal.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(20))  # person | school
    kind: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(60))
    on_date: Mapped[dt.date] = mapped_column(Date)
    template_version: Mapped[str | None] = mapped_column(String(16))
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    # Stored text of letters from before 0008; "" for a letter kept as template and data.
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)  # HTML, Dutch first and English beside it

    journal: Mapped[JournalEntry] = relationship(lazy="raise")


class OutboxMessage(Base):
    """Transactional outbox: written in the same transaction as what it announces
    (a letter, a payment), sent afterwards, exactly once thanks to its key."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id"))  # twice when resent
    channel: Mapped[str] = mapped_column(String(20))  # post | email | school | payment
    payload: Mapped[dict[str, Any]] = mapped_column(JsonData, default=dict)  # for non-letter messages
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    # pending: to send (again); sent; failed: the gateway refused it, it waits for staff (an
    # incident); cancelled: staff closed its incident without sending it.
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_on: Mapped[dt.date] = mapped_column(Date)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    # Not before this moment (UTC): the back-off after a failed attempt. NULL: at once. (0006)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    letter: Mapped[Letter] = relationship(lazy="raise")


class Incident(Base):
    """A step that failed and waits for people, as Camunda has them: a message the gateway
    did not take, a timer or an event that raised. One row per failure of a source row
    (`source` names its table); at most one not closed per source row. Process owners see
    the open ones; staff retry or close them. The summary is for people and carries case
    ids only, never personal data. (migration 0006)"""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_state_kind", "state", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # delivery | timer | event
    source: Mapped[str] = mapped_column(String(40))  # outbox | deadlines | received_events
    source_id: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)  # kept in the case file only
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(12), default="open")  # open | retried | closed
    opened_on: Mapped[dt.date] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    resolution: Mapped[str | None] = mapped_column(Text)

    @property
    def label(self) -> str:
        return f"incident-{self.id}"


_incidents = Incident.__table__
# A literal, not a bound value: PostgreSQL matches ON CONFLICT ... WHERE to the partial index
# below only when it can read the predicate (a prepared statement's parameter it cannot).
INCIDENT_ACTIVE = _incidents.c.state != literal_column("'closed'")
# One incident that is not closed per source row: opening one twice finds the first.
Index("uq_incidents_active_source", _incidents.c.source, _incidents.c.source_id, unique=True,
      sqlite_where=INCIDENT_ACTIVE, postgresql_where=INCIDENT_ACTIVE)


class PolicyValue(Base):
    """Policy in force: a value per key from a day on."""

    __tablename__ = "policy_values"
    __table_args__ = (UniqueConstraint("key", "valid_from", name="uq_policy_key_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    value: Mapped[Any] = mapped_column(JsonData)
    note: Mapped[str | None] = mapped_column(Text)


class HeldLetter(Base):
    """A letter, e-mail or notice that was due while its type was on hold: kept with its case
    and sent by the first ingest or monitor run after the release (migration 0005)."""

    __tablename__ = "held_letters"
    __table_args__ = (Index("ix_held_letters_case_state", "case_id", "state"),
                      Index("ix_held_letters_state_type", "state", "type"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(60))
    recipient: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JsonData)
    key: Mapped[str | None] = mapped_column(String(120))  # lets the process take it back
    held_on: Mapped[dt.date] = mapped_column(Date)
    due_by: Mapped[dt.date | None] = mapped_column(Date)  # held past this day: the overdue alert
    overdue_alert: Mapped[str | None] = mapped_column(String(60))
    overdue_data: Mapped[dict[str, Any] | None] = mapped_column(JsonData)
    alerted_on: Mapped[dt.date | None] = mapped_column(Date)
    closes_case: Mapped[bool] = mapped_column(default=False)  # the case closes once it is sent
    state: Mapped[str] = mapped_column(String(12), default="held")  # held | sent | withdrawn
    closed_on: Mapped[dt.date | None] = mapped_column(Date)


class LetterHold(Base):
    """A process owner holds letters of a type (or '*'), e.g. while the mail gateway is down."""

    __tablename__ = "letter_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_type: Mapped[str] = mapped_column(String(60))
    held_from: Mapped[dt.date] = mapped_column(Date)
    released_on: Mapped[dt.date | None] = mapped_column(Date)  # first day letters go again
    reason: Mapped[str] = mapped_column(Text)


# ---- invoicing: the loan ledger (migration 0002) ---------------------------------------------

from decimal import Decimal  # noqa: E402

from sqlalchemy import BigInteger  # noqa: E402


class LoanLedgerEntry(Base):
    """The loan ledger: the loan as set, every payment to a school from it, and every amount
    promised to a school for a later quarter (the quarter cap). Amounts are in cents, exact
    on every database. Rows are written in the transaction of the case they come from."""

    __tablename__ = "loan_ledger"
    __table_args__ = (
        # An invoice is paid at most once in a quarter, and deferred to a quarter at most once.
        UniqueConstraint("case_id", "entry", "quarter", name="uq_loan_ledger_case_entry_quarter"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))  # the unique constraint indexes it
    on_date: Mapped[dt.date] = mapped_column(Date)
    entry: Mapped[str] = mapped_column(String(30))  # loan_granted | school_paid | payment_deferred
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    # The loan neither paid out nor promised to a school, after this entry's transition.
    loan_left_cents: Mapped[int] = mapped_column(BigInteger)
    quarter: Mapped[str | None] = mapped_column(String(7))  # paid in, or deferred to
    invoice_number: Mapped[str | None] = mapped_column(String(500))
    school: Mapped[str | None] = mapped_column(String(500))

    @property
    def amount(self) -> Decimal:
        return Decimal(self.amount_cents).scaleb(-2)

    @property
    def loan_left(self) -> Decimal:
        return Decimal(self.loan_left_cents).scaleb(-2)
