"""The case page (issue 24): one case as a process owner follows it, found by its id as pasted
from a run name or by the sending system's reference, never by a BSN; the ingest and the monitor
name the cases they changed (and write their pages)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from inburgering.engine import casepage, service
from inburgering.engine.errors import InputError
from inburgering.store.models import Case, Person

BSN = "123456782"
DAY = dt.date(2022, 4, 1)


def _invoice(number: str) -> dict:
    return {"type": "invoice_submitted", "school": "Taalhuis Noord", "invoice_number": number,
            "contract_number": "C-1", "course_type": "Inburgering", "description": "lessen",
            "invoice_date": "2022-04-01", "period_from": "2022-03-01", "period_to": "2022-03-31", "courses": 10,
            "course_fee": "300.00", "materials_fee": "25.50", "exam_fee": "0.00"}


def _person_with_an_invoice_paid(case_file) -> tuple[int, service.RunReport]:  # noqa: ANN001
    with case_file.transaction() as session:
        service.register_person(session, ref="p-4711", bsn=BSN, name="Tesfay Gebre", email="t@example.org")
        for day, event in ((DAY, {"type": "loan_granted", "amount": "10000.00"}), (DAY, _invoice("TN-9")),
                           (DAY + dt.timedelta(days=3), {"type": "invoice_accepted", "invoice_number": "TN-9"})):
            service.receive(session, {**event, "person": "p-4711", "date": day.isoformat()}, source="test",
                            received_on=day)
    service.ingest(case_file, DAY)
    report = service.ingest(case_file, DAY + dt.timedelta(days=3))
    with case_file.transaction() as session:
        case_id = session.scalar(select(Case.id).where(Case.process == "invoicing", Case.key != "loan"))
    return case_id, report


def test_the_page_shows_status_waiting_letters_payments_and_history_and_the_ingest_names_the_case(case_file):
    case_id, report = _person_with_an_invoice_paid(case_file)
    assert case_id in report.cases  # the ingest knows which cases it changed: it names them, writes their pages
    with case_file.transaction() as session:
        page = casepage.case_page(session, case_id, DAY + dt.timedelta(days=3))
    assert (page["case"], page["title"], page["status"]) == (f"case-{case_id}", "invoice acceptance",
                                                             "Factuur is vrijgegeven")
    assert [p["type"] for p in page["payments"]] == ["school_paid"]
    assert page["payments"][0]["invoice_number"] == "TN-9" and page["payments"][0]["amount"] == "325.50"
    assert ("email", "invoice_waiting") in {(letter["kind"], letter["type"]) for letter in page["letters"]}
    assert [h["status"] for h in page["history"]] == ["Factuur is openstaand", "Factuur is vrijgegeven"]
    assert [e["type"] for e in page["events"]] == ["invoice_accepted", "invoice_submitted"]
    assert page["person_ref"] == "p-4711" and page["other_cases"][0]["status"] == "Lening is vastgesteld"
    text = casepage.page_markdown(page, "http://ui")
    assert f"# case-{case_id} · invoice acceptance" in text
    assert f"(http://ui/runs?tag=case-{case_id}&" in text and "(http://ui/artifacts/key/case-" in text
    assert BSN not in text and "Tesfay" not in text


def test_a_case_is_found_by_its_id_as_pasted_or_the_senders_reference_never_by_a_bsn(case_file):
    case_id, _ = _person_with_an_invoice_paid(case_file)
    with case_file.transaction() as session:
        everyone = sorted(session.scalars(select(Case.id)))
        assert casepage.find_cases(session, f"case-{case_id}") == [case_id]
        assert casepage.find_cases(session, f" Case-{case_id} ") == [case_id]
        assert casepage.find_cases(session, str(case_id)) == [case_id]
        assert casepage.find_cases(session, "p-4711") == everyone
        for bsn in (BSN, "1234.56.782", "123 456 782"):
            with pytest.raises(InputError) as refused:
                casepage.find_cases(session, bsn)
            assert "never by a BSN" in str(refused.value) and "782" not in str(refused.value)
        with pytest.raises(InputError, match="there is no case-999"):
            casepage.find_cases(session, "case-999")
        with pytest.raises(InputError, match="no person has it as reference"):
            casepage.find_cases(session, "p-0000")
        assert session.scalar(select(Person.ref)) == "p-4711"


@pytest.mark.parametrize("pasted, case_id", [(17, 17), ("17", 17), ("case-17", 17), (" case-17 ", 17),
                                             ("CASE 17", 17)])
def test_a_case_id_is_taken_as_pasted_from_a_run_name(pasted, case_id):
    assert casepage.parse_case_id(pasted) == case_id


@pytest.mark.parametrize("pasted", ["case-", "17a", "", "case-0", BSN, "case-123456782"])
def test_what_is_not_a_case_id_is_refused_with_a_sentence_that_does_not_repeat_a_bsn(pasted):
    with pytest.raises(InputError) as refused:
        casepage.parse_case_id(pasted)
    assert str(refused.value).startswith("case: ") and BSN not in str(refused.value)


def test_the_command_line_prints_the_page_and_refuses_a_bsn(database_url, monkeypatch):
    from typer.testing import CliRunner

    from inburgering.cli import app
    from inburgering.store.db import CaseFile

    monkeypatch.setenv("INBURGERING_DATABASE_URL", database_url)
    case_file = CaseFile(database_url)
    try:
        case_id, _ = _person_with_an_invoice_paid(case_file)
    finally:
        case_file.dispose()
    runner = CliRunner()
    shown = runner.invoke(app, ["case", f"case-{case_id}"])
    assert shown.exit_code == 0 and f"# case-{case_id} · invoice acceptance" in shown.output
    assert "| status | **Factuur is vrijgegeven** |" in shown.output
    assert runner.invoke(app, ["case", "p-4711"]).output.count("# case-") == 2
    refused = runner.invoke(app, ["case", BSN])
    assert refused.exit_code == 2 and "never by a BSN" in refused.output and BSN not in refused.output
