"""A stored letter as the person (or school) reads it: rendered from its template set's version
and its data, or, for a letter written before letters were kept as data, its stored text."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from inburgering.letters.render import Rendered, render
from inburgering.store.models import JournalEntry, Letter


def text_of(letter: Letter, data: dict) -> Rendered:
    """`data` is the letter's journal entry's data."""
    if letter.body:  # written before letters were kept as data
        return Rendered(subject=letter.subject, body=letter.body)
    return render(letter.type, kind=letter.kind, recipient_name=letter.recipient_name or "",
                  case_label=f"case-{letter.case_id}", on_date=letter.on_date, data=data,
                  version=letter.template_version)


def letter_text(session: Session, letter: Letter) -> Rendered:
    data = session.scalar(select(JournalEntry.data).where(JournalEntry.id == letter.journal_id))
    return text_of(letter, data)
