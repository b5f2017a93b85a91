"""Staff forms: the server-side form schema (all Prefect checks when a suspended run is
resumed) is as strict as the model the flow reads the answer with. (Paper events dated
after today: tests/test_prefect_flows.py.)"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from prefect._internal.pydantic.v2_schema import create_v2_schema
from prefect.utilities.schema_tools import ValidationError as SchemaError
from prefect.utilities.schema_tools import validate
from pydantic import ValidationError

from flows.waiting.forms import FORMS, NothingToEnter
from flows.exams.forms import ExamsInput
from flows.exemption.forms import AgiDecisionInput, ExemptionInput
from flows.intake.forms import IntakeInput, PipInput
from flows.invoicing.forms import InvoicingInput
from flows.term.forms import ExtensionDecisionInput, ExtensionRequestInput, FineDecisionInput
from flows.form_exemption.forms import ExemptionDecisionInput, ExemptionPaperInput
from flows.objection.forms import ObjectionDecisionInput
from inburgering.domain.events import DAY_PATTERN, EARLIEST_DAY, LATEST_DAY

DAY = "2024-03-01"

FORM_INPUTS = [
    (IntakeInput, {"prerequisite": "municipality_registered", "date": DAY, "municipality": "Utrecht"}, True),
    (IntakeInput, {"prerequisite": "municipality_registered", "date": DAY, "municipality": ""}, False),
    (IntakeInput, {"prerequisite": "municipality_registered", "date": DAY, "municipality": "   "}, False),
    (IntakeInput, {"prerequisite": "municipality_registered", "date": DAY, "municipality": None}, False),
    (IntakeInput, {"prerequisite": "municipality_registered", "date": DAY}, False),
    (IntakeInput, {"prerequisite": "municipality_registered", "date": DAY, "municipality": "x" * 501}, False),
    (IntakeInput, {"prerequisite": "bsn_registered", "date": DAY}, True),
    (IntakeInput, {"prerequisite": "bsn_registered", "date": "2200-01-01"}, False),
    (IntakeInput, {"prerequisite": "bsn_registered", "date": "1899-12-31"}, False),
    (IntakeInput, {"prerequisite": "bsn_registered", "date": "2024-02-30"}, False),
    (IntakeInput, {"prerequisite": "bsn_registerd", "date": DAY}, False),
    (IntakeInput, {"prerequisite": "residence_permit_granted", "date": DAY, "obligation_start": "9999-01-01"}, False),
    (IntakeInput, {"prerequisite": "residence_permit_granted", "date": DAY, "obligation_start": "2024-01-01"}, True),
    (ExamsInput, {"input": "exam_result", "part": "knm", "date": DAY, "passed": True}, True),
    (ExamsInput, {"input": "exam_result", "part": "knm", "date": DAY, "passed": False}, True),
    (ExamsInput, {"input": "exam_result", "part": "knm", "date": DAY}, False),
    (ExamsInput, {"input": "exam_result", "part": "knm", "date": DAY, "passed": None}, False),
    (ExamsInput, {"input": "exam_fee_paid", "part": "knm", "date": DAY}, True),
    (ExamsInput, {"input": "exam_fee_paid", "part": "typen", "date": DAY}, False),
    (InvoicingInput, {"invoice_number": "F-1", "decision": "accept", "date": DAY}, True),
    (InvoicingInput, {"invoice_number": "", "decision": "accept", "date": DAY}, False),
    (InvoicingInput, {"invoice_number": "  ", "decision": "accept", "date": DAY}, False),
    (InvoicingInput, {"invoice_number": "F-1", "decision": "refuse", "date": DAY}, False),
    (InvoicingInput, {"invoice_number": "F-1", "decision": "refuse", "date": DAY, "reason": "incomplete"}, True),
    (InvoicingInput, {"invoice_number": "F-1", "decision": "refuse", "date": DAY, "reason": "other"}, False),
    (InvoicingInput, {"invoice_number": "F-1", "decision": "refuse", "date": DAY, "reason": "other",
                      "reason_text": " "}, False),
    (InvoicingInput, {"invoice_number": "F-1", "decision": "refuse", "date": DAY, "reason": "other",
                      "reason_text": "two invoices for one course"}, True),
    (AgiDecisionInput, {"date": DAY, "decision": "granted"}, True),
    (AgiDecisionInput, {"date": DAY}, False),
    (AgiDecisionInput, {"date": DAY, "decision": "granted", "reason": ""}, False),
    (AgiDecisionInput, {"date": "2026-02-30", "decision": "refused", "reason": "file checked"}, False),
    (ExemptionInput, {"input": "staff_decision", "date": DAY}, False),
    (ExemptionInput, {"input": "alfa_test_taken", "date": DAY}, False),
    (ExemptionInput, {"input": "alfa_test_taken", "date": DAY, "active": True}, True),
    (ExemptionInput, {"input": "school_declaration_received", "date": DAY}, True),
    (PipInput, {"route": "b1", "date": DAY}, True),
    (PipInput, {"route": "b2", "date": DAY}, False),
    (PipInput, {"date": DAY}, False),
    (ExtensionDecisionInput, {"decision": "refused", "date": DAY, "reason": "no evidence"}, True),
    (ExtensionDecisionInput, {"decision": "maybe", "date": DAY}, False),
    (FineDecisionInput, {"decision": "refused", "date": DAY}, True),
    (FineDecisionInput, {"decision": "granted", "date": DAY, "reason": "persistent unwillingness, documented"}, True),
    (FineDecisionInput, {"decision": "granted", "date": DAY, "reason": " "}, False),
    (FineDecisionInput, {"decision": "annulled", "date": DAY}, False),
    (ExtensionRequestInput, {"ground": "birth", "evidence_date": "2024-01-31", "date": DAY}, True),
    (ExtensionRequestInput, {"ground": "birth", "evidence_date": "2024-02-31", "date": DAY}, False),
    (ExtensionRequestInput, {"ground": "holiday", "evidence_date": "2024-01-31", "date": DAY}, False),
    (ExemptionDecisionInput, {"decision": "granted", "date": DAY}, True),
    (ExemptionDecisionInput, {"decision": "upheld", "date": DAY}, False),
    (ExemptionPaperInput, {"input": "medical_advice_received", "date": DAY}, False),
    (ExemptionPaperInput, {"input": "medical_advice_received", "date": DAY, "exempt": False}, True),
    (ExemptionPaperInput, {"input": "application_completed", "date": DAY}, True),
    (ObjectionDecisionInput, {"decision": "refused", "date": DAY, "reason": "the decision was right"}, True),
    (ObjectionDecisionInput, {"decision": "refused", "date": DAY, "reason": " "}, False),
    (ObjectionDecisionInput, {"date": DAY}, False),
    (NothingToEnter, {}, True),
    (NothingToEnter, {"note": "x"}, False),
]


def _server_accepts(form: type, answer: dict) -> bool:
    """What the Prefect server does with a resume answer: validate it against the form's schema."""
    try:
        validate(answer, create_v2_schema(form.__name__, model_base=form), raise_on_error=True)
    except SchemaError:
        return False
    return True


