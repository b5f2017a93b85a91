"""Example journeys for the embedded default, so the Prefect UI shows work moving.

`load_examples` gives a handful of people a history over the last 90 days, replayed
through the real engine day by day (with start letters held from 75 days ago, as if
the print house were being replaced, so process owners see what "late" looks like).
`feed_next` then delivers the journeys' next events a few at a time, dated today,
through the inbound API with one demo source per kind, as the registries, schools and
Mijn Inburgering would. All names are invented.
"""

from __future__ import annotations

import datetime as dt
import json
import os

from sqlalchemy import func, select

from inburgering import config
from inburgering.api.client import ApiClient
from inburgering.api.sources import KINDS, add_source
from inburgering.engine import service
from inburgering.store.db import CaseFile
from inburgering.store.models import LetterHold, Person, ReceivedEvent

NAMES = ["Amina Yusuf", "Karim Haddad", "Lena Petrova", "Tesfay Gebre", "Mariam Nasser", "Oleksandr Bondar",
         "Nour Al-Sayed", "Joao Pereira"]
HISTORY_DAYS = 90
HOLD_FROM = -75


def demo_bsn(n: int) -> str:
    """A number that passes the eleven-test, in a range no real person has (starts with 99)."""
    candidate = 99000000 + n * 7
    while True:
        digits = [int(d) for d in f"{candidate:08d}"]
        total = sum(d * w for d, w in zip(digits, range(9, 1, -1)))
        check = total % 11  # the 9th digit counts -1: total - check must be divisible by 11
        if check <= 9:
            return f"{candidate:08d}{check}"
        candidate += 1


class In:
    """A date this many days from the day the event is delivered."""

    def __init__(self, days: int):
        self.days = days


def _dated(fields: dict, day: dt.date) -> dict:
    return {k: (day + dt.timedelta(days=v.days)).isoformat() if isinstance(v, In) else v for k, v in fields.items()}


def _invoice(number: str, school: str, fee: str) -> dict:
    return {"type": "invoice_submitted", "school": school, "invoice_number": number, "contract_number": f"C-{number}",
            "course_type": "Inburgering", "description": "lessen vorige maand", "invoice_date": In(0),
            "period_from": In(-30), "period_to": In(-1), "courses": 12, "course_fee": fee, "materials_fee": "0.00",
            "exam_fee": "0.00"}


def _history() -> list[tuple[str, int, dict]]:
    """(person, day offset from today, event fields)."""
    return [
        ("demo-1", -88, {"type": "residence_permit_granted", "obligation_start": "2021-06-01"}),
        ("demo-1", -88, {"type": "bsn_registered"}),
        ("demo-1", -85, {"type": "municipality_registered", "municipality": "Utrecht"}),
        ("demo-1", -84, {"type": "loan_granted", "amount": "10000.00"}),
        ("demo-1", -50, _invoice("TN-1001", "Taalhuis Noord", "1200.00")),
        ("demo-1", -47, {"type": "invoice_accepted", "invoice_number": "TN-1001"}),
        ("demo-1", -40, {"type": "exam_registered", "part": "lezen", "channel": "online", "exam_date": In(35),
                         "location": "Utrecht"}),
        ("demo-1", -20, _invoice("TN-1002", "Taalhuis Noord", "950.00")),  # waits: reminders, then late
        ("demo-3", -38, {"type": "residence_permit_granted", "obligation_start": "2019-03-01"}),
        ("demo-2", -70, {"type": "residence_permit_granted"}),
        ("demo-2", -69, {"type": "bsn_registered"}),
        ("demo-2", -66, {"type": "municipality_registered", "municipality": "Zwolle"}),  # held: late now
        ("demo-3", -40, {"type": "bsn_registered"}),  # waits for BRP until the feed brings it
        ("demo-4", -20, {"type": "residence_permit_granted", "voluntary": True}),
        ("demo-5", -12, {"type": "municipality_registered", "municipality": "Enschede"}),
    ]


