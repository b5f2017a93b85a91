"""Letters as the person reads them: Dutch and English dates and amounts, escaping,
a misspelt field is an error, and the fast renderer gives exactly what plain Jinja2
renders from the same templates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from jinja2 import Environment, PackageLoader, StrictUndefined, UndefinedError, select_autoescape

from inburgering.letters import render as letters
from inburgering.letters.render import Rendered, UnknownTemplate, render

ON = dt.date(2024, 3, 5)
TEMPLATES = Path(letters.__file__).parent / "templates"

REQUIREMENTS = {"min_hours": 600, "min_integration_hours_for_alfa": 200, "min_alfa_hours": 300, "min_attempts": 4,
                "max_nt2_attempts_per_part": 2, "attempt_parts": ["lezen", "luisteren", "schrijven", "spreken", "knm"]}
AGI = {"reasons": ["course_hours", "school_listed", "exam_attempts", "alfa_route_hours", "alfa_course_hours",
                   "alfa_test_active", "staff_assessment", "a <new> rule"],
       "applied_on": "2023-03-29", "staff_reason": 'Zie de "brief" <b>& co</b>',
       "hours": {"integration": 450, "nt2": 180, "alfa": 12}, "counted_hours": 630,
       "parts_short_of_attempts": [{"part": "knm", "counted": 3}, {"part": "spreken", "counted": 1}],
       "requirements": REQUIREMENTS, "decision": "refused", "hardship": True, "objection_until": "2023-06-09"}
INVOICE = {"invoice_number": "F-j1275-1-0", "total": "900.00", "school": "Taalhuis <Noord> & Zn",
           "invoice_date": "2023-04-06", "contract_number": "C-j1275"}

# At least one letter of every template, with the branches the engine's data takes.
LETTERS = [
    ("start_letter", {"regime": "wi2013", "start_date": "2021-07-20", "term_end": "2024-07-22",
                      "municipality": "Rotterdam"}),
    ("start_letter", {"regime": "wi2021", "start_date": "2022-01-01", "term_end": None}),
    ("start_letter", {"regime": "voluntary", "municipality": "'s-Hertogenbosch"}),
    ("term_established", {"route": "onderwijs", "pip_on": "2023-02-05", "term_end": "2026-02-06"}),
    ("exam_invitation", {"part": "knm", "exam_date": "2023-05-11", "location": "Rotterdam", "level": None,
                         "channel": "form", "fee": "50.00", "fee_paid_on": "2023-02-22", "corrected": False,
                         "previous_exam_date": None, "previous_location": None}),
    ("exam_invitation", {"part": "spreken", "exam_date": dt.date(2023, 5, 11), "location": "Den Haag",
                         "level": "B1", "channel": "online", "fee": Decimal("290"), "fee_paid_on": None,
                         "corrected": True, "previous_exam_date": "2023-04-01", "previous_location": "Utrecht"}),
    ("exam_cancellation", {"part": "ona", "exam_date": "2024-12-31", "location": "Zwolle"}),
    ("diploma", {"regime": "wi2021", "parts": [{"part": "lezen", "passed_on": "2024-07-02"},
                                               {"part": "knm", "passed_on": "2023-11-25"}],
                 "obligation_met_on": "2024-09-11", "participation_statement_outstanding": False}),
    ("diploma", {"regime": "wi2013", "parts": [{"part": "lezen", "passed_on": "2020-06-02"}],
                 "obligation_met_on": None, "participation_statement_outstanding": True}),
    ("invoice_waiting", INVOICE),
    ("invoice_reminder", {**INVOICE, "waiting_since": "2023-04-06"}),
    ("invoice_refused_to_school", {**INVOICE, "reason": "other", "reason_text": "lessen <niet> gegeven"}),
    ("invoice_refused_to_school", {**INVOICE, "reason": "quarter_cap_exceeded", "quarter_cap": "2500.00",
                                   "quarter": "2023-Q2", "room": "0.00"}),
    ("invoice_refused_to_school", {**INVOICE, "reason": "quarter_cap_exceeded", "quarter_cap": "2000.00",
                                   "quarter": "2022-Q2", "room": "600.00", "amount_not_paid": "300.00"}),
    ("invoice_not_paid", {**INVOICE, "invoice_number": "F-1&2", "reason": "loan_insufficient",
                          "loan_left": "40.00", "amount_not_paid": "900.00"}),
    ("invoice_not_paid", {**INVOICE, "reason": "quarter_cap_exceeded", "quarter_cap": "2000.00",
                          "quarter": "2022-Q2", "room": "600.00", "amount_not_paid": "300.00"}),
    ("not_obligated", {"reason": "state_pension_age", "municipality": "Zwolle"}),
    ("term_reminder", {"term_end": "2022-02-11", "months_left": 3, "follow_up": False}),
    ("term_reminder", {"term_end": "2024-03-01", "months_left": 12, "follow_up": True}),
    ("term_pre_announcement", {"term_end": "2022-02-11", "amount": "1250.00", "respond_by": "2022-02-28",
                               "hours": 0, "parts_taken": "none", "follow_up": False}),
    ("fine", {"amount": "1000.00", "hours": 120, "parts_taken": "all_once", "new_term_end": "2024-03-01",
              "fine_number": 1}),
    ("fine", {"amount": "0.00", "hours": 320, "parts_taken": "failed_twice", "new_term_end": "2024-03-01",
              "fine_number": 2}),
    ("fine", {"amount": "550.00", "hours": 100, "parts_taken": "failed_twice", "parts_passed": 2,
              "new_term_end": "2024-03-01", "fine_number": 1}),
    ("term_pre_announcement", {"term_end": "2022-02-11", "amount": "550.00", "respond_by": "2022-02-28",
                               "hours": 100, "parts_taken": "failed_twice", "parts_passed": 2, "follow_up": False}),
    ("diploma", {"regime": "wi2021", "parts": [{"part": "lezen", "passed_on": "2024-07-02"}],
                 "obligation_met_on": None, "participation_statement_outstanding": True,
                 "still_needed": ["participation_statement", "map"]}),
    ("loan_forgiven", {"amount": "800.00", "borrowed": "5000.00", "promised": "0.00", "reason": "term_passed",
                       "obligation_met_on": None}),
    ("loan_forgiven", {"amount": "800.00", "borrowed": "5000.00", "promised": "200.00",
                       "reason": "obligation_met_in_term", "obligation_met_on": "2022-05-02"}),
    ("loan_forgiven", {"amount": "800.00", "borrowed": "5000.00", "promised": "0.00", "reason": "correction",
                       "correction": "Keren", "whatif": "whatif-0123456789ab", "repayment_from": "2025-03-11"}),
    ("fine_annulled", {"fine_on": "2024-05-09", "amount": "1050.00", "refunded": "300.00", "reason": "Keren",
                       "whatif": "whatif-0123456789ab"}),
    ("fine_annulled", {"fine_on": "2024-05-09", "amount": "1050.00", "refunded": None, "reason": "Keren",
                       "whatif": "whatif-0123456789ab"}),
    ("obligation_met", {"met_on": "2024-06-03", "route": "z", "by": "route_completed"}),
    ("obligation_ended", {"reason": "aow_age", "term_end": "2024-09-02", "ended_on": "2024-05-10"}),
    ("extension_decision", {"decision": "granted", "reasons": [], "ground": "birth", "term_end": "2022-06-03",
                            "previous_term_end": "2022-02-11", "requested_on": "2021-09-01", "decided_by": "rules",
                            "staff_reason": None, "on_objection": True, "objection_until": None}),
    ("extension_decision", {"decision": "refused", "reasons": ["effort_hours", "effort_attempts", "a <new> rule"],
                            "ground": "effort", "term_end": "2022-02-11", "previous_term_end": "2022-02-11",
                            "requested_on": "2021-09-01", "decided_by": "staff", "staff_reason": "zie <brief>",
                            "on_objection": False, "objection_until": "2021-10-13"}),
    ("repayment_notice", {"obligation_met_on": "2024-09-11", "met_by": "diploma", "repayment_from": "2025-03-11",
                          "borrowed": "10000.00", "paid_out": "4200.00", "promised": "300.00"}),
    ("repayment_notice", {"obligation_met_on": "2024-09-11", "met_by": "agi_exemption",
                          "repayment_from": "2025-03-11", "borrowed": "5000.00", "paid_out": "0.00",
                          "promised": "0.00"}),
    ("alfa_test_invoice", {"amount": "150.00"}),
    ("alfa_test_invoice_reminder", {"amount": "150.00", "invoice_on": "2023-03-27"}),
    ("alfa_test_invitation", {"paid_on": "2023-04-26"}),
    ("agi_decision", AGI),
    ("agi_decision", {**AGI, "decision": "granted", "staff_reason": None}),
    ("agi_decision", {**AGI, "decision": "not_considered", "reasons": ["incomplete"], "hardship": False}),
    ("agi_advice", {**AGI, "advice": "negative"}),
    ("completion_request", {"case": "agi", "missing": "the school's <declaration>", "respond_by": "2021-09-29",
                            "received_on": "2021-09-01"}),
    ("decision_postponed", {"case": "agi", "decide_by": "2021-12-22", "received_on": "2021-09-01",
                            "reason": "alfa_test"}),
    ("decision_postponed", {"case": "objection", "decide_by": "2022-01-14", "received_on": "2021-09-20",
                            "reason": "staff_review"}),
    ("exemption_decision", {"decision": "granted", "reasons": [], "ground": "medical", "received_on": "2023-02-01",
                            "decided_by": "medical_adviser", "staff_reason": None, "objection_until": "2023-04-12"}),
    ("exemption_decision", {"decision": "refused", "reasons": ["staff_assessment", "a <new> rule"],
                            "ground": "integrated", "received_on": "2023-02-01", "decided_by": "staff",
                            "staff_reason": "zie <brief>", "objection_until": "2023-04-12"}),
    ("exemption_decision", {"decision": "not_considered", "reasons": ["incomplete"], "ground": "vrijstelling",
                            "received_on": "2023-02-01", "decided_by": "rules", "staff_reason": None,
                            "objection_until": "2023-04-12"}),
    ("objection_receipt", {"against": "fine", "decision_date": "2021-09-10", "decide_by": "2021-12-03",
                           "received_on": "2021-09-20"}),
    ("objection_decision", {"against": "agi_decision", "decision_date": "2021-09-10", "decision": "granted",
                            "reasons": [], "staff_reason": "het <register> was fout", "received_on": "2021-09-20",
                            "window_end": "2021-10-22"}),
    ("objection_decision", {"against": "fine", "decision_date": "2021-09-10", "decision": "granted", "reasons": [],
                            "staff_reason": None, "received_on": "2021-09-20", "window_end": "2021-10-22"}),
    ("objection_decision", {"against": "extension_decision", "decision_date": "2021-09-10", "decision": "upheld",
                            "reasons": ["upheld_on_review"], "staff_reason": None, "received_on": "2021-09-20",
                            "window_end": "2021-10-22"}),
    ("objection_decision", {"against": "exemption_decision", "decision_date": "2021-09-10",
                            "decision": "not_considered", "reasons": ["late"], "staff_reason": None,
                            "received_on": "2021-10-25", "window_end": "2021-10-22"}),
    ("agi_advice", {**AGI, "advice": "positive"}),
]


def letter(letter_type: str, data: dict, *, name: str = "A. Yusuf", kind: str = "letter") -> Rendered:
    return render(letter_type, kind=kind, recipient_name=name, case_label="case-42", on_date=ON, data=data)


def plain_jinja(letter_type: str, data: dict, *, name: str = "A. Yusuf", kind: str = "letter") -> Rendered:
    """The letter as plain Jinja2 renders it (the renderer before it was made fast)."""
    env = Environment(loader=PackageLoader("inburgering.letters", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["datum"] = lambda v: letters._date(v, "nl_NL")
    env.filters["date_en"] = lambda v: letters._date(v, "en_GB")
    env.filters["euro"] = lambda v: letters._money(v, "nl_NL")
    env.filters["euro_en"] = lambda v: letters._money(v, "en_GB")
    module = env.get_template(f"{letter_type}.html.j2").make_module(
        {"kind": kind, "name": name, "case": "case-42", "date": ON, "data": data, "sender": letters.SENDER})
    return Rendered(subject=f"{module.subject_nl} / {module.subject_en}", body=str(module))


def test_every_template_has_a_letter_here():
    types = {p.name.removesuffix(".html.j2") for p in TEMPLATES.glob("*.html.j2") if not p.name.startswith("_")}
    assert types == {t for t, _ in LETTERS}


@pytest.mark.parametrize("letter_type,data", LETTERS, ids=[t for t, _ in LETTERS])
def test_same_letter_as_plain_jinja(letter_type, data):
    expected = plain_jinja(letter_type, data, name="Zeynep <Kaya> & Zn")
    for _ in range(2):  # and again once everything is cached
        got = letter(letter_type, data, name="Zeynep <Kaya> & Zn")
        assert (type(got.subject), type(got.body)) == (str, str)
        assert got == expected


def test_known_letter_word_for_word():
    got = letter("alfa_test_invoice", {"amount": "1234.5"}, name="Zeynep <Kaya> & Zn")
    assert got.subject == "Factuur voor de alfatoets / Invoice for the literacy test"
    assert got.body == """\
