"""No BSN in what staff type (issue 24): every free-text field of a staff flow and of a resume
form refuses a number written as a BSN may be, on the server before it is stored (the JSON
schema) and in the model with a sentence that does not repeat it; `case_id` takes "case-17"."""

from __future__ import annotations

import pytest
from prefect._internal.pydantic.v2_schema import create_v2_schema
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools import validate
from prefect.utilities.schema_tools.validation import ValidationError as SchemaError
from pydantic import ValidationError

from flows.staff import flow as staff
from flows.waiting.forms import FORMS, NothingToEnter

BSN = "123456782"
WRITTEN = [BSN, "klant belde, BSN 123456782", "bsn 123 456 782", "1234.56.782"]


def _server_refuses(schema: dict, value: dict) -> bool:
    """What Prefect's server does with a run's parameters or a resume form's input."""
    try:
        validate(value, schema, raise_on_error=True)
    except SchemaError:
        return True
    return False


def _parameters(fn) -> dict:  # noqa: ANN001
    return parameter_schema(fn).model_dump_for_openapi()


@pytest.mark.parametrize("written", WRITTEN)
def test_a_municipality_like_a_bsn_is_refused_before_a_paper_event_is_stored(written):
    schema = _parameters(staff.record_paper_event)
    event = {"type": "municipality_registered", "date": "2026-01-05", "municipality": written}
    assert _server_refuses(schema, {"case_id": "case-12", "event": event})
    assert not _server_refuses(schema, {"case_id": "case-12", "event": {**event, "municipality": "Utrecht"}})
    with pytest.raises(ValidationError) as refused:
        staff.PAPER_EVENTS[staff.PAPER_EVENT_TYPES.index("municipality_registered")].model_validate(
            {**event, "municipality": "klant 123456782"})
    assert "may be a BSN" in str(refused.value) and "456782'" not in str(refused.value).split("input_value")[0]


@pytest.mark.parametrize("fn, field", [(staff.resend_letter, "reason"), (staff.hold_letters, "reason"),
                                       (staff.close_incident, "resolution"), (staff.find_case, "lookup")])
def test_every_free_text_parameter_of_a_staff_flow_refuses_a_bsn(fn, field):
    schema = _parameters(fn)
    base = {"case_id": "case-3", "letter_type": "start_letter", "incident_id": 1, field: "belde op maandag"}
    base = {k: v for k, v in base.items() if k in schema["properties"]}
    assert not _server_refuses(schema, base)
    for written in WRITTEN:
        assert _server_refuses(schema, {**base, field: written}), written


def test_every_text_field_of_every_resume_form_refuses_a_bsn():
    checked = 0
    for name, form in FORMS.items():
        if form is NothingToEnter:
            continue
        schema = create_v2_schema(name, model_base=form)
        for field, prop in schema["properties"].items():
            options = prop.get("anyOf", [prop])
            if not any(o.get("type") == "string" and not {"enum", "const", "format"} & o.keys() for o in options):
                continue
            assert any("allOf" in o for o in options), (name, field)
            assert _server_refuses({"properties": {field: prop}}, {field: "klant belde, BSN 123456782"})
            checked += 1
    assert checked >= 5  # municipality, invoice number, reasons...


def test_the_model_refuses_a_bsn_in_a_form_with_a_sentence_that_does_not_repeat_it():
    from inburgering.engine.errors import InputError

    with pytest.raises(ValidationError) as refused:
        FORMS["InvoicingInput"].model_validate({"invoice_number": "TN-9", "decision": "refuse", "date": "2026-01-05",
                                                "reason": "other", "reason_text": "klant belde, BSN 123456782"})
    sentence = str(InputError.from_validation(refused.value))
    assert "reason_text: holds a number that may be a BSN" in sentence and BSN not in sentence


def test_case_id_parameters_take_case_17_as_pasted_from_a_run_name():
    schema = _parameters(staff.open_case)
    assert schema["properties"]["case_id"]["type"] == "string"
    assert not _server_refuses(schema, {"case_id": "case-17"})


def test_each_paper_event_type_has_its_own_typed_form_without_a_choice_of_schemas():
    """record-paper-event showed a raw JSON box (a union of every event type) whose errors were
    the validator's "…is not valid under any of the given schemas" (issue 24)."""
    import json

    from flows.staff import paper
    from inburgering.domain.events import PAPER_EVENT_TYPES

    for event_type in PAPER_EVENT_TYPES:
        schema = _parameters(getattr(paper, f"paper_{event_type}"))
        event = schema["properties"]["event"]
        assert set(event) >= {"$ref"} and "oneOf" not in json.dumps(schema), event_type  # one form, no choice
        form = schema["definitions"][event["$ref"].split("/")[-1]]
        assert "type" not in form["properties"] and "person" not in form["properties"]
    schema = _parameters(paper.paper_municipality_registered)
    assert _server_refuses(schema, {"case_id": "case-3", "event": {"date": "2026-01-05"}})  # no municipality
    assert _server_refuses(schema, {"case_id": "case-3", "event": {"date": "2026-01-05", "municipality": BSN}})
    assert not _server_refuses(schema, {"case_id": "case-3", "event": {"date": "2026-01-05", "municipality": "Ede"}})
