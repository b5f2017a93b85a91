"""Hostile scenario files: the cases a person or a fuzzer would try, generated for the tests.

`REFUSED` are files refused with exit 2, with the sentence that refuses them; `BSN_ECHOES`
put a BSN where a message might repeat it; `corpus()` adds files that are not text, markup,
and seeded mutations of the shared scenarios, each with the BSNs that must never be printed.
"""

from __future__ import annotations

import random
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

GOOD_BSN = "123456782"
OTHER_BSN = "111222333"  # passes the eleven-test too
HEAD = f"""\
scenario: bad input
from: 2020-01-01
until: 2020-03-31
people:
  p1: {{bsn: "{GOOD_BSN}", name: Amina Yusuf}}
events:
"""
EVENT = "  - {date: 2020-02-03, type: bsn_registered, person: p1}\n"
INTAKE = ("  - {date: 2020-02-03, type: residence_permit_granted, person: p1}\n"
          "  - {date: 2020-02-03, type: bsn_registered, person: p1}\n")


def policy_doc(text: str) -> str:
    return HEAD.replace("people:", f"policy:\n  {text}\npeople:") + EVENT


def person_doc(fields: str) -> str:
    return HEAD.replace("name: Amina Yusuf", f"name: Amina Yusuf, {fields}") + EVENT


def event_doc(fields: str) -> str:
    return HEAD + INTAKE + f"  - {{date: 2020-02-04, person: p1, {fields}}}\n"


