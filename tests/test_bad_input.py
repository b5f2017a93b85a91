"""Bad input is refused with a message a person can act on; nothing runs; no BSN is echoed."""

from __future__ import annotations

import json
import textwrap

import pytest
from typer.testing import CliRunner

from inburgering.cli import app
from inburgering.domain.bsn import BSN_REMOVED
from tests.hostile_corpus import (BSN_ECHOES, DOTTED, EVENT, GOOD_BSN, HEAD, INTAKE, OTHER_BSN, REFUSED, SEPARATED,
                                  event_doc)


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
         "events[0].colour: is not a known field (check the spelling)"),
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


# ---- hostile files (tests/hostile_corpus.py): refused with exit 2 and a sentence naming the line or field


@pytest.mark.parametrize("name", REFUSED)
def test_hostile_file_exits_2_with_a_sentence(tmp_path, name):
    text, expected = REFUSED[name]
    result = run(tmp_path, text, "--json")
    output = result.output.replace("\n", " ")
    assert result.exit_code == 2, output
    assert expected in output
    assert "Traceback" not in output and result.stdout == ""


@pytest.mark.parametrize("data, expected", [
    ("Amina Yusuf é".encode("latin-1"), "line 5: the file is not UTF-8 text (byte 0xe9 cannot be read)"),
    ("Amina Yusuf".encode("utf-16"), "not UTF-8 text"),
    ("Amina Yusuf".encode("utf-16-le"), "the file contains NUL bytes: it is UTF-16 or binary"),
    (bytes(range(1, 256)) * 4, "not UTF-8 text"),
])
def test_a_file_that_is_not_utf8_text_exits_2(tmp_path, data, expected):
    path = tmp_path / "scenario.yaml"
    path.write_bytes((HEAD + EVENT).encode("utf-8").replace(b"Amina Yusuf", data))
    result = CliRunner().invoke(app, ["scenario", "run", str(path), "--json"])
    assert result.exit_code == 2 and expected in result.output and "Traceback" not in result.output


def test_a_utf8_file_with_a_byte_order_mark_runs(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (HEAD + EVENT).encode())
    assert CliRunner().invoke(app, ["scenario", "run", str(path), "--json"]).exit_code == 0


@pytest.mark.parametrize("name", BSN_ECHOES)
def test_a_bsn_anywhere_in_a_bad_file_is_never_echoed(tmp_path, name):
    result = run(tmp_path, BSN_ECHOES[name], "--json")
    assert result.exit_code == 2, result.output
    assert GOOD_BSN not in result.output and OTHER_BSN not in result.output and DOTTED not in result.output
    assert not [form for form in SEPARATED if form in result.output]  # in any writing (issue 25)


def test_an_unknown_invoice_number_that_passes_the_eleven_test_is_masked_in_the_rejection(tmp_path):
    result = run(tmp_path, event_doc(f"type: invoice_accepted, invoice_number: '{OTHER_BSN}'"), "--json")
    assert result.exit_code == 0
    [rejected] = json.loads(result.stdout)["rejected"]
    assert OTHER_BSN not in rejected["reason"] and BSN_REMOVED in rejected["reason"]


def test_a_50_year_scenario_runs(tmp_path):
    result = run(tmp_path, HEAD.replace("2020-03-31", "2069-12-31") + INTAKE
                 + "  - {date: 2069-12-01, type: municipality_registered, person: p1, municipality: Zwolle}\n", "--json")
    assert result.exit_code == 0
    assert [(e["date"], e["type"]) for e in json.loads(result.stdout)["timeline"]][0] == ("2069-12-01", "start_letter")


def test_table_output_prints_input_as_text_not_markup(tmp_path):
    text = (HEAD.replace("scenario: bad input", "scenario: '[link=https://example.org]click[/link] [/x]'")
            .replace("p1", "'[/x]'") + INTAKE.replace("p1", "'[/x]'")
            + "  - {date: 2020-02-03, type: pip_established, person: '[/x]', route: b1}\n")
    result = run(tmp_path, text)
    assert result.exit_code == 0, result.output
    assert "[link=https://example.org]click[/link]" in result.stdout  # the title, as written
    assert "│ [/x]" in result.stdout  # the person column of the rejected event


def test_loan_and_cases_print_input_as_text_not_markup(tmp_path, monkeypatch):
    from tests.scenario_helpers import make_scenario, replay

    school = "[/x] [link=https://example.org]Taalhuis[/link]"
    events = [{"date": "2022-04-01", "type": "loan_granted", "person": "p1", "amount": "10000.00"},
              {"date": "2022-04-04", "type": "invoice_submitted", "person": "p1", "school": school,
               "invoice_number": "[/y]", "contract_number": "C-1", "course_type": "Inburgering",
               "description": "lessen", "invoice_date": "2022-04-04", "period_from": "2022-03-01",
               "period_to": "2022-03-31", "courses": 10, "course_fee": "250.00", "materials_fee": "0.00",
               "exam_fee": "0.00"}]
    url = f"sqlite:///{tmp_path / 'case.db'}"
    replay(make_scenario(events, start="2022-04-01", until="2022-04-10"), database_url=url)
    monkeypatch.setenv("INBURGERING_DATABASE_URL", url)
    loan = CliRunner().invoke(app, ["loan", "p1"])
    assert loan.exit_code == 0, loan.output
    assert "[/y]" in loan.stdout and "[/x]" in loan.stdout and "[link=" in loan.stdout
    cases = CliRunner().invoke(app, ["cases"])
    assert cases.exit_code == 0, cases.output
    unknown = CliRunner().invoke(app, ["loan", f"[/x] {GOOD_BSN}"])
    assert unknown.exit_code == 2 and "[/x]" in unknown.stderr and GOOD_BSN not in unknown.output