def _model_accepts(form: type, answer: dict) -> bool:
    try:
        form.model_validate(answer)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("form, answer, accepted", FORM_INPUTS)
def test_the_form_schema_on_the_server_is_as_strict_as_the_model(form, answer, accepted):
    assert _server_accepts(form, answer) is accepted
    assert _model_accepts(form, answer) is accepted


def test_every_form_is_covered():
    assert {form for form, _, _ in FORM_INPUTS} == set(FORMS.values())


def test_a_missing_passed_never_becomes_false():
    with pytest.raises(ValidationError, match="passed"):
        ExamsInput(input="exam_result", part="knm", date=dt.date(2024, 3, 1))
    failed = ExamsInput(input="exam_result", part="knm", date=dt.date(2024, 3, 1), passed=False)
    assert failed.to_event()["passed"] is False


def test_the_date_pattern_of_the_form_schemas_takes_exactly_the_days_the_model_takes():
    pattern = re.compile(DAY_PATTERN)
    day = dt.date(1899, 12, 1)
    while day <= dt.date(2101, 1, 31):
        assert bool(pattern.search(day.isoformat())) is (EARLIEST_DAY <= day <= LATEST_DAY), day
        day += dt.timedelta(days=1)
    for text in ("2023-02-29", "1900-02-29", "2100-02-29", "2024-04-31", "2024-13-01", "2024-00-10", "2024-1-1",
                 "10000-01-01", "2024-01-01T00:00"):
        assert not pattern.search(text), text