def _feed() -> list[tuple[str, dict]]:
    return [
        ("demo-3", {"type": "municipality_registered", "municipality": "Den Haag"}),
        ("demo-1", {"type": "exam_registered", "part": "knm", "channel": "online", "exam_date": In(20),
                    "location": "Utrecht"}),
        ("demo-3", {"type": "agi_application_received", "route": "course",
                    "hours": {"integration": 450, "nt2": 180, "alfa": 0}, "school_listed_at_course_start": True,
                    "attempts": {p: {"integration": 3, "nt2": 1} for p in ("lezen", "luisteren", "schrijven",
                                                                             "spreken", "knm")}}),
        ("demo-1", {"type": "invoice_accepted", "invoice_number": "TN-1002"}),
        ("demo-1", _invoice("LZ-77", "Leercentrum Zuid", "400.00")),
        ("demo-4", {"type": "bsn_registered"}),
        ("demo-5", {"type": "residence_permit_granted"}),
        ("demo-6", {"type": "residence_permit_granted"}),
        ("demo-4", {"type": "municipality_registered", "municipality": "Groningen"}),
        ("demo-5", {"type": "bsn_registered"}),
        ("demo-6", {"type": "bsn_registered"}),
        ("demo-3", _invoice("LZ-78", "Leercentrum Zuid", "300.00")),  # the school that declares teaches demo-3
        ("demo-3", {"type": "school_declaration_received"}),
        ("demo-7", {"type": "bsn_registered"}),
        ("demo-6", {"type": "municipality_registered", "municipality": "Amsterdam"}),
        ("demo-7", {"type": "residence_permit_granted"}),
        ("demo-8", {"type": "residence_permit_granted"}),
        ("demo-7", {"type": "municipality_registered", "municipality": "Rotterdam"}),
        ("demo-8", {"type": "bsn_registered"}),
        ("demo-8", {"type": "municipality_registered", "municipality": "Tilburg"}),
    ]


def load_examples(case_file: CaseFile, today: dt.date) -> bool:
    """Load the example journeys once; False when they are already there."""
    with case_file.transaction() as session:
        if session.scalar(select(Person.id).where(Person.ref == "demo-1")) is not None:
            return False
        for i, name in enumerate(NAMES, start=1):
            service.register_person(session, ref=f"demo-{i}", bsn=demo_bsn(i), name=name,
                                    email=f"demo-{i}@example.org", born=dt.date(1970 + 3 * i, i, 10 + i))
        session.add(LetterHold(letter_type="start_letter", held_from=today + dt.timedelta(days=HOLD_FROM),
                               reason="demo: the print house is being replaced; release with release-letters"))
        for n, (ref, offset, fields) in enumerate(_history()):
            day = today + dt.timedelta(days=offset)
            service.receive(session, {**_dated(fields, day), "person": ref, "date": day.isoformat()},
                            source=f"demo-history:{n}", received_on=day)
    for offset in range(-HISTORY_DAYS, 0):
        day = today + dt.timedelta(days=offset)
        service.ingest(case_file, day)
        service.run_monitor(case_file, day)
    return True


DEMO_SCHOOL = "Leercentrum Zuid"  # the school whose invoice the feed sends
FEED_ID = "demo-feed-"


def demo_sources(case_file: CaseFile, now: dt.datetime) -> dict[str, str]:
    """One demo source per kind (demo-ind, demo-brp, ...), each with a new token: kind -> token."""
    with case_file.transaction() as session:
        return {kind: add_source(session, f"demo-{kind}", kind, school=DEMO_SCHOOL if kind == "school" else None,
                                 now=now, renew=True)
                for kind in KINDS}


def tokens_file():  # noqa: ANN201
    return config.home() / "api-demo-tokens.json"


def demo_client() -> ApiClient:
    """The client of the demo sources: INBURGERING_API_URL and the tokens `inburgering up` wrote."""
    url = os.environ.get("INBURGERING_API_URL", "http://127.0.0.1:8030")
    return ApiClient(url, json.loads(tokens_file().read_text()))


def feed_remaining(case_file: CaseFile) -> int:
    """How many example events the feed has not delivered yet."""
    with case_file.transaction() as session:
        done = session.scalar(select(func.count(ReceivedEvent.id))
                              .where(ReceivedEvent.sender_event_id.like(f"{FEED_ID}%")))
    return max(len(_feed()) - done, 0)


def feed_next(case_file: CaseFile, today: dt.date, client: ApiClient, count: int = 2) -> int:
    """Deliver the next `count` example events, dated today, through the API. Returns how many
    arrived. An event is sent with the id demo-feed-N, so sending it again changes nothing."""
    feed = _feed()
    with case_file.transaction() as session:
        done = session.scalar(select(func.count(ReceivedEvent.id))
                              .where(ReceivedEvent.sender_event_id.like(f"{FEED_ID}%")))
    for n in range(done, min(done + count, len(feed))):
        ref, fields = feed[n]
        client.send({"id": f"{FEED_ID}{n}", **_dated(fields, today), "person": ref, "date": today.isoformat()})
    return min(done + count, len(feed)) - done
