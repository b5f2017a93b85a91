"""What process owners look at: which cases wait for what, since when, and what is late.

Set-based queries over the case file; rows carry case ids, never personal data.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inburgering.store.models import Case


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
                    "late_since": c.late_since.isoformat(), "days_late": (as_of - c.late_since).days + 1}
                   for c in rows]


def waiting_cases(session: Session, process: str | None = None, limit: int = 200) -> list[dict]:
    query = select(Case).where(Case.waiting_for.is_not(None), Case.closed_on.is_(None))
    if process:
        query = query.where(Case.process == process)
    rows = session.scalars(query.order_by(Case.waiting_since, Case.id).limit(limit)).all()
    return [{"case": f"case-{c.id}", "process": c.process, "status": c.status, "waiting_for": c.waiting_for,
             "since": c.waiting_since.isoformat() if c.waiting_since else None} for c in rows]
