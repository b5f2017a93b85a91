"""What process owners look at: which cases wait for what, since when, and what is late.

Set-based queries over the case file; rows carry case ids, never personal data.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from inburgering.engine import incidents
from inburgering.store.models import INCIDENT_ACTIVE, Case, Deadline, Incident, JournalEntry, ReceivedEvent

# The tag a late case's wait run carries, and the board's link to the late runs filters on.
LATE_TAG = "late"


def waiting_board(session: Session) -> list[dict]:
    """Per process and status: how many cases wait, for what, and since when (oldest)."""
    rows = session.execute(
        select(Case.process, Case.status, Case.waiting_for, func.count(Case.id), func.min(Case.waiting_since))
        .where(Case.waiting_for.is_not(None), Case.closed_on.is_(None))
        .group_by(Case.process, Case.status, Case.waiting_for)
        .order_by(Case.process, func.min(Case.waiting_since))
    ).all()
    return [{"process": p, "status": s, "waiting_for": w, "cases": n, "oldest_since": since.isoformat() if since else None}
            for p, s, w, n, since in rows]


def late_cases(session: Session, as_of: dt.date, limit: int = 200) -> tuple[int, list[dict]]:
    """All late open cases (count) and the longest-late ones (rows)."""
    late = select(Case).where(Case.late_since.is_not(None), Case.late_since <= as_of, Case.closed_on.is_(None))
    total = session.scalar(select(func.count()).select_from(late.subquery())) or 0
    rows = session.scalars(late.order_by(Case.late_since, Case.id).limit(limit)).all()
    return total, [{"case": f"case-{c.id}", "process": c.process, "status": c.status, "waiting_for": c.waiting_for,
                    "late_since": c.late_since.isoformat(), "days_late": (as_of - c.late_since).days + 1,
                    "run": c.wait_run_id} for c in rows]


def waiting_cases(session: Session, process: str | None = None, limit: int = 200) -> list[dict]:
    """Open cases that wait for something; of one process, every open case (a term runs
    without waiting for anything until it ends soon)."""
    query = select(Case).where(Case.closed_on.is_(None))
    query = query.where(Case.process == process) if process else query.where(Case.waiting_for.is_not(None))
    rows = session.scalars(query.order_by(Case.waiting_since.is_(None), Case.waiting_since, Case.id).limit(limit)).all()
    return [{"case": f"case-{c.id}", "process": c.process, "status": c.status, "waiting_for": c.waiting_for,
             "since": c.waiting_since.isoformat() if c.waiting_since else None} for c in rows]


def process_board(session: Session) -> list[dict]:
    """Per process: how many cases wait, how many of them are late, how many show a wait run,
    and since when the oldest waits. One pass over the open waiting cases."""
    late = func.sum(case((Case.late_since.is_not(None), 1), else_=0))
    shown = func.sum(case((Case.wait_run_id.is_not(None), 1), else_=0))
    rows = session.execute(
        select(Case.process, func.count(Case.id), late, shown, func.min(Case.waiting_since))
        .where(Case.waiting_for.is_not(None), Case.closed_on.is_(None))
        .group_by(Case.process).order_by(Case.process)).all()
    return [{"process": p, "waiting": n, "late": int(l or 0), "with_a_run": int(r or 0),
             "oldest_since": since.isoformat() if since else None} for p, n, l, r, since in rows]


def status_counts(session: Session) -> list[dict]:
    """Open cases per process and status (waiting or not)."""
    rows = session.execute(select(Case.process, Case.status, func.count(Case.id)).where(Case.closed_on.is_(None))
                           .group_by(Case.process, Case.status).order_by(Case.process, Case.status)).all()
    return [{"process": p, "status": s, "cases": n} for p, s, n in rows]


def people_by_category(session: Session) -> dict[str, int]:
    """How many people with a known obligation (a journey) are asylum status holders, family
    migrants, other — and how many have no category known (`unknown`: treated as other,
    domain.md §1; the IND sends it with the residence permit)."""
    category = Case.state["category"].as_string()
    rows = session.execute(select(category, func.count(Case.id)).where(Case.process == "journey")
                           .group_by(category)).all()
    counts = {"asylum": 0, "family": 0, "other": 0, "unknown": 0}
    for name, n in rows:
        counts[name if name in counts else "unknown"] += n
    return counts


# The term statuses process owners watch (domain/term.py): ending within 3 months (from the reminder
# of 3 months or less on), and passed (pre-announced, or past the last fine).
TERM_ENDING_SOON = ("term_ending_soon",)
TERM_PASSED = ("pre_announced", "fine_under_review", "term_passed")


def terms(session: Session, statuses: tuple[str, ...], limit: int = 50) -> tuple[int, list[dict]]:
    """Open term cases in these statuses: how many, and the ones waiting longest."""
    query = select(Case).where(Case.process == "term", Case.status.in_(statuses), Case.closed_on.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Case.waiting_since, Case.id).limit(limit)).all()
    return total, [{"case": f"case-{c.id}", "status": c.status, "waiting_for": c.waiting_for,
                    "since": c.waiting_since.isoformat() if c.waiting_since else None,
                    "run": c.wait_run_id} for c in rows]


# The processes whose cases hold decisions with an Awb life (domain/decision.py).
DECIDING = ("exemption", "form_exemption", "objection", "term")


def _lives(state: dict) -> list[dict]:
    """The decision lives in a case's state: its own, or its extension requests' (the term)."""
    found = [state["life"]] if isinstance(state.get("life"), dict) else []
    return found + [r["life"] for r in state.get("extensions") or [] if isinstance(r.get("life"), dict)]


def decisions(session: Session, as_of: dt.date, policy, limit: int = 50) -> dict:  # noqa: ANN001
    """Decisions process owners watch: how many are late (by process), penalties running
    (Awb 4:17: notice given, not paid yet: days and amount so far) and objections waiting for
    staff. Reads the state of late and objection cases only (a small share of the open cases)."""
    from inburgering.domain.decision import DecisionLife, penalty_amount, penalty_days

    query = select(Case).where(Case.process.in_(DECIDING), Case.closed_on.is_(None),
                               Case.late_since.is_not(None) | (Case.process == "objection"))
    late: dict[str, int] = {}
    penalties, objections = [], 0
    for c in session.scalars(query.order_by(Case.id)):
        if c.late_since is not None and c.late_since <= as_of:
            late[c.process] = late.get(c.process, 0) + 1
        if c.process == "objection" and c.status == "waiting_for_staff_decision":
            objections += 1
        for life in map(DecisionLife.model_validate, _lives(c.state or {})):
            penalty = life.penalty
            if penalty is not None and penalty.paid_on is None and not life.decided and len(penalties) < limit:
                days = penalty_days(penalty.notice_on, as_of, policy)
                penalties.append({"case": f"case-{c.id}", "process": c.process, "decision": life.kind,
                                  "notice_on": penalty.notice_on.isoformat(), "days": days,
                                  "amount_so_far": f"{penalty_amount(days, penalty.notice_on, policy):.2f}",
                                  "run": c.wait_run_id})
    return {"late": late, "penalties": penalties, "objections_waiting": objections}


def sent_on(session: Session, day: dt.date) -> dict[str, int]:
    """What went out on a day (letters, e-mails, notices, payments; alerts apart), by kind/type."""
    from inburgering.store.models import JournalEntry

    rows = session.execute(select(JournalEntry.kind, JournalEntry.type, func.count(JournalEntry.id))
                           .where(JournalEntry.on_date == day).group_by(JournalEntry.kind, JournalEntry.type)
                           .order_by(JournalEntry.kind, JournalEntry.type)).all()
    return {f"{k}/{t}": n for k, t, n in rows}


def incident_board(session: Session) -> list[dict]:
    """Per kind and state: how many incidents are not closed, and the oldest one's day."""
    rows = session.execute(
        select(Incident.kind, Incident.state, func.count(Incident.id), func.min(Incident.opened_on))
        .where(INCIDENT_ACTIVE).group_by(Incident.kind, Incident.state).order_by(Incident.kind, Incident.state)
    ).all()
    return [{"kind": k, "state": s, "incidents": n, "oldest_since": since.isoformat()} for k, s, n, since in rows]