<!doctype html>
<html lang="nl">
<head><meta charset="utf-8"><title>Factuur voor de alfatoets</title></head>
<body>
<header>
  <p>Dienst Uitvoering Onderwijs (DUO) — Inburgering</p>
  <p>Kenmerk / Reference: case-42</p>
  <p>Datum / Date: 5 maart 2024</p>
</header>
<table class="letter">
<tr>
<td lang="nl">
  <h1>Factuur voor de alfatoets</h1>
  <p>Beste Zeynep &lt;Kaya&gt; &amp; Zn,</p>
  <p>U heeft ontheffing van de inburgeringsplicht aangevraagd via de alfaroute. Daarvoor doet u een toets
  (de alfatoets). De toets kost <strong>€\xa01.234,50</strong>.</p>
  <p>Betaal dit bedrag zo snel mogelijk. Na uw betaling sturen wij u een uitnodiging voor de toets.
  Zolang de toets niet gedaan is, is uw aanvraag niet compleet en kunnen wij niet beslissen.</p>
  <p>Met vriendelijke groet,<br>DUO Inburgering</p>
</td>
<td lang="en">
  <h1>Invoice for the literacy test</h1>
  <p>Dear Zeynep &lt;Kaya&gt; &amp; Zn,</p>
  <p>You applied for exemption from the civic integration requirement through the literacy route. For
  this you take a test (the literacy test). The test costs <strong>€1,234.50</strong>.</p>
  <p>Please pay this amount as soon as possible. Once you have paid, we will send you an invitation for the
  test. Until the test has been taken your application is not complete and we cannot decide on it.</p>
  <p>Kind regards,<br>DUO Civic Integration</p>
