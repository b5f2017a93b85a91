"""The numbers of a month, as process owners steer on them: per process and per week, how
many start letters, AGI decisions and invoice answers there were, how many within their
service level, and their lead times; what waits now and what is late; and the waiting and late
cases as CSV. Read from the case file (case ids only).

Service levels, all policy values at the day the clock started:
- start letter: `start_letter_max_days` after the last prerequisite (or a minor's 18th birthday);
- AGI decision: by its term (the decision's own `decision_due`, Awb: suspensions and Atw included);
- invoice answer: within `invoice_waiting_long_after_days` of the invoice's receipt (process
  owners are alerted after that).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inburgering.domain.bsn import redact_bsn
from inburgering.domain.invoicing import LOAN_KEY
from inburgering.domain.policy import Policy
from inburgering.domain.registry import TITLES, process_named
from inburgering.store.models import Case, JournalEntry


@dataclass
class Measure:
    """One kind of work of a process: what was done when, against which last day."""

    name: str
    process: str
    service_level: str
    done: list[tuple[dt.date, int, bool]] = field(default_factory=list)  # (day done, lead days, on time)


def month_bounds(month: str | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """'2026-11' -> its first and last day (up to today for the month under way)."""
    if month is None:
        first = today.replace(day=1)
    else:
        try:
            first = dt.date.fromisoformat(f"{month}-01")
        except ValueError:
            from inburgering.engine.errors import InputError

            raise InputError(f"month: {redact_bsn(month)!r} is not a month; write it as YYYY-MM, e.g. 2026-11") from None
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, min(following - dt.timedelta(days=1), today)


def _sent(session: Session, process: str, letter: str, first: dt.date, last: dt.date) -> Iterator[tuple[dt.date, object]]:
    """The day each letter of a type went out in the window (a held letter: the day it went),
    with its case's state."""
    model = process_named(process).state_model
    rows = session.execute(
        select(JournalEntry.on_date, Case.state).join(Case, Case.id == JournalEntry.case_id)
        .where(JournalEntry.type == letter, JournalEntry.kind.in_(("letter", "email")),
               JournalEntry.on_date >= first, JournalEntry.on_date <= last, Case.process == process))
    for sent, state in rows:
        yield sent, model.model_validate(state)


def measures(session: Session, policy: Policy, first: dt.date, last: dt.date) -> list[Measure]:
    start_letters = Measure("start letters sent", "intake", "8 weeks after the last prerequisite (policy "
                                                          "start_letter_max_days)")
    for sent, state in _sent(session, "intake", "start_letter", first, last):
        if state.complete_on is None:
            continue
        since = max(state.complete_on, state.obligation_start or state.complete_on)
        lead = (sent - since).days
        start_letters.done.append((sent, lead, lead <= policy.value("start_letter_max_days", since)))
    decisions = Measure("AGI decisions sent", "exemption", "by the decision's term (policy agi_decision_weeks, "
                                                           "Awb: suspensions, Atw)")
    for sent, state in _sent(session, "exemption", "agi_decision", first, last):
        began = state.applied_on or state.complete_on or state.opened_on
        on_time = state.decision_due is None or sent <= state.decision_due
        decisions.done.append((sent, (sent - began).days, on_time))
    answers = Measure("invoices answered", "invoicing", "within policy invoice_waiting_long_after_days of receipt")
    model = process_named("invoicing").state_model
    for key, state in session.execute(select(Case.key, Case.state).where(
            Case.process == "invoicing", Case.key != LOAN_KEY, Case.updated_on >= first)):
        file = model.model_validate(state).invoice
        if file is None or file.decided_on is None or not first <= file.decided_on <= last:
            continue
        received = file.invoice.received_on
        lead = (file.decided_on - received).days
        answers.done.append((file.decided_on, lead, lead <= policy.value("invoice_waiting_long_after_days", received)))
    return [start_letters, decisions, answers]