# Files refused with exit 2, each with (a part of) the sentence that refuses it.
REFUSED = {
    "a second events key": (HEAD + EVENT + "events: []\n", "line 8: events: is given twice (first on line 6)"),
    "a duplicate field in an event": (
        HEAD + "  - {date: 2020-02-03, type: bsn_registered, person: p1, date: 2020-02-04}\n",
        "line 7: date: is given twice"),
    "a duplicate person": (HEAD.replace("events:", '  p1: {bsn: "111222333", name: K}\nevents:') + EVENT,
                           "line 6: p1: is given twice (first on line 5)"),
    "a duplicate policy key": (policy_doc("alfa_test_fee: \"1.00\"\n  alfa_test_fee: \"2.00\""),
                               "alfa_test_fee: is given twice"),
    "type as a list": (event_doc("type: [bsn_registered, residence_permit_granted]"),
                       "line 9, events[2].type: must be the name of one event type"),
    "type as a mapping": (event_doc("type: {a: 1}"), "events[2].type: must be the name of one event type"),
    "a notice of default on a fine": (event_doc("type: notice_of_default_received, case: fine"),
                                      "events[2].case: 'fine' is not allowed: use 'agi', 'extension', 'exemption' "
                                      "or 'objection'"),
    "an objection against a loan": (
        event_doc("type: objection_received, against: loan, decision_date: 2020-01-10, grounds: x"),
        "events[2].against: 'loan' is not allowed: use 'agi_decision', 'extension_decision', 'exemption_decision' "
        "or 'fine'"),
    "an objection against a decision on 30 February": (
        event_doc("type: objection_received, against: fine, decision_date: 2020-02-30, grounds: x"),
        "events[2].decision_date: '2020-02-30' is not a real calendar date"),
    "an objection without grounds": (
        event_doc('type: objection_received, against: fine, decision_date: 2020-01-10, grounds: "  "'),
        "events[2].grounds: is blank"),
    "an exemption on an unknown ground": (event_doc("type: exemption_application_received, ground: holiday"),
                                          "events[2].ground: 'holiday' is not allowed"),
    "a medical advice without its answer": (event_doc("type: medical_advice_received"),
                                            "events[2].exempt: is required but missing"),
    "money in exponent notation": (event_doc('type: loan_granted, amount: "1e30"'),
                                   "events[2].amount: '1e30' is not an amount; write it like \"250.00\""),
    "money too large": (event_doc('type: loan_granted, amount: "99999999999999999999.00"'),
                        "events[2].amount: '99999999999999999999.00' is too large: at most 1000000.00"),
    "money not a number": (event_doc('type: loan_granted, amount: "NaN"'), "'NaN' is not an amount"),
    "money with an underscore": (event_doc('type: loan_granted, amount: "1_000.00"'), "is not an amount"),
    "policy infinity": (policy_doc("wi2013_term_years: .inf"), "policy wi2013_term_years: inf is not valid"),
    "policy not a number": (policy_doc("invoice_quarter_cap: .nan"), "policy invoice_quarter_cap: nan is not valid"),
    "policy zero-day reminders": (policy_doc("invoice_reminder_after_days: 0"),
                                  "line 5, policy invoice_reminder_after_days: 0 is not valid: must be at least 1 day"),
    "policy negative cap": (policy_doc('invoice_quarter_cap: "-500.00"'),
                            "policy invoice_quarter_cap: '-500.00' is not valid: must be at least 0.00"),
    "policy a mapping": (policy_doc("invoice_excess: {defer: 1}"), "policy invoice_excess: a mapping is not valid"),
    "a date past 9999": (event_doc("type: bsn_registered, date: 10000-01-01").replace("date: 2020-02-04, ", ""),
                         "events[2].date: '10000-01-01' is not a date (write YYYY-MM-DD)"),
    "a date as a number": (event_doc("type: bsn_registered, date: 1583020800").replace("date: 2020-02-04, ", ""),
                           "events[2].date: 1583020800 is not a date (write YYYY-MM-DD)"),
    "an obligation start in 9999": (
        HEAD + "  - {date: 2020-02-03, type: residence_permit_granted, person: p1, obligation_start: 9999-01-01}\n",
        "events[0].obligation_start: 9999-01-01 is outside the dates this system takes (1900-01-01 .. 2100-12-31)"),
    "an exam date in 2200": (
        event_doc("type: exam_registered, part: knm, channel: online, exam_date: 2200-01-01, location: Zwolle"),
        "events[2].exam_date: 2200-01-01 is outside the dates"),
    "a born date in 1066": (person_doc("born: 1066-10-14"), "people.p1.born: 1066-10-14 is outside the dates"),
    "a period of 8000 years": (HEAD.replace("2020-01-01", "0001-01-01").replace("2020-03-31", "9999-12-31") + EVENT,
                               "from: 0001-01-01 is outside the dates this system takes"),
    "a period of 51 years": (HEAD.replace("2020-03-31", "2071-01-01") + EVENT,
                             "until: a scenario covers at most 50 years; from 2020-01-01 to 2071-01-01 is longer"),
    "deep nesting": (event_doc("type: municipality_registered, municipality: " + "[" * 5000 + "]" * 5000),
                     "is nested too deeply"),
    "an alias": (HEAD.replace("people:", "policy: &a {alfa_test_fee: \"1.00\"}\nx: *a\npeople:") + EVENT,
                 "line 5: anchors and aliases (&name, *name) are not supported"),
    "a hold ending before it starts": (HEAD + EVENT + "holds:\n  - {from: 2020-03-01, until: 2020-02-01}\n",
                                       "holds[0].until: 2020-02-01 is before from: 2020-03-01"),
    "an invalid e-mail": (person_doc("email: not-an-e-mail"), "people.p1.email: 'not-an-e-mail' is not a valid e-mail address"),
    "a municipality of spaces": (event_doc('type: municipality_registered, municipality: "   "'),
                                 "events[2].municipality: is blank"),
    "a blank name": (HEAD.replace("Amina Yusuf", '"  "') + EVENT, "people.p1.name: is blank"),
    "a blank scenario name": (HEAD.replace("scenario: bad input", 'scenario: " "') + EVENT, "scenario: is blank"),
    "a scenario name that is a list": (HEAD.replace("scenario: bad input", "scenario: [a, b]") + EVENT,
                                       "scenario: must be text"),
    "negative hours": (
        event_doc("type: agi_application_received, route: course, school_listed_at_course_start: true, "
                  "hours: {integration: -5}"), "events[2].hours.integration: must be at least 0, not -5"),
    "hours beyond reason": (
        event_doc("type: agi_application_received, route: course, school_listed_at_course_start: true, "
               "hours: {integration: 1000000000000}"), "events[2].hours.integration: 1000000000000 is too large"),
    # a person as the API's POST /v1/people checks one (issue 25: one model for both doors)
    "an e-mail with CRLF": (person_doc('email: "a@example.org\\r\\nBcc: x@evil.example"'),
                            "people.p1.email: 'a@example.org\\r\\nBcc: x@evil.example' is not a valid e-mail"),
    "an e-mail with a control character": (person_doc('email: "a@exam\\x07ple.org"'), "people.p1.email:"),
    "a name with a line break": (HEAD.replace("Amina Yusuf", '"Amina\\r\\nBcc: x@evil.example"') + EVENT,
                                 "people.p1.name: holds a line break or control character (U+000D)"),
    "a born date in 9999": (person_doc("born: 9999-12-31"), "people.p1.born: 9999-12-31 is outside the dates"),
    "a person key with a line break": (HEAD.replace("  p1:", '  "p1\\nX":') + EVENT.replace("p1", '"p1\\nX"'),
                                       "holds a line break or control character (U+000A)"),
    # text that goes into a message header (subjects, addresses)
    "an invoice number with CRLF": (event_doc('type: invoice_accepted, invoice_number: "A-1\\r\\nBcc: evil@example.org"'),
                                    "events[2].invoice_number: holds a line break or control character (U+000D)"),
    "an invoice number with a line separator": (
        event_doc('type: invoice_refused, reason: incomplete, invoice_number: "A-1\\u2028Bcc: x"'),
        "events[2].invoice_number: holds a line break or control character (U+2028)"),
    "a school with a tab": (event_doc('type: course_hours_reported, school: "Taalhuis\\tNoord", hours: 1, listed: true, '
                                      'period_from: 2020-01-01, period_to: 2020-01-31'),
                            "events[2].school: holds a line break or control character (U+0009)"),
}