</td>
</tr>
</table>
</body>
</html>"""


def test_dates_and_amounts_dutch_on_the_left_english_on_the_right():
    body = letter("invoice_waiting", {**INVOICE, "total": "1234567.5", "invoice_date": "2023-10-01"}).body
    dutch, english = body.split('<td lang="en">')
    assert "<strong>€\xa01.234.567,50</strong>" in dutch and "1 oktober 2023" in dutch
    assert "<strong>€1,234,567.50</strong>" in english and "1 October 2023" in english
    assert "Datum / Date: 5 maart 2024" in body
    # the same values as a date and a Decimal, and a missing date
    body = letter("exam_invitation", {**dict(LETTERS[4][1]), "exam_date": dt.date(2023, 10, 1),
                                      "fee": Decimal("50"), "fee_paid_on": ""}).body
    assert "<strong>1 oktober 2023</strong>" in body and "<strong>1 October 2023</strong>" in body


def test_values_are_escaped_but_the_subject_is_plain_text():
    got = letter("invoice_not_paid", {**INVOICE, "invoice_number": 'F-<1>&"2"', "reason": "loan_insufficient",
                                      "loan_left": "40.00"})
    assert got.subject == 'DUO betaalt factuur F-<1>&"2" niet / DUO will not pay invoice F-<1>&"2"'
    assert "<title>DUO betaalt factuur F-&lt;1&gt;&amp;&#34;2&#34; niet</title>" in got.body
    assert "Taalhuis &lt;Noord&gt; &amp; Zn" in got.body and "<Noord>" not in got.body
    agi = letter("agi_decision", AGI).body  # through the shared macros
    assert "Toelichting van DUO: Zie de &#34;brief&#34; &lt;b&gt;&amp; co&lt;/b&gt;" in agi
    assert "<li>a &lt;new&gt; rule</li>" in agi


@pytest.mark.parametrize("data,field", [
    ({"regime": "wi2013", "start_dat": "2021-07-20", "term_end": None}, "start_date"),  # misspelt
    ({"regime": "wi2013", "start_date": "2021-07-20"}, "term_end"),                     # missing
])
def test_a_misspelt_or_missing_field_is_an_error(data, field):
    letter("start_letter", {"regime": "wi2013", "start_date": "2021-07-20", "term_end": None})  # warm the caches
    for _ in range(2):
        with pytest.raises(UndefinedError, match=f"'dict object' has no attribute '{field}'"):
            letter("start_letter", data)


def test_a_dict_method_name_is_not_a_field():
    # Jinja gives `data.items` the dict's method, not a key called "items"; so must the fast lookup.
    source = "{{ data.items()|list }} {{ data.keys is callable }} {{ data.town }}"
    data = {"items": "x", "keys": "y", "town": "Delft"}
    plain = Environment(autoescape=True, undefined=StrictUndefined).from_string(source).render(data=data)
    assert letters.environment().from_string(source).render(data=data) == plain
    assert plain == "[(&#39;items&#39;, &#39;x&#39;), (&#39;keys&#39;, &#39;y&#39;), (&#39;town&#39;, &#39;Delft&#39;)] True Delft"


def test_a_malformed_date_or_amount_is_an_error_every_time():
    for _ in range(2):
        with pytest.raises(ValueError):
            letter("invoice_waiting", {**INVOICE, "invoice_date": "2023-13-01"})
        with pytest.raises(ArithmeticError):  # decimal.InvalidOperation
            letter("invoice_waiting", {**INVOICE, "total": "abc"})


@pytest.mark.parametrize("letter_type", ["no_such_letter", "../start_letter"])
def test_unknown_letter_type(letter_type):
    with pytest.raises(UnknownTemplate, match="no template for letter"):
        letter(letter_type, {})


# ---- letters kept as template version and data ---------------------------------------------------


def test_the_current_templates_are_archived_as_they_are():
    """A template changed and not archived fails here: run `python -m inburgering.letters.versions`."""
    from inburgering.letters.versions import ARCHIVE, TEMPLATES, current_version, set_version

    archived = ARCHIVE / current_version()
    assert archived.is_dir(), "archive the current letter templates: python -m inburgering.letters.versions"
    assert {p.name: p.read_bytes() for p in archived.glob("*.j2")} == \
        {p.name: p.read_bytes() for p in TEMPLATES.glob("*.j2")}
    assert set_version(archived) == current_version()


def test_an_archived_template_set_never_changes():
    from inburgering.letters.versions import ARCHIVE, set_version

    for archived in ARCHIVE.iterdir():
        assert set_version(archived) == archived.name, f"{archived.name} was changed after letters used it"


def test_a_stored_letter_renders_the_bytes_it_was_written_with(case_file):
    """Letters are stored as template version and data and rendered when sent: what the
    archive renders is byte for byte what the templates render."""
    from sqlalchemy import select

    from inburgering.letters.stored import letter_text
    from inburgering.store.models import JournalEntry, Letter
    from tests.scenario_helpers import make_scenario
    from inburgering.scenario.runner import embedded_driver, prepare

    events = [{"date": "2022-05-02", "person": "p1", "type": t, **f} for t, f in (
        ("residence_permit_granted", {"obligation_start": "2021-06-01"}), ("bsn_registered", {}),
        ("municipality_registered", {"municipality": "Zwolle"}), ("loan_granted", {"amount": "900.00"}))]
    scenario = make_scenario(events, start="2022-05-02", until="2022-05-03")
    prepare(case_file, scenario)
    embedded_driver(case_file, [scenario.start, scenario.until])
    with case_file.reading() as session:
        stored = session.execute(select(Letter, JournalEntry.data).join(JournalEntry)).all()
        assert stored and all(letter.body == "" and letter.template_version for letter, _ in stored)
        for letter, data in stored:
            assert letter_text(session, letter) == render(letter.type, kind=letter.kind,
                                                          recipient_name=letter.recipient_name,
                                                          case_label=f"case-{letter.case_id}",
                                                          on_date=letter.on_date, data=data)
