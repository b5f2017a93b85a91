"""One case as a process owner follows it: where it stands, what it waits for and since when,
whether it is late, the letters and payments so far, the decisions, its status history, the
events it received and the person's other cases. Read from the case file; case ids and the
sending system's own reference only, never a BSN (`redact_bsn` on every text that may quote one).

`find_cases` looks a case up the way people paste it: `case-12`, `12`, or the reference the
outside system gives the person (`p-4711`); a number that passes the eleven-test is refused
before anything is looked up, with a sentence that does not repeat it.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from inburgering.domain.bsn import looks_like_bsn, redact_bsn
from inburgering.domain.registry import TITLES
from inburgering.engine.errors import InputError
from inburgering.store.models import Case, CaseStatus, Deadline, Incident, JournalEntry, Person, ReceivedEvent

# The letters that carry a decision (a beschikking), and the field of their data that says which.
DECISIONS = {"agi_decision": "decision", "agi_advice": "advice", "extension_decision": "decision",
             "fine": "amount", "not_obligated": "reason"}
PAYMENT_FIELDS = ("invoice_number", "amount", "quarter", "to_quarter")
EVENTS_SHOWN = 20

_CASE_REF = re.compile(r"^\s*(?:case[-\s]?)?(\d{1,12})\s*$", re.IGNORECASE)


def parse_case_id(value: object) -> int:
    """A case id as people paste it: 17, "17", "case-17", " Case-17 " -> 17. Anything else is
    refused with a sentence (never quoting a BSN)."""
    if isinstance(value, bool):
        raise InputError("case: write the case id, e.g. case-17 or 17")
    if isinstance(value, int):
        if value < 1:
            raise InputError(f"case: {value} is not a case id; case ids start at 1")
        return value
    match = _CASE_REF.match(str(value))
    if match is None or looks_like_bsn(match.group(1)):
        raise InputError("case: write the case id as it appears in a run's name, e.g. case-17 or 17"
                         + ("; a BSN is never used to find a case" if match else ""))
    return parse_case_id(int(match.group(1)))


def find_cases(session: Session, lookup: str) -> list[int]:
    """The cases a lookup names: one case by its id (`case-12`, `12`), or every case of the person
    the outside system knows by this reference. A BSN is refused: Prefect never sees one, and no
    lookup takes one. Raises InputError with a sentence when nothing is found."""
    text = str(lookup).strip()
    if not text:
        raise InputError("lookup: write a case id (case-12) or the sending system's reference for the person")
    digits = re.sub(r"[\s.]", "", text)
    if looks_like_bsn(digits) or redact_bsn(text) != text:
        raise InputError("lookup: that looks like a BSN; a case is found by its case id (case-12) or by the "
                         "sending system's reference for the person, never by a BSN")
    if _CASE_REF.match(text):
        case_id = parse_case_id(text)
        if session.get(Case, case_id) is not None:
            return [case_id]
    person = session.scalar(select(Person.id).where(Person.ref == text))
    if person is not None:
        return list(session.scalars(select(Case.id).where(Case.person_id == person).order_by(Case.id)))
    if _CASE_REF.match(text):
        raise InputError(f"lookup: there is no case-{parse_case_id(text)}")
    raise InputError(f"lookup: no case has the id {redact_bsn(text)!r} and no person has it as reference")


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def case_page(session: Session, case_id: int, today: dt.date) -> dict:
    """Everything the case page shows, as data (see the module's docstring)."""
    case = session.get(Case, case_id)
    if case is None:
        raise InputError(f"case: there is no case-{case_id}")
    ref = session.scalar(select(Person.ref).where(Person.id == case.person_id))
    late = (today - case.late_since).days + 1 if case.late_since and case.late_since <= today else None
    journal = session.execute(select(JournalEntry.on_date, JournalEntry.kind, JournalEntry.type, JournalEntry.data)
                              .where(JournalEntry.case_id == case_id).order_by(JournalEntry.id)).all()
    letters = [{"date": _day(d), "kind": kind, "type": type_} for d, kind, type_, _ in journal
               if kind in ("letter", "email", "notice")]
    decisions = [{"date": _day(d), "letter": type_, "decision": redact_bsn(str(data.get(DECISIONS[type_], "")))}
                 for d, kind, type_, data in journal if kind in ("letter", "email") and type_ in DECISIONS]
    payments = [{"date": _day(d), "type": type_,
                 **{name: redact_bsn(str(data[name])) for name in PAYMENT_FIELDS if data.get(name) is not None}}
                for d, kind, type_, data in journal if kind == "payment"]
    alerts = [{"date": _day(d), "alert": type_} for d, kind, type_, _ in journal if kind == "alert"]
    history = [{"date": _day(d), "status": status, "cause": cause} for d, status, cause in session.execute(
        select(CaseStatus.on_date, CaseStatus.status, CaseStatus.cause).where(CaseStatus.case_id == case_id)
        .order_by(CaseStatus.id))]
    events = [{"event": n, "type": type_, "date": _day(d), "received": _day(received), "status": status,
               "reason": redact_bsn(reason) if reason else None}
              for n, type_, d, received, status, reason in session.execute(
                  select(ReceivedEvent.id, ReceivedEvent.type, ReceivedEvent.event_date, ReceivedEvent.received_on,
                         ReceivedEvent.status, ReceivedEvent.reason)
                  .where(ReceivedEvent.case_id == case_id).order_by(ReceivedEvent.id.desc()).limit(EVENTS_SHOWN))]
    deadlines = [{"deadline": kind, "due": _day(due)} for kind, due in session.execute(
        select(Deadline.kind, Deadline.due_on).where(Deadline.case_id == case_id, Deadline.state == "open")
        .order_by(Deadline.due_on))]
    incidents = [{"incident": n, "kind": kind, "summary": redact_bsn(summary), "opened": _day(opened)}
                 for n, kind, summary, opened in session.execute(
                     select(Incident.id, Incident.kind, Incident.summary, Incident.opened_on)
                     .where(Incident.case_id == case_id, Incident.state != "closed").order_by(Incident.id))]
    others = [{"case": f"case-{n}", "process": TITLES.get(process, process), "status": status}
              for n, process, status in session.execute(
                  select(Case.id, Case.process, Case.status)
                  .where(Case.person_id == case.person_id, Case.id != case_id).order_by(Case.id))]
    return {"case": f"case-{case.id}", "id": case.id, "process": case.process,
            "title": TITLES.get(case.process, case.process), "status": case.status,
            "waiting_for": redact_bsn(case.waiting_for) if case.waiting_for else None,
            "waiting_since": _day(case.waiting_since), "late_since": _day(case.late_since), "days_late": late,
            "opened_on": _day(case.opened_on), "closed_on": _day(case.closed_on), "person_ref": redact_bsn(ref or ""),
            "wait_run": case.wait_run_id, "as_of": today.isoformat(), "letters": letters, "decisions": decisions,
            "payments": payments, "alerts": alerts, "history": history, "events": events, "deadlines": deadlines,
            "incidents": incidents, "other_cases": others}


# ---- the page as markdown ----------------------------------------------------------------------------


def _table(rows: list[dict], empty: str) -> str:
    if not rows:
        return f"_{empty}_\n"
    columns = list(dict.fromkeys(name for row in rows for name in row))
    lines = ["| " + " | ".join(c.replace("_", " ") for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join("" if row.get(c) is None else str(row[c]).replace("|", "/") for c in columns) + " |"
              for row in rows]
    return "\n".join(lines) + "\n"


def page_key(case_id: int) -> str:
    """The key of the case's page in Prefect (its artifact): `case-12`."""
    return f"case-{case_id}"


def page_markdown(page: dict, ui: str | None = None) -> str:
    """The case page as markdown; `ui` (the Prefect UI's address) makes the links."""
    def link(text: str, path: str) -> str:
        return f"[{text}]({ui}{path})" if ui else text

    late = f"**yes: {page['days_late']} days late** (since {page['late_since']})" if page["days_late"] else "no"
    runs = [link("the runs of this case", f"/runs?tag={page['case']}&type=span&seconds=-31622400")]
    if page["wait_run"]:
        runs.insert(0, link("its wait run (the form to answer)", f"/runs/flow-run/{page['wait_run']}"))
    others = [{**row, "case": link(row["case"], f"/artifacts/key/{row['case']}")} for row in page["other_cases"]]
    return "\n".join([
        f"# {page['case']} · {page['title']}", "",
        f"_As of {page['as_of']}. Written by every ingest and monitor run that changed the case, and by "
        f"`find-case`._", "",
        "| | |", "|---|---|",
        f"| process | {page['title']} |",
        f"| status | **{page['status']}** |",
        f"| waits for | {page['waiting_for'] or 'nothing'} |",
        f"| waiting since | {page['waiting_since'] or '—'} |",
        f"| late | {late} |",
        f"| opened | {page['opened_on']} |",
        f"| closed | {page['closed_on'] or '—'} |",
        f"| person (sending system's reference) | {page['person_ref']} |",
        f"| runs | {' · '.join(runs)} |", "",
        "## Decisions", _table(page["decisions"], "no decision yet"),
        "## Letters and messages sent", _table(page["letters"], "nothing sent yet"),
        "## Payments", _table(page["payments"], "no payments"),
        "## Status history", _table(page["history"], "no status yet"),
        "## Open deadlines", _table(page["deadlines"], "none"),
        "## Alerts", _table(page["alerts"], "none"),
        f"## Events received (the last {EVENTS_SHOWN})", _table(page["events"], "none"),
        "## Incidents not closed", _table(page["incidents"], "none"),
        "## The person's other cases", _table(others, "none"),
    ])