DOTTED = f"{OTHER_BSN[:3]}.{OTHER_BSN[3:6]}.{OTHER_BSN[6:]}"
# A BSN as people also write it: with any separator between its groups, any kind of space.
SEPARATORS = ["-", "_", "/", ",", ".", " ", "\u00a0", "\u202f", "\u2007", ", "]


def written(bsn: str, separator: str) -> str:
    return separator.join((bsn[:3], bsn[3:6], bsn[6:]))


SEPARATED = [written(bsn, sep) for bsn in (GOOD_BSN, OTHER_BSN) for sep in SEPARATORS]

# Files that put a BSN where a message could repeat it: each is refused, and neither BSN
# (nor OTHER_BSN written with dots) is in what the command prints.
BSN_ECHOES = {
    "a BSN as the person's key": HEAD.replace("p1:", f"{GOOD_BSN}:") + EVENT.replace("p1", GOOD_BSN),
    "a BSN as a date": HEAD + EVENT.replace("2020-02-03", OTHER_BSN),
    "a BSN as a quoted date": HEAD + EVENT.replace("2020-02-03", f"'{OTHER_BSN}'"),
    "a BSN as a part": event_doc(f"type: exam_fee_paid, part: {OTHER_BSN}"),
    "a BSN with dots as a part": event_doc(f"type: exam_fee_paid, part: '{DOTTED}'"),
    "a BSN as a policy key": policy_doc(f"{OTHER_BSN}: 1"),
    "a BSN as a policy value": policy_doc(f"invoice_excess: {OTHER_BSN}"),
    "a BSN as a number of days": policy_doc(f"invoice_reminder_after_days: {OTHER_BSN}"),
    "a BSN as an amount": policy_doc(f"invoice_quarter_cap: '{OTHER_BSN}.00'"),
    "the person's BSN in a municipality": event_doc(f"type: municipality_registered, municipality: Utrecht {GOOD_BSN}"),
    "the person's BSN as an invoice number": event_doc(f"type: invoice_accepted, invoice_number: '{GOOD_BSN}'"),
    "the person's BSN in a hold": HEAD + EVENT + f"holds:\n  - {{from: 2020-03-01, reason: 'gateway {GOOD_BSN}'}}\n",
    "a BSN as an unknown person": HEAD + EVENT.replace("person: p1", f"person: '{OTHER_BSN}'"),
    "a BSN as the event type": HEAD + EVENT.replace("bsn_registered", OTHER_BSN),
    "a BSN as a field name": HEAD + EVENT.replace("person: p1", f"person: p1, {OTHER_BSN}: x"),
    "a BSN as the scenario name": HEAD.replace("scenario: bad input", f"scenario: '{OTHER_BSN}'") + EVENT,
    "a BSN as a number scenario name": HEAD.replace("scenario: bad input", f"scenario: {OTHER_BSN}") + EVENT,
    "a BSN as an e-mail address": person_doc(f"email: {OTHER_BSN}"),
    "a BSN as a birth date": person_doc(f"born: {OTHER_BSN}"),
    "a BSN as a hold's letters": HEAD + EVENT + f"holds:\n  - {{from: 2020-03-01, letters: '{OTHER_BSN}', "
                                                f"until: 2020-02-01}}\n",
    "a BSN as a top-level key": HEAD + EVENT + f"'{OTHER_BSN}': 1\n",
    "a BSN as a duplicate key": HEAD.replace("people:", f"'{OTHER_BSN}': 1\n'{OTHER_BSN}': 2\npeople:") + EVENT,
    "a BSN as the first day": HEAD.replace("from: 2020-01-01", f"from: {OTHER_BSN}") + EVENT,
    "a BSN as an amount in an event": event_doc(f"type: loan_granted, amount: '{OTHER_BSN}'"),
    "a BSN as a number of hours": event_doc(
        "type: agi_application_received, route: course, school_listed_at_course_start: true, "
        f"hours: {{integration: {OTHER_BSN}}}"),
    "the person's BSN in a YAML error": HEAD + EVENT + f"  - {{date: {GOOD_BSN}, [\n",
    **{f"a BSN written with {sep!r} as the person's key": HEAD.replace("p1:", f"'{written(GOOD_BSN, sep)}':")
       + EVENT.replace("p1", f"'{written(GOOD_BSN, sep)}'") for sep in SEPARATORS},
    **{f"the person's BSN written with {sep!r} in a municipality": event_doc(
        f"type: municipality_registered, municipality: 'Utrecht {written(GOOD_BSN, sep)}'") for sep in SEPARATORS},
    **{f"a BSN written with {sep!r} as a field name": HEAD + EVENT.replace(
        "person: p1", f"person: p1, '{written(OTHER_BSN, sep)}': x") for sep in SEPARATORS},
    **{f"a BSN written with {sep!r} as a part": event_doc(f"type: exam_fee_paid, part: '{written(OTHER_BSN, sep)}'")
       for sep in SEPARATORS},
}


