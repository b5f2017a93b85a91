"""A person as the case file takes one: one model for every door a person comes in by (the
scenario loader's `people:`, the inbound API's `POST /v1/people`), so both check the same.

- `name` and `ref` are one line of text (they go into a letter's address and a message's
  To: header): not blank, no control characters, no line breaks.
- `email` is checked by email-validator (no CR/LF, no control characters, a real domain form).
- `born` is a date within the dates the system takes (1900-01-01 .. 2100-12-31).
- `ref` names the person in every output: it must not hold a BSN (in any writing: dots,
  dashes, spaces), and a message refusing it never repeats it.
- `bsn` passes the eleven-test; a message about it never repeats it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import EmailStr, Field, field_validator

from inburgering.domain.bsn import contains_bsn, validate_bsn
from inburgering.domain.events import Checked, Day, Line, one_line

REF_MAX = 100
REF_IS_BSN = "holds a number that looks like a BSN; a reference names the person in every output and must not " \
             "be personal data (name people p1, p2, ...)"


class PersonDetails(Checked):
    """What is registered of a person, besides the reference that names them."""

    model_config = {"extra": "forbid"}
    bsn: str = Field(description="checked with the eleven-test; stored in the case file only")
    name: Annotated[Line, Field(max_length=200)]
    email: Annotated[EmailStr, Field(max_length=200)] | None = None
    born: Day | None = None

    @field_validator("bsn")
    @classmethod
    def _eleven_test(cls, value: str) -> str:
        return validate_bsn(value)  # its ValueError never repeats the number


def ref_problem(ref: Any) -> str | None:
    """Why `ref` cannot name a person, or None (the message never repeats it)."""
    if not isinstance(ref, str):
        return "must be text, e.g. p1"
    try:
        Checked._sane(ref)
        one_line(ref)
    except ValueError as exc:
        return str(exc)
    if len(ref) > REF_MAX:
        return f"is longer than {REF_MAX} characters"
    if contains_bsn(ref):
        return REF_IS_BSN
    return None


class PersonIn(PersonDetails):
    """A person as the IND or the BRP registers them through the inbound API."""

    ref: Annotated[Line, Field(max_length=REF_MAX, description="how other systems name the person; not the BSN")]

    @field_validator("ref")
    @classmethod
    def _not_a_bsn(cls, value: str) -> str:
        if contains_bsn(value):
            raise ValueError(REF_IS_BSN)
        return value
