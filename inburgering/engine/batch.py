"""The casebook's loader and flusher: the only place transitions meet SQL.

A batch is a casebook (engine/casebook.py: the cases in memory and the one way anything is
applied) that loads, in a few set-based queries, everything the pure processes need for the
people involved (their cases, open deadlines and held letters) as plain records, and writes
what the casebook did in set-based statements at the end (`finish`): one multi-row INSERT per
table for the new rows, one executemany UPDATE for the changed cases (version-checked),
deadlines and inbox rows. The caller commits once per batch. No ORM objects on this path: at
10^5 journeys the unit of work's per-object bookkeeping cost more than the rules themselves
(bench/README.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table, Text, bindparam, cast, func, insert, or_, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from inburgering.domain.policy import Policy
from inburgering.domain.process import PersonFacts
from inburgering.engine.casebook import CASE_COLUMNS, Casebook, CaseRecord, DeadlineRecord, HeldRecord
from inburgering.store.models import Base, Case, Deadline, HeldLetter, LetterHold, Person, ReceivedEvent

CASES: Table = Case.__table__  # type: ignore[assignment]
DEADLINES: Table = Deadline.__table__  # type: ignore[assignment]
INBOX: Table = ReceivedEvent.__table__  # type: ignore[assignment]
HELD: Table = HeldLetter.__table__  # type: ignore[assignment]
TABLES: dict[str, Table] = dict(Base.metadata.tables)  # the casebook names a new row's table


def held_letter_types(session: Session, day: dt.date) -> frozenset[str]:
    return frozenset(session.connection().scalars(_HELD_LETTER_TYPES, {"day": day}))


_HELD_LETTER_TYPES = select(LetterHold.letter_type).where(
    LetterHold.held_from <= bindparam("day"),
    or_(LetterHold.released_on.is_(None), LetterHold.released_on > bindparam("day")),
)

# Tables in the order their new rows are inserted: a row only refers to rows of tables before it.
_INSERT_ORDER = ("cases", "case_status_history", "deadlines", "journal", "letters", "outbox")


class Batch(Casebook):
    """One unit of work. A batch lives for one transaction, or, rebound to each new transaction
    (`rebind`), for a whole run of days: what it loaded stays loaded and parsed (a replay, the
    benchmark: one writer)."""

    def __init__(self, session: Session, as_of: dt.date, policy: Policy, held: frozenset[str],
                 *, remember_ids: bool = False):
        super().__init__(as_of, policy, held)
        # Ids handed out so far, by table: a single writer need not ask the database again.
        self._next_ids: dict[Table, int] | None = {} if remember_ids else None
        self.rebind(session, as_of, policy, held)

    def rebind(self, session: Session, as_of: dt.date, policy: Policy, held: frozenset[str]) -> None:
        """Work on in a new transaction, for a day: what is loaded stays loaded."""
        self.session = session
        self.connection: Connection = session.connection()
        self.on_day(as_of, policy, held)

    def load_people(self, person_ids: Iterable[int]) -> None:
        ids = self.used(set(person_ids))
        if not ids:
            return
        for pid, ref, name, born, email in self.connection.execute(_LOAD_PEOPLE, {"ids": ids}):
            self.add_person(pid, PersonFacts(ref=ref, name=name, born=born, email_known=email is not None))
        for *values, state in self.connection.execute(_LOAD_CASES, {"ids": ids}):
            self.index_case(CaseRecord(*values, stored_state=state))
        for did, case_id, kind, due_on, data, opened_on in self.connection.execute(_LOAD_OPEN_DEADLINES, {"ids": ids}):
            self.add_deadline(DeadlineRecord(did, self.case_by_id[case_id], kind, due_on, data, "open", opened_on))
        for hid, case_id, *values in self.connection.execute(_LOAD_HELD, {"ids": ids}):
            self.people[self.case_by_id[case_id].person_id].held.append(
                HeldRecord(hid, self.case_by_id[case_id], *values, state="held"))

    def finish(self) -> None:
        """Write everything the casebook did: ids first, then inserts, then version-checked updates."""
        self.give_ids(lambda counts: {table.name: ids for table, ids in allocate_ids(
            self.connection, {TABLES[name]: count for name, count in counts.items()}, self._next_ids).items()})
        if self.new_cases:
            self.connection.execute(insert(CASES), [self.case_values(c) | {"version": 1} for c in self.new_cases])
        for name in (*_INSERT_ORDER[1:], *(t for t in self.new_rows if t not in _INSERT_ORDER)):
            by_columns: dict[frozenset[str], list[dict[str, Any]]] = {}  # one statement needs one set of columns
            for row in self.new_rows.get(name, ()):
                by_columns.setdefault(frozenset(row.values), []).append(row.resolved())
            for rows in by_columns.values():
                self.connection.execute(insert(TABLES[name]), rows)
        if self.dirty_cases:
            result = self.connection.execute(_UPDATE_CASE, [
                {name: values[name] for name in _CASE_FIELDS} | {"b_id": c.id, "b_version": c.version}
                for c in self.dirty_cases for values in (self.case_values(c),)])
            if result.rowcount != len(self.dirty_cases):
                raise StaleDataError(f"{len(self.dirty_cases) - result.rowcount} of {len(self.dirty_cases)} cases "
                                     "were changed by another worker meanwhile; the batch is rolled back")
            for case in self.dirty_cases:
                case.version += 1
        if self.dirty_deadlines:
            closed = [{"b_id": d.id, "state": d.state, "closed_on": d.closed_on} for d in self.dirty_deadlines]
            _expect(self.connection.execute(_CLOSE_DEADLINE, closed).rowcount, len(closed), "deadlines")
        if self.dirty_held:
            self.connection.execute(_UPDATE_HELD, [
                {"b_id": h.id, "state": h.state, "closed_on": h.closed_on, "alerted_on": h.alerted_on,
                 "closes_case": h.closes_case} for h in self.dirty_held])
        if self.inbox_outcomes:
            _expect(self.connection.execute(_RECORD_OUTCOME, [
                {"b_id": inbox_id, "status": status, "reason": reason,
                 "case_id": case.id if case is not None else None, "processed_on": self.as_of}
                for inbox_id, status, reason, case in self.inbox_outcomes]).rowcount,
                len(self.inbox_outcomes), "received events")
        self.written()

def _expect(written: int, claimed: int, what: str) -> None:
    """An outcome is written only for a row this batch still holds: open (deadlines) or pending
    (received events). Anything else means another worker got there: roll the batch back."""
    if written != claimed:
        raise StaleDataError(f"{claimed - written} of {claimed} {what} were handled by another worker meanwhile; "
                             "the batch is rolled back and nothing of it is written")


def allocate_ids(connection: Connection, counts: dict[Table, int],
                 remembered: dict[Table, int] | None = None) -> dict[Table, list[int]]:
    """Ids for new rows, `counts[table]` of each table, so rows can refer to each other
    before they are inserted and every table's rows go in one statement.

    PostgreSQL hands them out from each column's sequence. SQLite has none: the rows are
    numbered as SQLite would (the highest id + 1; one query for all tables). Should another
    worker insert rows of a table meanwhile, the INSERT fails on the primary key and the
    whole transaction rolls back (its task is retried): an id is never taken twice and
    nothing is overwritten. A single writer (a replay) passes `remembered`: the last id
    given per table, so the database is asked once a table."""
    wanted = [table for table, count in counts.items() if count]
    ids: dict[Table, list[int]] = {table: [] for table in counts}
    if not wanted:
        return ids
    if connection.dialect.name == "sqlite":
        unknown = [table for table in wanted if remembered is None or table not in remembered]
        if unknown:
            lasts = connection.execute(select(*(_LAST_ID[table] for table in unknown))).one()
            known = dict(zip(unknown, (last or 0 for last in lasts)))
        else:
            known = {}
        for table in wanted:
            last = remembered[table] if remembered is not None and table in remembered else known[table]
            ids[table] = list(range(last + 1, last + counts[table] + 1))
            if remembered is not None:
                remembered[table] = last + counts[table]
    else:
        for table in wanted:
            ids[table] = list(connection.scalars(_NEXT_IDS, {"table": table.name, "count": counts[table]}))
    return ids


# The statements of the hot path, built once (building one costs more than running it).
_LOAD_PEOPLE = (select(Person.id, Person.ref, Person.name, Person.born, Person.email)
                .where(Person.id.in_(bindparam("ids", expanding=True))))
# States come as JSON text and are parsed (by pydantic, from the text) only when a rule reads them.
_LOAD_CASES = (select(*(CASES.c[name] for name in CASE_COLUMNS), cast(CASES.c.state, Text))
               .where(CASES.c.person_id.in_(bindparam("ids", expanding=True))).order_by(CASES.c.id))
_LOAD_OPEN_DEADLINES = (
    select(DEADLINES.c.id, DEADLINES.c.case_id, DEADLINES.c.kind, DEADLINES.c.due_on, DEADLINES.c.data,
           DEADLINES.c.opened_on)
    # By case ids, not a join: SQLite's planner would otherwise walk every open deadline.
    .where(DEADLINES.c.case_id.in_(select(CASES.c.id).where(CASES.c.person_id.in_(bindparam("ids", expanding=True)))),
           DEADLINES.c.state == "open")
    .order_by(DEADLINES.c.id))
_LOAD_HELD = (
    select(HELD.c.id, HELD.c.case_id, HELD.c.kind, HELD.c.type, HELD.c.recipient, HELD.c.data, HELD.c.key,
           HELD.c.held_on, HELD.c.due_by, HELD.c.overdue_alert, HELD.c.overdue_data, HELD.c.alerted_on,
           HELD.c.closes_case)
    .where(HELD.c.case_id.in_(select(CASES.c.id).where(CASES.c.person_id.in_(bindparam("ids", expanding=True)))),
           HELD.c.state == "held")
    .order_by(HELD.c.id))
_LAST_ID = {table: select(func.max(table.c.id)).scalar_subquery() for table in Base.metadata.tables.values()
            if "id" in table.c}
_NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)")

_CASE_FIELDS = ("status", "waiting_for", "waiting_since", "late_since", "state", "updated_on", "closed_on")
# Optimistic locking: the UPDATE names the version the batch read, so two workers changing one
# case at once cannot both win; the loser's batch rolls back (and its task is retried).
_UPDATE_CASE = (update(CASES)
                .where(CASES.c.id == bindparam("b_id"), CASES.c.version == bindparam("b_version"))
                .values({name: bindparam(name) for name in _CASE_FIELDS} | {"version": CASES.c.version + 1}))
_CLOSE_DEADLINE = (update(DEADLINES).where(DEADLINES.c.id == bindparam("b_id"), DEADLINES.c.state == "open")
                   .values(state=bindparam("state"), closed_on=bindparam("closed_on")))
_UPDATE_HELD = (update(HELD).where(HELD.c.id == bindparam("b_id"))
                .values({name: bindparam(name) for name in ("state", "closed_on", "alerted_on", "closes_case")}))
_RECORD_OUTCOME = (update(INBOX).where(INBOX.c.id == bindparam("b_id"), INBOX.c.status == "pending")
                   .values({name: bindparam(name) for name in ("status", "reason", "case_id", "processed_on")}))