@dataclass(frozen=True)
class Case:
    """One hostile file: its bytes, the BSNs never to be printed, the command's extra arguments."""

    name: str
    data: bytes
    secrets: frozenset[str]
    args: tuple[str, ...] = ("--json",)


def _text(name: str, text: str, *extra_secrets: str, args: tuple[str, ...] = ("--json",)) -> Case:
    return Case(name, textwrap.dedent(text).encode(), frozenset({GOOD_BSN, OTHER_BSN, DOTTED, *SEPARATED,
                                                                 *extra_secrets}), args)


def _raw(name: str, data: bytes) -> Case:
    return Case(name, data, frozenset({GOOD_BSN}))


VALID = HEAD + EVENT
MARKUP = "[link=https://example.org]click[/link] [/x] [bold red]x :smile:"


def _more() -> list[Case]:
    """Categories beyond REFUSED and BSN_ECHOES: encodings, sizes, YAML tricks, markup."""
    cases = [
        _raw("latin-1", VALID.replace("Amina", "Améla").encode("latin-1")),
        _raw("utf-16 with a BOM", VALID.encode("utf-16")),
        _raw("utf-16-be", VALID.encode("utf-16-be")),
        _raw("utf-32", VALID.encode("utf-32")),
        _raw("binary", random.Random(1).randbytes(4096)),
        _raw("binary without NUL", bytes(b or 1 for b in random.Random(2).randbytes(4096))),
        _raw("a PNG header", b"\x89PNG\r\n\x1a\n" + bytes(100)),
        _raw("a NUL in the middle", VALID.encode().replace(b"Amina", b"Am\x00ina")),
        _raw("an empty file", b""),
        _raw("a comment only", b"# nothing here\n"),
        _raw("a UTF-8 BOM", b"\xef\xbb\xbf" + VALID.encode()),
        _raw("a lone surrogate escape", VALID.replace("Amina Yusuf", '"Amina \\ud800"').encode()),
        _raw("a NUL escape", (HEAD + INTAKE).encode()
             + b'  - {date: 2020-02-04, type: municipality_registered, person: p1, municipality: "Ut\\0recht"}\n'),
        _raw("an escape character", (HEAD + INTAKE).encode()
             + b'  - {date: 2020-02-04, type: municipality_registered, person: p1, municipality: "\\e[31mred"}\n'),
        _raw("a control character", VALID.replace("Amina Yusuf", "Amina\x07Yusuf").encode()),
        _raw("a top-level list", b"- a\n- b\n"),
        _raw("a top-level number", b"42\n"),
        _raw("two documents", (VALID + "---\n" + VALID).encode()),
        _raw("a tab indent", VALID.replace("  p1", "\tp1").encode()),
        _raw("a python tag", VALID.replace("Amina Yusuf", "!!python/object/apply:os.system ['true']").encode()),
        _raw("a binary tag", (HEAD + INTAKE).encode()
             + b"  - {date: 2020-02-04, type: municipality_registered, person: p1, municipality: !!binary AAAA}\n"),
        _raw("a set tag", VALID.replace("events:\n", "events: !!set {a, b}\n").encode()),
        _raw("a timestamp tag", VALID.replace("date: 2020-02-03", "date: !!timestamp 2020-02-03T10:00:00").encode()),
        _raw("a merge key", VALID.replace("  p1: {", "  p1: {<<: {email: a@example.org}, ").encode()),
        _raw("a key that is a list", VALID.replace("people:", "? [a, b]\n: 1\npeople:").encode()),
        _raw("a 5000-digit number", (HEAD + INTAKE).encode()
             + b"  - {date: 2020-02-04, type: loan_granted, person: p1, amount: " + b"9" * 5000 + b"}\n"),
        _raw("a 5000-digit date", VALID.replace("date: 2020-02-03", "date: " + "2" * 5000).encode()),
        _raw("a 10000-deep list", VALID.replace("events:\n", "events: " + "[" * 10000 + "]" * 10000 + "\n"
                                                ).replace(EVENT, "").encode()),
        _raw("a 10000-deep mapping", VALID.replace("events:\n", "events: " + "{a: " * 10000 + "1" + "}" * 10000
                                                   + "\n").replace(EVENT, "").encode()),
        _raw("a billion laughs", (HEAD.replace("events:\n", "") + "x: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
                                  + "".join(f"x{i}: &a{i} [{', '.join([f'*a{i - 1}' if i > 1 else '*a'] * 9)}]\n"
                                            for i in range(1, 10)) + "events: []\n").encode()),
        _raw("an 11 MB file", VALID.encode() + b"# " + b"x" * (11 * 1024 * 1024) + b"\n"),
        _raw("a 600-character municipality", (HEAD + INTAKE).encode()
             + b"  - {date: 2020-02-04, type: municipality_registered, person: p1, municipality: " + b"x" * 600 + b"}\n"),
        _raw("a 300-character name", VALID.replace("Amina Yusuf", "A" * 300).encode()),
        _raw("an unknown top-level field", (VALID + "colour: blue\n").encode()),
        _raw("no people", VALID.replace(f'  p1: {{bsn: "{GOOD_BSN}", name: Amina Yusuf}}\n', "").encode()),
        _raw("people as a list", VALID.replace("people:\n  p1:", "people:\n  - p1:").encode()),
        _raw("events as a mapping", (HEAD.replace("events:\n", "events: {a: 1}\n")).encode()),
        _raw("an event as a list", (HEAD + "  - [2020-02-03, bsn_registered, p1]\n").encode()),
        _raw("an event as null", (HEAD + "  -\n").encode()),
        _raw("a person as a string", VALID.replace(f'{{bsn: "{GOOD_BSN}", name: Amina Yusuf}}', "Amina").encode()),
        _raw("a person key as a number", VALID.replace("p1:", "1:").replace("person: p1", "person: 1").encode()),
        _raw("a bsn as a number", VALID.replace(f'"{GOOD_BSN}"', GOOD_BSN).encode()),
        _raw("a bsn failing the eleven-test", VALID.replace(GOOD_BSN, "123456789").encode()),
        _raw("a bsn of letters", VALID.replace(GOOD_BSN, "abcdefghi").encode()),
        _raw("two people with one BSN", VALID.replace("events:", f'  p2: {{bsn: "{GOOD_BSN}", name: K}}\nevents:'
                                                      ).encode()),
        _raw("until before from", VALID.replace("until: 2020-03-31", "until: 2019-03-31").encode()),
        _raw("from 0001 to 9999", VALID.replace("2020-01-01", "0001-01-01").replace("2020-03-31", "9999-12-31")
             .encode()),
        _raw("from 1900 to 2100", VALID.replace("2020-01-01", "1900-01-01").replace("2020-03-31", "2100-12-31")
             .encode()),
        _raw("a datetime as a date", VALID.replace("date: 2020-02-03", "date: '2020-02-03T10:00:00'").encode()),
        _raw("a date without leading zeros", VALID.replace("date: 2020-02-03", "date: 2020-2-3").encode()),
        _raw("a date in words", VALID.replace("date: 2020-02-03", "date: yesterday").encode()),
        _raw("a type as null", VALID.replace("type: bsn_registered", "type: null").encode()),
        _raw("a type as a number", VALID.replace("type: bsn_registered", "type: 7").encode()),
        _raw("a missing type", VALID.replace("type: bsn_registered, ", "").encode()),
        _raw("passed as maybe", (HEAD + INTAKE + "  - {date: 2020-02-04, type: exam_result, person: p1, part: knm, "
                                 "passed: maybe}\n").encode()),
        _raw("hours as a list", (HEAD + INTAKE + "  - {date: 2020-02-04, type: agi_application_received, "
                                 "person: p1, route: course, school_listed_at_course_start: true, hours: [1, 2]}\n"
                                 ).encode()),
        _raw("attempts for an unknown part", (HEAD + INTAKE + "  - {date: 2020-02-04, type: agi_application_received, "
                                              "person: p1, route: course, school_listed_at_course_start: true, "
                                              "hours: {integration: 600}, attempts: {typen: {integration: 1}}}\n"
                                              ).encode()),
        _raw("infinite hours", (HEAD + INTAKE + "  - {date: 2020-02-04, type: agi_application_received, "
                                "person: p1, route: course, school_listed_at_course_start: true, "
                                "hours: {integration: .inf}}\n").encode()),
        _raw("a float amount", (HEAD + INTAKE + "  - {date: 2020-02-04, type: loan_granted, person: p1, "
                                "amount: 12.5}\n").encode()),
        _raw("an amount with a comma", (HEAD + INTAKE + "  - {date: 2020-02-04, type: loan_granted, person: p1, "
                                        "amount: '1,000.00'}\n").encode()),
        _raw("an empty amount", (HEAD + INTAKE + "  - {date: 2020-02-04, type: loan_granted, person: p1, "
                                 "amount: ''}\n").encode()),
        _raw("a hex amount", (HEAD + INTAKE + "  - {date: 2020-02-04, type: loan_granted, person: p1, "
                              "amount: '0x10'}\n").encode()),
        _raw("policy as a list", policy_doc("").replace("policy:\n  \n", "policy: [1, 2]\n").encode()),
        _raw("policy minus infinity", policy_doc("agi_min_term_years: -.inf").encode()),
        _raw("policy years as text", policy_doc("wi2013_term_years: three").encode()),
        _raw("policy an empty register", policy_doc("invoice_school_register: []").encode()),
        _raw("policy parts empty", policy_doc("agi_attempt_parts: ''").encode()),
        _raw("policy a huge number", policy_doc("invoice_reminders_max: 99999999999999999999").encode()),
        _raw("policy a date in 9999", policy_doc("wi2013_pvt_required_from: 9999-12-31").encode()),
        _raw("an invalid e-mail with markup", VALID.replace("name: Amina Yusuf",
                                                            "name: Amina Yusuf, email: '[/x]@[/y]'").encode()),
        _raw("an e-mail without a domain", VALID.replace("name: Amina Yusuf", "name: Amina Yusuf, email: a@").encode()),
        _raw("holds as a mapping", (VALID + "holds: {from: 2020-01-01}\n").encode()),
        _raw("a hold with an unknown field", (VALID + "holds:\n  - {from: 2020-01-01, colour: blue}\n").encode()),
        _raw("a hold of blank letters", (VALID + "holds:\n  - {from: 2020-01-01, letters: ' '}\n").encode()),
        _raw("a reason_text of spaces", (HEAD + INTAKE + "  - {date: 2020-02-04, type: invoice_refused, person: p1, "
                                         "invoice_number: A1, reason: other, reason_text: '   '}\n").encode()),
    ]
    markup = [
        _text("markup in the scenario name", VALID.replace("scenario: bad input", f"scenario: '{MARKUP}'"), args=()),
        _text("markup as a person key", VALID.replace("p1", "'[/x]'"), args=()),
        _text("markup in a municipality", HEAD + INTAKE + "  - {date: 2020-02-04, type: municipality_registered, "
              f"person: p1, municipality: '{MARKUP}'}}\n", args=()),
        _text("markup in a rejected event", HEAD + "  - {date: 2020-02-03, type: pip_established, person: '[/x]', "
              "route: b1}\n", args=()),
        _text("markup in a refusal", HEAD + EVENT.replace("person: p1", "person: '[/x]'"), args=()),
        _text("markup in an unknown type", HEAD + EVENT.replace("bsn_registered", "'[/x]'"), args=()),
    ]
    return cases + markup


