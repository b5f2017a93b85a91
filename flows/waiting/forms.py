"""One form per kind of wait: which typed form a waiting case offers staff, pre-filled with
what the case knows (today's date, the invoice number, the document it waits for first).

A wait that nothing entered by staff can end — letters on hold, a date to come, a payment
deferred to the next quarter — offers `NothingToEnter`: its description says what it waits
for and who can act (e.g. release the hold); resuming it shows it again.
"""

from __future__ import annotations

import copy
import datetime as dt

import pydantic

from flows.exams.forms import FORMS as EXAMS
from flows.exemption.forms import FORMS as EXEMPTION
from flows.exemption.forms import prefill as exemption_prefill
from flows.form_exemption.forms import FORMS as FORM_EXEMPTION
from flows.waiting.form_rules import StaffForm
from flows.intake.forms import FORMS as INTAKE
from flows.invoicing.forms import FORMS as INVOICING
from flows.objection.forms import FORMS as OBJECTION
from flows.term.forms import FORMS as TERM
from inburgering.domain.bsn import redact_bsn
from inburgering.engine.casebook import without_holds
from flows.waiting.cases import CaseWait


class NothingToEnter(StaffForm):
    """Nothing: this wait ends by itself (a date, a release of letters on hold, a payment in
    the next quarter) or by someone else. Submitting shows the case again, as it then stands."""

    def to_event(self) -> dict:  # never asked for: the flow applies no event for this form
        raise NotImplementedError


FORMS_BY_PROCESS: dict[str, dict[str, type[StaffForm]]] = {
    "intake": INTAKE, "invoicing": INVOICING, "exemption": EXEMPTION, "exams": EXAMS, "term": TERM,
    "form_exemption": FORM_EXEMPTION, "objection": OBJECTION}
FORMS: dict[str, type[StaffForm]] = {form.__name__: form for forms in FORMS_BY_PROCESS.values()
                                     for form in forms.values()} | {NothingToEnter.__name__: NothingToEnter}


def form_for(case: CaseWait) -> type[StaffForm]:
    """The form of the case's wait. A case that waits only for letters on hold offers nothing."""
    if without_holds(case.waiting_for) is None:
        return NothingToEnter
    return FORMS_BY_PROCESS.get(case.process, {}).get(case.status, NothingToEnter)


def initial_data(form: type[StaffForm], case: CaseWait, today: dt.date) -> dict:
    """Pre-filled values: today's date, and what the case knows. Never a BSN."""
    data: dict = {"date": today.isoformat()} if "date" in form.model_fields else {}
    if hasattr(form, "prefill"):
        data |= form.prefill(case.state)
    if case.process == "exemption":
        data |= exemption_prefill(case.status)
    return {k: v for k, v in data.items() if not (isinstance(v, str) and redact_bsn(v) != v)}


def what_to_enter(form: type[StaffForm]) -> str:
    return " ".join((form.__doc__ or "").split())


def with_data(form: type[StaffForm], case: CaseWait, today: dt.date, refused: str | None = None):  # noqa: ANN201
    """The form as this case's resume form: its description and pre-filled values."""
    from flows.waiting.cases import describe

    details = form.details(case.state) if hasattr(form, "details") else []
    return prefilled(form, describe(case, today, what_to_enter=what_to_enter(form), refused=refused,
                                    details=details),
                     **initial_data(form, case, today))


def prefilled(form: type[StaffForm], description: str, **data) -> type[StaffForm]:  # noqa: ANN003
    """`RunInput.with_initial_data`, keeping each field's own rules: Prefect's version rebuilds a
    pre-filled field from its bare type, dropping its pattern (a date field would take
    2026-02-30 on the server) and its validators."""
    fields = {}
    for name, value in data.items():
        original = form.model_fields[name]
        field = copy.copy(original)
        field.default = value
        fields[name] = (original.annotation, field)
    required = [name for name, info in form.model_fields.items() if info.is_required()]

    class Prefilled(form):  # type: ignore[valid-type, misc]
        @classmethod
        def __get_pydantic_json_schema__(cls, core_schema, handler):  # noqa: ANN001, ANN206
            """A pre-filled field stays required: the form says so, and the server checks it."""
            full = super().__get_pydantic_json_schema__(core_schema, handler)  # the form's own rules
            schema = handler.resolve_ref_schema(full)
            schema["required"] = [name for name in schema.get("properties", {}) if name in required]
            return full

    model = pydantic.create_model(form.__name__, __base__=Prefilled, __doc__=form.__doc__, **fields)
    model._description = description
    return model
