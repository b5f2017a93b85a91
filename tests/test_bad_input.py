"""Bad input is refused with a message a person can act on; nothing runs; no BSN is echoed."""

from __future__ import annotations

import json
import textwrap

import pytest
from typer.testing import CliRunner

from inburgering.cli import app

GOOD_BSN = "123456782"
HEAD = f"""\
scenario: bad input
from: 2020-01-01
until: 2020-03-31
people:
  p1: {{bsn: "{GOOD_BSN}", name: Amina Yusuf}}
events:
"""


def run(tmp_path, text: str, *args: str):
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text))
    return CliRunner().invoke(app, ["scenario", "run", str(path), *args])


@pytest.mark.parametrize(
    "events, expected",
    [
        ("  - {date: 2020-02-30, type: bsn_registered, person: p1}\n",
         "line 7, events[0].date: '2020-02-30' is not a real calendar date"),
        ("  - {date: 2020-02-03, type: bsn_registred, person: p1}\n",
         "line 7, events[0].type: unknown event type 'bsn_registred'"),
        ("  - {date: 2020-02-03, type: municipality_registered, person: p1}\n",
         "line 7, events[0].municipality: is required but missing"),
        ("  - {date: 2020-02-03, type: bsn_registered, person: p2}\n",
         "line 7, events[0].person: 'p2' is not one of the people in this file (p1)"),
        ("  - {date: 2020-02-03, type: bsn_registered, person: p1, colour: blue}\n",
         "events[0].colour: is not a field of this event type"),
        ("  - {date: 2021-02-03, type: bsn_registered, person: p1}\n",
         "events[0].date: 2021-02-03 is outside the simulated days 2020-01-01 .. 2020-03-31"),
        ("  - {date: 2020-02-03, type: invoice_refused, person: p1, invoice_number: A1, reason: other}\n",
         "reason 'other' needs a reason_text"),
        ("  - {date: 2020-02-03, type: loan_granted, person: p1, amount: \"12.345\"}\n",
         "events[0].amount: '12.345' has more than two decimals"),
    ],
)
def test_malformed_event_exits_2_naming_line_and_field(tmp_path, events, expected):
    result = run(tmp_path, HEAD + events, "--json")
    assert result.exit_code == 2
    assert expected in result.output.replace("\n", " ")
    assert result.stdout == "" or not result.stdout.startswith("{")  # no timeline printed


@pytest.mark.parametrize(
    "bsn, expected",
    [("123456789", "fails the eleven-test"), ("1234567", "a BSN has 9 digits; this one has 7"),
     ("12345678901", "a BSN has 9 digits; this one has 11")],
)
def test_invalid_bsn_is_refused_without_echoing_it(tmp_path, bsn, expected):
    text = HEAD.replace(GOOD_BSN, bsn) + "  - {date: 2020-02-03, type: bsn_registered, person: p1}\n"
    result = run(tmp_path, text)
    assert result.exit_code == 2
    assert "line 5, people.p1.bsn" in result.output and expected in result.output
    assert bsn not in result.output


def test_two_people_with_one_bsn_is_refused(tmp_path):
    text = HEAD + "  - {date: 2020-02-03, type: bsn_registered, person: p1}\n"
    text = text.replace("events:", f'  p2: {{bsn: "{GOOD_BSN}", name: Karim Haddad}}\nevents:')
    result = run(tmp_path, text)
    assert result.exit_code == 2 and "the same BSN as person p1" in result.output
    assert GOOD_BSN not in result.output


def test_unknown_policy_key_and_bad_policy_value_are_refused(tmp_path):
    unknown = run(tmp_path, HEAD.replace("people:", "policy: {invoice_cap: \"1.00\"}\npeople:"))
    assert unknown.exit_code == 2 and "unknown policy key 'invoice_cap'" in unknown.output
    bad = run(tmp_path, HEAD.replace("people:", "policy: {invoice_excess: postpone}\npeople:"))
    assert bad.exit_code == 2 and "must be one of defer, refuse" in bad.output


def test_not_yaml_and_missing_file_exit_2(tmp_path):
    assert run(tmp_path, "scenario: [unclosed\n").exit_code == 2
    result = CliRunner().invoke(app, ["scenario", "run", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "cannot be read" in result.output


def test_a_valid_file_with_a_refused_event_exits_0_and_lists_it(tmp_path):
    events = ("  - {date: 2020-02-03, type: pip_established, person: p1, route: b1}\n"
              "  - {date: 2020-02-04, type: bsn_registered, person: p1}\n")
    result = run(tmp_path, HEAD + events, "--json")
    assert result.exit_code == 0
    output = json.loads(result.stdout)
    assert output["rejected"] == [{"date": "2020-02-03", "person": "p1", "event": 0,
                                   "reason": output["rejected"][0]["reason"]}]
    assert "PIP" in output["rejected"][0]["reason"]
    assert GOOD_BSN not in result.stdout