# Values a fuzzer puts in place of a field's value.
FUZZ_VALUES = [
    "''", "'   '", "[]", "{}", "null", ".nan", ".inf", "-.inf", "1e30", "'1e30'", "'99999999999999999999.00'",
    "9999-12-31", "0001-01-01", "10000-01-01", "2020-02-30", "-1", "0", "9" * 40, "'[/x]'", f"'{MARKUP}'",
    "'" + "x" * 600 + "'", "true", '"\\ud800"', "!!binary AAAA", '"a\\0b"', "[" * 20 + "]" * 20,
    "'2020-01-01T10:00:00'", "1583020800", "'-0.01'", "*a", "&a x", "{a: {b: {c: [1, {d: 2}]}}}",
]
_FIELD = re.compile(r"(?<=[{,] )([a-z_]+): ([^,{}\n]+)|^(\s*[a-z_]+): (.+)$", re.M)


def _mutate(text: str, rng: random.Random, secrets: list[str]) -> str:
    lines = text.splitlines(keepends=True)
    op = rng.randrange(9)
    i = rng.randrange(len(lines))
    if op == 0:  # delete a line
        del lines[i]
    elif op == 1:  # a line twice (a duplicate key or event)
        lines.insert(i, lines[i])
    elif op == 2 and i + 1 < len(lines):  # swap two lines
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    elif op == 3:  # cut the file short
        return text[:rng.randrange(len(text))]
    elif op == 4:  # a random byte
        data = bytearray(text.encode())
        data[rng.randrange(len(data))] = rng.randrange(256)
        return data.decode("utf-8", errors="surrogateescape")
    elif op == 5:  # indentation off by one level
        lines[i] = ("  " + lines[i]) if rng.random() < 0.5 else lines[i].lstrip()
    else:  # a field's value replaced: by a hostile value or by one of the file's BSNs
        fields = list(_FIELD.finditer(text))
        match = rng.choice(fields)
        value = rng.choice(FUZZ_VALUES + [f"'{s}'" for s in secrets])
        group = 2 if match.group(2) is not None else 4
        return text[:match.start(group)] + value + text[match.end(group):]
    return "".join(lines)