def open_incidents(session: Session, kind: str | None = None, limit: int = 200) -> list[dict]:
    """The incidents not closed, oldest first: what failed, on which case, and what staff can do."""
    return [incidents.describe(i) for i in incidents.list_open(session, kind, limit)]


def loan_overview(session: Session, person_ref: str) -> dict | None:
    """A person's loan as Mijn Inburgering shows it: borrowed, paid out, promised to a
    later quarter, left; and every invoice with its status. None for an unknown person."""
    from inburgering.domain.invoicing import LOAN_KEY, InvoicingState
    from inburgering.domain.invoicing_ledger import account_of
    from inburgering.domain.money import fmt
    from inburgering.store.models import Person

    person_id = session.scalar(select(Person.id).where(Person.ref == person_ref))
    if person_id is None:
        return None
    cases = session.scalars(select(Case).where(Case.person_id == person_id, Case.process == "invoicing")
                            .order_by(Case.id)).all()
    states = {c.key: (c, InvoicingState.model_validate(c.state)) for c in cases}
    loan_state = states.get(LOAN_KEY, (None, None))[1]
    loan = loan_state.loan.amount if loan_state is not None and loan_state.loan is not None else None
    files = [(c, s.invoice) for c, s in states.values() if s.invoice is not None]
    account = account_of(loan or 0, [(f.invoice.school, f.paid, f.deferred) for _, f in files])
    return {
        "loan": {"borrowed": fmt(loan) if loan is not None else "no loan",
                 "paid_out": fmt(account.paid), "promised_later": fmt(account.deferred), "left": fmt(account.left)},
        "invoices": [{"case": f"case-{c.id}", "school": f.invoice.school, "invoice_number": f.invoice.number,
                      "invoice_date": f.invoice.invoice_date.isoformat(), "total": fmt(f.invoice.total),
                      "status": c.status, "paid": fmt(sum((p.amount for p in f.paid), Decimal(0))),
                      "not_paid": fmt(f.unpaid or Decimal(0))}
                     for c, f in files],
    }


# ---- an operator's date (`inburgering monitor|ingest --as-of`) --------------------------------------


def last_run_day(session: Session) -> dt.date | None:
    """The last day the engine sent anything (a letter, a message, a payment, an alert): the
    case file's last run, as far as the outside world saw it."""
    return session.scalar(select(func.max(JournalEntry.on_date)))


def due_by(session: Session, as_of: dt.date) -> dict:
    """What a run for `as_of` would take up (a dry count, nothing changes): the open deadlines
    due by then, per kind, and the pending events dated by then."""
    deadlines = dict(session.execute(select(Deadline.kind, func.count())
                                     .where(Deadline.state == "open", Deadline.due_on <= as_of)
                                     .group_by(Deadline.kind)).all())
    events = session.scalar(select(func.count()).select_from(ReceivedEvent)
                            .where(ReceivedEvent.status == "pending", ReceivedEvent.event_date <= as_of))
    return {"deadlines": deadlines, "events": events}
