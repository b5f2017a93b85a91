"""Text that goes into a message header (issue 25, item 5). Before, the subject of
`invoice_refused_to_school` and `invoice_not_paid` carried a school's raw invoice number:
'Factuur A-1\\r\\nBcc: evil@example.org'. Now such text is refused where it enters (events,
people, scenario files), and whatever data a letter holds (stored before the check), no
message type's subject is more than one line."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from inburgering.domain.events import LINE_BREAKS, parse_event
from inburgering.engine import dispatch
from inburgering.letters.stored import text_of
from inburgering.scenario.loader import ScenarioError, parse_scenario
from tests.test_letters_render import LETTERS, letter

INJECTIONS = ["A-1\r\nBcc: evil@example.org\r\nX-Injected: 1<script>", "A-1\nBcc: x", "A-1\rX: 1", "A-1\u2028X: 1",
              "A-1\x85X: 1", "A-1\x00X", "A-1\tX"]
HEADER_FIELDS = ("invoice_number", "school", "contract_number", "municipality", "location", "reason_text")


@pytest.mark.parametrize("letter_type,data", LETTERS, ids=[t for t, _ in LETTERS])
@pytest.mark.parametrize("injection", INJECTIONS[:2])
def test_no_message_type_has_a_subject_of_more_than_one_line(letter_type, data, injection):
    hostile = {k: (injection if k in HEADER_FIELDS else v) for k, v in data.items()}
    rendered = letter(letter_type, hostile, name=f"Zeynep {injection}")
    assert not LINE_BREAKS.search(rendered.subject), rendered.subject
    assert "<script>" not in rendered.body


@pytest.mark.parametrize("injection", INJECTIONS)
@pytest.mark.parametrize("fields", [
    {"type": "invoice_accepted", "invoice_number": "{x}"},
    {"type": "invoice_refused", "invoice_number": "{x}", "reason": "incomplete"},
    {"type": "course_hours_reported", "school": "{x}", "hours": 1, "listed": True, "period_from": "2024-01-01",
     "period_to": "2024-01-31"},
    {"type": "invoice_submitted", "school": "S", "invoice_number": "{x}", "contract_number": "C",
     "course_type": "I", "description": "d", "invoice_date": "2024-02-01", "period_from": "2024-01-01",
     "period_to": "2024-01-31", "courses": 1, "course_fee": "1.00", "materials_fee": "0.00", "exam_fee": "0.00"},
])
def test_header_text_with_a_line_break_or_control_character_is_refused_in_an_event(fields, injection):
    raw = {"date": "2024-02-01", "person": "p1", **{k: v.replace("{x}", injection) if isinstance(v, str) else v
                                                    for k, v in fields.items()}}
    with pytest.raises(ValueError) as refused:
        parse_event(raw)
    assert "line break or control character" in str(refused.value) or "control character" in str(refused.value)


@pytest.mark.parametrize("person", [
    {"bsn": "123456782", "name": "Amina\r\nBcc: x@evil.example"},
    {"bsn": "123456782", "name": "Amina", "email": "a@example.org\r\nBcc: x@evil.example"},
])
def test_a_name_or_address_with_a_line_break_is_refused_in_a_scenario_file(person):
    doc = {"scenario": "s", "from": "2020-01-01", "until": "2020-02-01", "people": {"p1": person}, "events": []}
    with pytest.raises(ScenarioError) as refused:
        parse_scenario(doc)
    assert "people.p1." in str(refused.value)


def test_what_was_stored_before_the_check_leaves_with_one_line_headers(monkeypatch):
    """A letter written before letters were kept as data (its subject stored), to a person
    whose name was registered before names were checked: the gateway gets one-line headers."""
    letter = SimpleNamespace(body="<p>x</p>", subject="Factuur A-1\r\nBcc: evil@example.org / Invoice A-1",
                             kind="email", type="invoice_not_paid", on_date=dt.date(2024, 3, 1), recipient="person",
                             journal_id=None)
    monkeypatch.setattr(dispatch, "letter_text", lambda session, letter: text_of(letter, {}))  # no case file needed
    row = SimpleNamespace(channel="email", case_id=7, payload={})
    person = SimpleNamespace(name="Amina\r\nBcc: x@evil.example", email="a@example.org", ref="p1")
    message = dispatch._message(None, row, letter, person)
    assert not LINE_BREAKS.search(message["subject"]) and not LINE_BREAKS.search(message["to"]["name"])
    assert message["subject"].startswith("Factuur A-1  Bcc") and message["to"]["email"] == "a@example.org"