def _mutations(shared: Path, per_file: int) -> list[Case]:
    rng = random.Random(15)
    cases = []
    for path in sorted(shared.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        secrets = sorted(set(re.findall(r'bsn: "(\d+)"', text)))
        for n in range(per_file):
            mutated = _mutate(text, rng, secrets)
            cases.append(Case(f"{path.stem} mutation {n}", mutated.encode("utf-8", errors="surrogateescape"),
                              frozenset(secrets)))
    return cases


def corpus(shared: Path, per_file: int = 16) -> list[Case]:
    """Every hostile case: REFUSED, BSN_ECHOES, the other categories and seeded mutations of
    the shared scenarios (the same files on every run)."""
    return ([_text(name, text) for name, (text, _) in REFUSED.items()]
            + [_text(name, text) for name, text in BSN_ECHOES.items()]
            + _more() + _mutations(shared, per_file))


# ---- the commands: every date and number an operator may mistype (issue 25) -----------------------

_DAYS = ["9999-12-31", "2031-01-01", "", " ", "yesterday", "2021-02-30", "0001-01-01", "10000-01-01", "2024-1-1",
         OTHER_BSN, written(OTHER_BSN, "-"), "[/x]", "2024-02-01T10:00"]
_NUMBERS = ["-5", "0", "abc", "1e3", "99999999999999999999999", OTHER_BSN, "", "1.5"]
CLI_CASES: list[tuple[str, ...]] = [
    *[(command, "--as-of", day) for command in ("monitor", "ingest") for day in _DAYS],
    *[("migrate", "--down-to", rev) for rev in ("", "../../etc/passwd", OTHER_BSN, "0099", "[/x]", " ")],
    *[("api", "--port", n) for n in (*_NUMBERS, "70000", "65536")],
    *[("api", "--workers", n) for n in _NUMBERS],
    *[("bench", option, n) for option in ("--journeys", "--years") for n in _NUMBERS],
    *[("bench", "--seed", n) for n in _NUMBERS if n not in ("0", OTHER_BSN)],  # (those would run the benchmark)
    *[("loan", ref) for ref in (OTHER_BSN, written(OTHER_BSN, "-"), written(OTHER_BSN, "\u00a0"), "[/x]", "")],
    *[("incidents", "retry", n) for n in ("-5", "abc", "99999999999999999999999")],
    ("incidents", "close", "-5", "--resolution", "x"), ("incidents", "--kind", "[/x]"),
    ("cases", "--process", OTHER_BSN), ("cases", "--process", "[/x]"),
    *[("sources", "add", name, "--kind", "ind") for name in (OTHER_BSN, written(OTHER_BSN, "."), "a\r\nb", "")],
    ("sources", "add", "s1", "--kind", "school", "--school", "Taalhuis\r\nBcc: x"),
    *[("sources", "revoke", name) for name in (OTHER_BSN, written(OTHER_BSN, "_"), "[/x]")],
]
CLI_SECRETS = frozenset({OTHER_BSN, *SEPARATED})


# ---- the inbound API: people, ids, separators, header text (issue 25) -------------------------------

API_PERSON = {"ref": "p9", "bsn": "100000009", "name": "Lena Petrova", "email": "lena@example.org", "born": "1985-04-12"}
API_INVOICE = {"type": "invoice_submitted", "school": "Taalhuis Noord", "invoice_number": "TN-1", "contract_number": "C",
               "course_type": "Inburgering", "description": "lessen", "invoice_date": "2024-02-01",
               "period_from": "2024-01-01", "period_to": "2024-01-31", "courses": 1, "course_fee": "100.00",
               "materials_fee": "0.00", "exam_fee": "0.00"}
HEADER_TEXT = ["A-1\r\nBcc: evil@example.org\r\nX-Injected: 1<script>", "A-1\nX: 1", "A-1\u2028X", "A-1\x85X",
               "A-1\x1b[31m", "A-1\tX"]


def _api_event(**fields: object) -> dict:
    return {"id": "h-1", "date": "2024-02-01", "person": "p1", **fields}


# (name, source, path, body): each answered 4xx in the error shape, never 5xx, never a BSN in any writing
API_CASES: list[tuple[str, str, str, object]] = [
    *[(f"a person's e-mail {v!r}", "brp", "/v1/people", {**API_PERSON, "email": v}) for v in (
        "a@example.org\r\nBcc: x@evil.example", "a@example.org\x07", "a@example.org\n", f"{OTHER_BSN}@x.org x")],
    *[(f"a person's name {v!r}", "brp", "/v1/people", {**API_PERSON, "name": v}) for v in ("", "  ", *HEADER_TEXT)],
    *[(f"a person's ref {v!r}", "brp", "/v1/people", {**API_PERSON, "ref": v}) for v in ("", "  ", "p\r\n9",
                                                                                        *SEPARATED)],
    *[(f"a person born {v!r}", "brp", "/v1/people", {**API_PERSON, "born": v}) for v in (
        "9999-12-31", "1066-10-14", "2021-02-30", OTHER_BSN, 1583020800)],
    *[(f"a person's bsn {v!r}", "brp", "/v1/people", {**API_PERSON, "bsn": v}) for v in (
        "100000008", "12345678901", "100-000-00", 100000009)],
    *[(f"an id {v!r}", "ind", "/v1/events", _api_event(id=v, type="residence_permit_granted"))
      for v in (*SEPARATED, f"ind-{written(OTHER_BSN, '.')}", f"ind:{written(OTHER_BSN, '_')}")],
    *[(f"a field name {v!r}", "ind", "/v1/events", _api_event(type="residence_permit_granted", **{v: 1}))
      for v in SEPARATED],
    *[(f"a person {v!r}", "ind", "/v1/events", _api_event(type="residence_permit_granted", person=v))
      for v in SEPARATED],
    *[(f"an invoice number {v!r}", "school", "/v1/events", _api_event(**{**API_INVOICE, "invoice_number": v}))
      for v in HEADER_TEXT],
    *[(f"a school {v!r}", "school", "/v1/events", _api_event(**{**API_INVOICE, "school": v})) for v in HEADER_TEXT],
    *[(f"a refused invoice {v!r}", "portal", "/v1/events", _api_event(type="invoice_refused", invoice_number=v,
                                                                       reason="incomplete")) for v in HEADER_TEXT],
    *[(f"an amount {v!r}", "payments", "/v1/events", _api_event(type="loan_granted", amount=v))
      for v in ("12.3", "12", 12, "12.345", "1e3", f"{OTHER_BSN}.00", written(OTHER_BSN, ","))],
    ("a declaration for a person the school does not teach", "school", "/v1/events",
     _api_event(type="school_declaration_received")),
]
