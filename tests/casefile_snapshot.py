"""A case file as content, without the ids that differ between two runs of the same events.

Two workers at once must leave exactly what one worker leaves: the tests compare snapshots
of the inbox, cases, journal, letters, outbox, deadlines, held letters and loan ledger. Rows
are named by what they are about (the person's ref, the case's process and key), and case
ids inside letters ("case-12") by the same name.
"""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from inburgering.letters.stored import letter_text
from inburgering.store.db import CaseFile
from inburgering.store.models import (
    Case,
    Deadline,
    HeldLetter,
    JournalEntry,
    Letter,
    LoanLedgerEntry,
    OutboxMessage,
    Person,
    ReceivedEvent,
)


def _json(value) -> str:  # noqa: ANN001
    return json.dumps(value, sort_keys=True, default=str)


def snapshot(case_file: CaseFile) -> dict[str, list[tuple]]:
    with case_file.reading() as s:
        refs = dict(s.execute(select(Person.id, Person.ref)).all())
        names = {cid: f"{refs[pid]}/{process}/{key}"
                 for cid, pid, process, key in s.execute(select(Case.id, Case.person_id, Case.process, Case.key))}

        def named(text: str) -> str:
            return re.sub(r"case-(\d+)", lambda m: names.get(int(m.group(1)), m.group(0)), text)

        return {
            "inbox": sorted((r.source, r.idempotency_key or "", r.status, r.reason or "", str(r.processed_on))
                            for r in s.scalars(select(ReceivedEvent))),
            "cases": sorted((names[c.id], c.status, c.waiting_for or "", str(c.waiting_since), str(c.late_since),
                             str(c.opened_on), str(c.updated_on), str(c.closed_on), c.version, _json(c.state))
                            for c in s.scalars(select(Case))),
            "journal": sorted((names[j.case_id], str(j.on_date), j.kind, j.type, _json(j.data))
                              for j in s.scalars(select(JournalEntry))),
            "letters": sorted((names[x.case_id], str(x.on_date), x.kind, x.type, text.subject, named(text.body))
                              for x in s.scalars(select(Letter)) for text in (letter_text(s, x),)),
            "outbox": sorted((names[o.case_id], o.channel, o.status, _json(o.payload))
                             for o in s.scalars(select(OutboxMessage))),
            "deadlines": sorted((names[d.case_id], d.kind, str(d.due_on), d.state, str(d.opened_on), str(d.closed_on),
                                 _json(d.data)) for d in s.scalars(select(Deadline))),
            "held": sorted((names[h.case_id], h.type, h.state, str(h.held_on), str(h.closed_on))
                           for h in s.scalars(select(HeldLetter))),
            "ledger": sorted((names[e.case_id], str(e.on_date), e.entry, e.amount_cents, e.loan_left_cents,
                              e.quarter or "", e.invoice_number or "") for e in s.scalars(select(LoanLedgerEntry))),
        }


def differences(left: dict, right: dict) -> dict[str, tuple[int, int]]:
    """Per table, how many rows only one side has (empty: the same content)."""
    found = {}
    for table in left:
        a, b = set(left[table]), set(right[table])
        if a != b or len(left[table]) != len(right[table]):
            found[table] = (len(a - b), len(b - a))
    return found