def weeks(first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The ISO weeks (Monday to Sunday) that hold a day of the month, cut to the month."""
    monday = first - dt.timedelta(days=first.weekday())
    spans = []
    while monday <= last:
        spans.append((max(monday, first), min(monday + dt.timedelta(days=6), last)))
        monday += dt.timedelta(days=7)
    return spans


def _summary(done: list[tuple[dt.date, int, bool]]) -> dict:
    leads = [lead for _, lead, _ in done]
    on_time = sum(1 for *_, ok in done if ok)
    return {"done": len(done), "on_time": on_time, "late": len(done) - on_time,
            "on_time_pct": round(100 * on_time / len(done)) if done else None,
            "median_days": statistics.median(leads) if leads else None, "longest_days": max(leads, default=None)}


def waiting_now(session: Session, today: dt.date) -> list[dict]:
    """Per process: the open cases that wait, how many of them are late, the oldest waiting day."""
    rows = session.execute(
        select(Case.process, func.count(Case.id), func.count(Case.late_since), func.min(Case.waiting_since))
        .where(Case.waiting_for.is_not(None), Case.closed_on.is_(None))
        .group_by(Case.process).order_by(Case.process)).all()
    return [{"process": TITLES.get(p, p), "waiting": n, "late": late,
             "oldest_waiting_days": (today - oldest).days if oldest else None} for p, n, late, oldest in rows]


def month_numbers(session: Session, policy: Policy, month: str | None, today: dt.date) -> dict:
    first, last = month_bounds(month, today)
    spans = weeks(first, last)
    result = []
    for measure in measures(session, policy, first, last):
        per_week = [{"week": f"{a.isocalendar().year}-W{a.isocalendar().week:02d}", "from": a.isoformat(),
                     "to": b.isoformat(), **_summary([d for d in measure.done if a <= d[0] <= b])} for a, b in spans]
        result.append({"measure": measure.name, "process": TITLES.get(measure.process, measure.process),
                       "service_level": measure.service_level, "month": _summary(measure.done), "weeks": per_week})
    return {"month": first.strftime("%Y-%m"), "from": first.isoformat(), "to": last.isoformat(),
            "measures": result, "waiting_now": waiting_now(session, today)}


# ---- as people read it ---------------------------------------------------------------------------------

BAR_WIDTH = 20


def _bar(on_time: int, late: int, most: int) -> str:
    """A bar a person reads at a glance: █ on time, ░ late, scaled to the busiest week."""
    if not most:
        return ""
    scale = BAR_WIDTH / most
    return "█" * round(on_time * scale) + "░" * round(late * scale)


def _cell(value: object, suffix: str = "") -> str:
    return "—" if value is None else f"{value}{suffix}"


def numbers_markdown(numbers: dict) -> str:
    lines = [f"# The numbers of {numbers['month']}", "",
             f"_{numbers['from']} to {numbers['to']}; per ISO week. █ on time, ░ late (against the service "
             "level); lead times in calendar days._", ""]
    for m in numbers["measures"]:
        month = m["month"]
        most = max((w["done"] for w in m["weeks"]), default=0)
        lines += [f"## {m['measure']} · {m['process']}", "",
                  f"Service level: {m['service_level']}. This month: **{month['done']}**, "
                  f"**{_cell(month['on_time_pct'], ' %')} on time** ({month['late']} late), median lead "
                  f"{_cell(month['median_days'])} days, longest {_cell(month['longest_days'])}.", "",
                  "| week | done | on time | late | % on time | median days | longest | |",
                  "|---|---:|---:|---:|---:|---:|---:|---|"]
        lines += [f"| {w['week']} ({w['from'][5:]}–{w['to'][5:]}) | {w['done']} | {w['on_time']} | {w['late']} | "
                  f"{_cell(w['on_time_pct'], ' %')} | {_cell(w['median_days'])} | {_cell(w['longest_days'])} | "
                  f"{_bar(w['on_time'], w['late'], most)} |" for w in m["weeks"]]
        lines.append("")
    lines += ["## Waiting now", "", "| process | waiting | late | oldest waiting (days) |", "|---|---:|---:|---:|"]
    lines += [f"| {r['process']} | {r['waiting']} | {r['late']} | {_cell(r['oldest_waiting_days'])} |"
              for r in numbers["waiting_now"]]
    return "\n".join(lines) + "\n"


# ---- the waiting and late cases as CSV ---------------------------------------------------------------

CSV_COLUMNS = ("case", "process", "status", "waiting_for", "waiting_since", "days_waiting", "late_since",
               "days_late", "wait_run")


def waiting_csv(session: Session, today: dt.date, *, late_only: bool = False) -> str:
    """Every open case that waits (or only the late ones), longest waiting first, as CSV."""
    query = select(Case.id, Case.process, Case.status, Case.waiting_for, Case.waiting_since, Case.late_since,
                   Case.wait_run_id).where(Case.waiting_for.is_not(None), Case.closed_on.is_(None))
    if late_only:
        query = query.where(Case.late_since.is_not(None))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for case_id, process, status, waiting_for, since, late, run in session.execute(
            query.order_by(Case.waiting_since, Case.id)):
        writer.writerow([f"case-{case_id}", process, status, redact_bsn(waiting_for), since or "",
                         (today - since).days if since else "", late or "",
                         (today - late).days + 1 if late and late <= today else "", run or ""])
    return out.getvalue()
