"""The systems that send events through the inbound API: what each kind may send, and tokens.

A token is `secrets.token_urlsafe(32)` (256 random bits). Only its SHA-256 is stored; a
request's token is hashed and looked up by that hash, and the stored hash compared again in
constant time. With that much entropy a plain hash is the standard construction (a slow
password hash adds nothing). Nothing is cached, so a revoked token is refused at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from inburgering.domain.events import Event
from inburgering.engine.errors import InputError, Problem, contains_bsn
from inburgering.store.models import Source

# Who may send what (api.md). Types missing here (staff_decision, ...) come from no outside system.
KINDS: dict[str, frozenset[str]] = {
    "ind": frozenset({"residence_permit_granted"}),
    "brp": frozenset({"bsn_registered", "municipality_registered"}),
    "municipality": frozenset({"pip_established", "participation_statement_signed", "map_completed",
                               "route_completed"}),
    "school": frozenset({"invoice_submitted", "course_hours_reported", "school_declaration_received"}),
    "portal": frozenset({"invoice_accepted", "invoice_refused", "exam_registered", "exam_rescheduled",
                         "exam_cancelled", "extension_requested", "agi_application_received",
                         "exemption_application_received", "application_completed", "objection_received",
                         "notice_of_default_received"}),
    "exams": frozenset({"exam_result", "exam_fee_paid", "alfa_test_taken"}),
    "payments": frozenset({"alfa_test_invoice_paid", "loan_granted", "fine_paid"}),
    "medical": frozenset({"medical_advice_received"}),
}
PEOPLE_KINDS = frozenset({"ind", "brp"})  # may register people (POST /v1/people)
# School events about a person the school must teach: an invoice (with its contract) of that
# school for that person comes first (api/app.py refuses the others with 403).
SCHOOL_LINKED = frozenset({"school_declaration_received", "course_hours_reported"})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class Sender:
    """An authenticated source, as a request sees it."""

    id: int
    name: str
    kind: str
    school: str | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def kind_for(event_type: str) -> str | None:
    """The kind of source that sends this type of event (None: no outside system does)."""
    return next((kind for kind, types in KINDS.items() if event_type in types), None)


def type_refusal(sender: Sender, event_type: str) -> str | None:
    """Why this source may not send events of this type, or None."""
    if event_type in KINDS[sender.kind]:
        return None
    kind = kind_for(event_type)
    return (f"{sender.kind} sources may not send {event_type} events"
            + (f" ({kind} sources send them)" if kind else " (no outside system sends them)"))


def event_refusal(sender: Sender, event: Event) -> Problem | None:
    """Why this source may not send this (valid) event, as (field, message), or None: its type,
    an exam channel other than the portal's, or another school's name."""
    refusal = type_refusal(sender, event.type)  # type: ignore[attr-defined]
    if refusal:
        return "type", refusal
    if sender.kind == "portal" and event.type == "exam_registered" and event.channel != "online":  # type: ignore[attr-defined]
        return "channel", "the portal registers exams through the online channel only"
    school = getattr(event, "school", None)
    if sender.kind == "school" and school is not None and school != sender.school:
        return "school", f"this source sends for school {sender.school!r} only"
    return None


# ---- managing sources (the `inburgering sources` commands) ----------------------------------


def add_source(session: Session, name: str, kind: str, *, now: dt.datetime, school: str | None = None,
               renew: bool = False) -> str:
    """Register a source and return its token (shown once: only its hash is kept). With
    `renew`, an existing source of that name gets a new token (the old one stops working)."""
    if not _NAME.fullmatch(name):
        raise InputError.at("name", "use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if contains_bsn(name):  # a source's name is in the inbox (api:NAME), the logs and `sources list`
        raise InputError.at("name", "holds a number that looks like a BSN; a source's name must not be personal data")
    if kind not in KINDS:
        raise InputError.at("kind", f"{kind!r} is not a kind of source; use one of {', '.join(KINDS)}")
    if (kind == "school") != bool(school and school.strip()):
        raise InputError.at("school", "a school source needs --school with the school's name" if kind == "school"
                            else "only a school source has a school name")
    token = secrets.token_urlsafe(32)
    source = session.scalar(select(Source).where(Source.name == name))
    if source is not None and not renew:
        raise InputError.at("name", f"a source named {name!r} already exists")
    if source is None:
        source = Source(name=name, created_at=now)
        session.add(source)
    source.kind, source.school, source.token_hash, source.revoked_at = kind, school, hash_token(token), None
    session.flush([source])
    return token


def revoke_source(session: Session, name: str, *, now: dt.datetime) -> None:
    """End a source's token at once; what it sent stays in the inbox, marked with it."""
    source = session.scalar(select(Source).where(Source.name == name))
    if source is None:
        raise InputError.at("name", f"no source named {name!r}")
    if source.revoked_at is None:
        source.revoked_at = now


def list_sources(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(Source.name)))


# ---- on every request -----------------------------------------------------------------------


def authenticate(connection: Connection, token: str | None) -> Sender | None:
    """The source a bearer token belongs to; None for no token, an unknown or a revoked one."""
    if not token:
        return None
    digest = hash_token(token)
    row = connection.execute(_BY_HASH, {"hash": digest}).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return Sender(row.id, row.name, row.kind, row.school)


def mark_sent(connection: Connection, sender: Sender, now: dt.datetime) -> None:
    connection.execute(_MARK_SENT, {"b_id": sender.id, "b_now": now})


_SOURCES = Source.__table__
_BY_HASH = (select(_SOURCES.c.id, _SOURCES.c.name, _SOURCES.c.kind, _SOURCES.c.school, _SOURCES.c.token_hash,
                   _SOURCES.c.revoked_at)
            .where(_SOURCES.c.token_hash == bindparam("hash")))
_MARK_SENT = update(_SOURCES).where(_SOURCES.c.id == bindparam("b_id")).values(last_sent_at=bindparam("b_now"))
