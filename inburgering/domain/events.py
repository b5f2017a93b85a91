"""Input events: the facts the outside world reports, validated at the border.

Field and type names follow shared/scenarios.md. Every event has `date`, `type`
and `person` (a reference to a person in the case file, never a BSN).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, model_validator

from inburgering.domain.money import money

Money = Annotated[Decimal, BeforeValidator(money)]
ExamPart = Literal["lezen", "luisteren", "schrijven", "spreken", "knm", "ona"]
Text = Annotated[str, Field(min_length=1, max_length=500)]


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date
    person: Text


class ResidencePermitGranted(Event):
    type: Literal["residence_permit_granted"]
    obligation_start: dt.date | None = None
    voluntary: bool = False


class BsnRegistered(Event):
    type: Literal["bsn_registered"]


class MunicipalityRegistered(Event):
    type: Literal["municipality_registered"]
    municipality: Text


class PipEstablished(Event):
    type: Literal["pip_established"]
    route: Literal["b1", "onderwijs", "z"]


class LoanGranted(Event):
    type: Literal["loan_granted"]
    amount: Money


class ExamRegistered(Event):
    type: Literal["exam_registered"]
    part: ExamPart
    channel: Literal["online", "school", "form"]
    exam_date: dt.date
    location: Text


class ExamFeePaid(Event):
    type: Literal["exam_fee_paid"]
    part: ExamPart


class ExamRescheduled(Event):
    type: Literal["exam_rescheduled"]
    part: ExamPart
    exam_date: dt.date
    location: Text


class ExamCancelled(Event):
    type: Literal["exam_cancelled"]
    part: ExamPart


class ExamResult(Event):
    type: Literal["exam_result"]
    part: ExamPart
    passed: bool


class InvoiceSubmitted(Event):
    type: Literal["invoice_submitted"]
    school: Text
    invoice_number: Text
    contract_number: Text
    course_type: Text
    description: Text
    invoice_date: dt.date
    period_from: dt.date
    period_to: dt.date
    courses: int = Field(ge=0)
    course_fee: Money
    materials_fee: Money
    exam_fee: Money
    total: Money | None = None  # when the school states it, it must equal the sum


class InvoiceAccepted(Event):
    type: Literal["invoice_accepted"]
    invoice_number: Text


class InvoiceRefused(Event):
    type: Literal["invoice_refused"]
    invoice_number: Text
    reason: Literal["amount_wrong", "number_wrong", "incomplete", "other"]
    reason_text: str | None = None

    @model_validator(mode="after")
    def _other_needs_text(self) -> InvoiceRefused:
        if self.reason == "other" and not (self.reason_text or "").strip():
            raise ValueError("reason 'other' needs a reason_text saying why the invoice is refused")
        return self


class AttemptCount(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    integration: int = Field(default=0, ge=0)
    nt2: int = Field(default=0, ge=0)


class Hours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    integration: int = Field(default=0, ge=0)
    nt2: int = Field(default=0, ge=0)
    alfa: int = Field(default=0, ge=0)


class AgiApplicationReceived(Event):
    type: Literal["agi_application_received"]
    route: Literal["course", "alfa"]
    hours: Hours
    school_listed_at_course_start: bool
    attempts: dict[ExamPart, AttemptCount] = Field(default_factory=dict)
    advice: bool = False  # the naturalisation variant (advies AGI for the IND)


class SchoolDeclarationReceived(Event):
    type: Literal["school_declaration_received"]


class AlfaTestInvoicePaid(Event):
    type: Literal["alfa_test_invoice_paid"]


class AlfaTestTaken(Event):
    type: Literal["alfa_test_taken"]
    active: bool


class StaffDecision(Event):
    type: Literal["staff_decision"]
    case: Literal["agi", "extension"]
    decision: Literal["granted", "refused"]
    reason: str | None = None


class ExtensionRequested(Event):
    type: Literal["extension_requested"]
    ground: Literal["effort", "birth", "death", "alfa", "illness"]
    evidence_date: dt.date


class CourseHoursReported(Event):
    """A school reports the hours a person followed (counted for the fine and for effort)."""

    type: Literal["course_hours_reported"]
    school: Text
    hours: int = Field(ge=0, le=10_000)
    listed: bool
    period_from: dt.date
    period_to: dt.date

    @model_validator(mode="after")
    def _period_in_order(self) -> CourseHoursReported:
        if self.period_from > self.period_to:
            raise ValueError(f"the period starts ({self.period_from}) after it ends ({self.period_to})")
        return self


class ParticipationStatementSigned(Event):
    """Wi2013, obligation from 2017-10-01: the participation statement (PVT) the diploma needs."""

    type: Literal["participation_statement_signed"]


class JourneyEnded(Event):
    type: Literal["journey_ended"]
    reason: Literal["emigrated", "died", "naturalised", "permit_withdrawn"]


AnyEvent = Annotated[
    Union[
        ResidencePermitGranted, BsnRegistered, MunicipalityRegistered, PipEstablished,
        LoanGranted, ExamRegistered, ExamFeePaid, ExamRescheduled, ExamCancelled, ExamResult,
        InvoiceSubmitted, InvoiceAccepted, InvoiceRefused, AgiApplicationReceived,
        SchoolDeclarationReceived, AlfaTestInvoicePaid, AlfaTestTaken, StaffDecision,
        ExtensionRequested, CourseHoursReported, ParticipationStatementSigned, JourneyEnded,
    ],
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)
EVENT_TYPES: dict[str, type[Event]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in AnyEvent.__origin__.__args__  # type: ignore[attr-defined]
}


def parse_event(raw: dict) -> Event:
    """Validate one event; raises pydantic.ValidationError naming the field."""
    return EVENT_ADAPTER.validate_python(raw)


def event_payload(event: Event) -> dict:
    """The event as JSON-safe data (dates as ISO text, money as "250.00")."""
    return event.model_dump(mode="json", exclude_none=True)
