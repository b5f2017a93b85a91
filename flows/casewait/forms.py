"""The typed form staff fill in for a waiting case, per process."""

from __future__ import annotations

from prefect.input import RunInput

from flows.exams.forms import ExamsInput
from flows.exemption.forms import ExemptionInput
from flows.intake.forms import IntakeInput
from flows.invoicing.forms import InvoicingInput

FORMS: dict[str, type[RunInput]] = {
    "intake": IntakeInput,
    "invoicing": InvoicingInput,
    "exemption": ExemptionInput,
    "exams": ExamsInput,
}
