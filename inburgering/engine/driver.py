"""Time that skips: from one due thing to the next, never day by day over empty days.

A day changes the case file only if something is due on it: an event dated that day (or
still pending from before), a deadline due, a hold ending (its letters go out), a held
letter's last day passed (process owners are alerted the day after), or a policy value
taking effect. `next_day_with_work` finds the first such day after a given one, in one
query; `skip_days` walks a range of days by it. A replay that skips gives the timeline of a
replay that walks every day (tests/test_driver.py compares both), because an empty day does
nothing: "replays behave as if the monitor ran every day: a hold ending on the 31st releases
on the 1st" (scenarios.md, round three).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import bindparam, func, literal, select, union_all
from sqlalchemy.orm import Session

from inburgering.store.db import CaseFile
from inburgering.store.models import Deadline, HeldLetter, LetterHold, PolicyValue, ReceivedEvent

_AFTER = bindparam("after", type_=Deadline.due_on.type)

# Each row: the earliest of one kind of due thing (a day before `after` + 1 means the next day).
_NEXT_DUE_QUERY = union_all(
    select(literal(0).label("later"), func.min(ReceivedEvent.event_date).label("day"))
    .where(ReceivedEvent.status == "pending"),
    select(literal(0), func.min(Deadline.due_on)).where(Deadline.state == "open"),
    # A hold released on day R: its letters go out on R (prepare/release_letters set released_on).
    select(literal(0), func.min(LetterHold.released_on)).where(LetterHold.released_on > _AFTER),
    # A held letter whose last day passed: process owners are told on the day after `due_by`.
    select(literal(1), func.min(HeldLetter.due_by)).where(HeldLetter.state == "held", HeldLetter.alerted_on.is_(None),
                                                          HeldLetter.due_by >= _AFTER),
    select(literal(0), func.min(PolicyValue.valid_from)).where(PolicyValue.valid_from > _AFTER),
)


def next_day_with_work(session: Session, after: dt.date) -> dt.date | None:
    """The first day after `after` on which anything is due, or None if nothing ever is."""
    days = []
    for later, day in session.execute(_NEXT_DUE_QUERY, {"after": after}):
        if day is not None:
            days.append(max(day + dt.timedelta(days=later), after + dt.timedelta(days=1)))
    return min(days, default=None)


def skip_days(case_file: CaseFile, first: dt.date, last: dt.date, run_day: Callable[[dt.date], object]) -> int:
    """Run `run_day` on every day from `first` to `last` with something due, in order; returns
    how many days ran. `first` itself always runs (what is overdue on it is done then)."""
    day: dt.date | None = first
    ran = 0
    while day is not None and day <= last:
        run_day(day)
        ran += 1
        with case_file.transaction() as session:
            day = next_day_with_work(session, day)
    return ran


def every_day(first: dt.date, last: dt.date, run_day: Callable[[dt.date], object]) -> int:
    """Every day from `first` to `last`, empty or not: what `skip_days` must equal."""
    for offset in range((last - first).days + 1):
        run_day(first + dt.timedelta(days=offset))
    return (last - first).days + 1
