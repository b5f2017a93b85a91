"""Input events: the facts the outside world reports, validated at the border.

Field and type names follow shared/scenarios.md. Every event has `date`, `type`
and `person` (a reference to a person in the case file, never a BSN).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationInfo, field_validator,
                      model_validator)

from inburgering.domain.bsn import quote
from inburgering.domain.money import money

# Validation context key: amounts written with exactly two decimals ("12.30", not "12.3" nor 12),
# as the inbound API's contract says (api.md); a scenario file may write "250" or "12.5".
EXACT_CENTS = "exact_cents"
_TWO_DECIMALS = re.compile(r"[+-]?\d+\.\d{2}")


def _amount(value: Any, info: ValidationInfo) -> Decimal:
    amount = money(value)
    if info.context and info.context.get(EXACT_CENTS) and not (isinstance(value, str)
                                                               and _TWO_DECIMALS.fullmatch(value)):
        raise ValueError(f"{quote(value)} is not written with exactly two decimals; write it like \"250.00\"")
    return amount


Money = Annotated[Decimal, BeforeValidator(_amount)]  # a negative amount is the processes' to reject
ExamPart = Literal["lezen", "luisteren", "schrijven", "spreken", "knm", "ona"]
BLANK = "is blank: fill it in, or leave the field out if it is optional"
NOT_BLANK = r"\S"  # a JSON-schema pattern (found anywhere in the text): at least one character that is not a space
Text = Annotated[str, Field(min_length=1, max_length=500, pattern=NOT_BLANK)]
# Characters that end or break a line of a message header (RFC 5322: CR and LF; a mail system or
# a viewer may also break on the others): refused in text that goes into a subject or an address.
LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(value: str) -> str:
    """Text that may go into a message header (a subject, a recipient's name): one line, no
    control characters (a CR/LF would start a header of its own: `Bcc: ...`)."""
    if found := LINE_BREAKS.search(value):
        raise ValueError(f"holds a line break or control character (U+{ord(found.group()):04X}); this text goes "
                         "into a message's subject or address and must be one line")
    return value


def header_safe(value: str) -> str:
    """Text as it goes into a header however it came in (data stored before `Line` was checked):
    every line break and control character is a space."""
    return LINE_BREAKS.sub(" ", value)


# Text that goes into a message header: an invoice number in a subject, a school's name.
Line = Annotated[Text, AfterValidator(one_line)]

# The dates the system takes, in events, forms, scenario files and policy: wide enough for
# anyone's birth and any obligation, narrow enough that every term and deadline computed
# from them stays a real date (Python's dates end in 9999).
EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(2100, 12, 31)
# No count in an event (hours, courses, attempts) comes near this.
MAX_NUMBER = 1_000_000
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab and line breaks are text


def calendar_day(value: Any) -> dt.date:
    """A date as input gives it (a date, or YYYY-MM-DD text) between EARLIEST_DAY and LATEST_DAY."""
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):  # no spaces around it either
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{quote(value)} is not a real calendar date (write YYYY-MM-DD)") from None
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise ValueError(f"{quote(value)} is not a date (write YYYY-MM-DD)")
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(f"{value} is outside the dates this system takes ({EARLIEST_DAY} .. {LATEST_DAY})")
    return value


def _day_pattern() -> str:
    """The real calendar dates EARLIEST_DAY .. LATEST_DAY (1900 .. 2100) as a regular expression,
    for JSON schemas: a form's schema refuses what calendar_day refuses."""
    assert (EARLIEST_DAY, LATEST_DAY) == (dt.date(1900, 1, 1), dt.date(2100, 12, 31))
    month_day = (r"(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)"
                 r"|02-(?:0[1-9]|1\d|2[0-8])")
    leap = r"(?:19|20)(?:0[48]|[2468][048]|[13579][26])|2000"  # 1900 and 2100 are not leap years
    return rf"^(?:(?:(?:19|20)\d\d|2100)-(?:{month_day})|(?:{leap})-02-29)$"


DAY_PATTERN = _day_pattern()
# A date field of an input: YYYY-MM-DD text or a date, never a number (pydantic would read
# 1583020800 as a timestamp); its JSON schema holds DAY_PATTERN.
Day = Annotated[dt.date, BeforeValidator(calendar_day), Field(json_schema_extra={"pattern": DAY_PATTERN})]


class Checked(BaseModel):
    """Input whose every field is checked after its own type: dates within EARLIEST_DAY ..
    LATEST_DAY, text not blank, numbers finite and within MAX_NUMBER. Fields added later
    get the same checks (declare dates as Day to refuse numbers too)."""

    @field_validator("*", mode="after")
    @classmethod
    def _sane(cls, value: Any) -> Any:
        kind = type(value)  # by exact type: this runs for every field of every event
        if kind is str:
            if not value.strip():
                raise ValueError(BLANK)
            if control := _CONTROL.search(value):
                raise ValueError(f"holds a control character (U+{ord(control.group()):04X}); remove it")
        elif kind is dt.date:
            if not EARLIEST_DAY <= value <= LATEST_DAY:
                calendar_day(value)  # raises, saying why
        elif kind is int or kind is float:
            if kind is float and not math.isfinite(value):
                raise ValueError(f"{quote(value)} is not a number")
            if abs(value) > MAX_NUMBER:
                raise ValueError(f"{quote(value)} is too large (at most {MAX_NUMBER})")
        return value


class Event(Checked):
    model_config = ConfigDict(extra="forbid", frozen=True)

    date: Day
    person: Line


Category = Literal["asylum", "family", "other"]


class ResidencePermitGranted(Event):
    type: Literal["residence_permit_granted"]
    obligation_start: Day | None = None
    voluntary: bool = False
    # Who the person is (the IND says): an asylum status holder, a family migrant or other.
    # Absent: not known, treated as other (domain.md §1).
    category: Category | None = None


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
    exam_date: Day
    location: Text


class ExamFeePaid(Event):
    type: Literal["exam_fee_paid"]
    part: ExamPart


class ExamRescheduled(Event):
    type: Literal["exam_rescheduled"]
    part: ExamPart
    exam_date: Day
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
    school: Line
    invoice_number: Line
    contract_number: Line
    course_type: Text
    description: Text
    invoice_date: Day
    period_from: Day
    period_to: Day
    courses: int = Field(ge=0)
    course_fee: Money
    materials_fee: Money
    exam_fee: Money
    total: Money | None = None  # when the school states it, it must equal the sum


class InvoiceAccepted(Event):
    type: Literal["invoice_accepted"]
    invoice_number: Line


class InvoiceRefused(Event):
    type: Literal["invoice_refused"]
    invoice_number: Line
    reason: Literal["amount_wrong", "number_wrong", "incomplete", "other"]
    reason_text: Text | None = None

    @model_validator(mode="after")
    def _other_needs_text(self) -> InvoiceRefused:
        if self.reason == "other" and not (self.reason_text or "").strip():
            raise ValueError("reason 'other' needs a reason_text saying why the invoice is refused")
        return self


class AttemptCount(Checked):
    model_config = ConfigDict(extra="forbid", frozen=True)
    integration: int = Field(default=0, ge=0)
    nt2: int = Field(default=0, ge=0)


class Hours(Checked):
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
    """The school's declaration of course participation (Verklaring deelname cursus): with an
    open AGI application it completes the file; its hours at a listed school count for the fine."""

    type: Literal["school_declaration_received"]
    school: Line | None = None
    hours: int | None = Field(default=None, ge=0, le=10_000)


class AlfaTestInvoicePaid(Event):
    type: Literal["alfa_test_invoice_paid"]


class AlfaTestTaken(Event):
    type: Literal["alfa_test_taken"]
    active: bool


class StaffDecision(Event):
    type: Literal["staff_decision"]
    case: Literal["agi", "extension", "exemption", "objection", "fine"]
    decision: Literal["granted", "refused"]
    reason: Text | None = None


class ExtensionRequested(Event):
    type: Literal["extension_requested"]
    ground: Literal["effort", "birth", "death", "alfa", "illness"]
    evidence_date: Day


class CourseHoursReported(Event):
    """A school reports the hours a person followed (counted for the fine and for effort)."""

    type: Literal["course_hours_reported"]
    school: Line
    hours: int = Field(ge=0, le=10_000)
    listed: bool
    period_from: Day
    period_to: Day

    @model_validator(mode="after")
    def _period_in_order(self) -> CourseHoursReported:
        if self.period_from > self.period_to:
            raise ValueError(f"the period starts ({self.period_from}) after it ends ({self.period_to})")
        return self


class ParticipationStatementSigned(Event):
    """The municipality: the participation statement (PVT) — Wi2013 obligations from 2017-10-01
    (the diploma needs it), and every Wi2021 obligation (a piece of the obligation)."""

    type: Literal["participation_statement_signed"]


class ExemptionApplicationReceived(Event):
    """One of the exemptions of the forms (domain.md §9): medical or psychological reasons,
    sufficiently integrated, or vrijstelling (a Dutch diploma). `complete: false`: a document is
    missing (Awb 4:5)."""

    type: Literal["exemption_application_received"]
    ground: Literal["medical", "integrated", "vrijstelling"]
    complete: bool = True


class ApplicationCompleted(Event):
    """The missing documents of an application arrived (Awb 4:5)."""

    type: Literal["application_completed"]
    case: Literal["agi", "exemption"]


class MedicalAdviceReceived(Event):
    """The medical adviser's advice on a medical exemption."""

    type: Literal["medical_advice_received"]
    exempt: bool


class ObjectionReceived(Event):
    """An objection (bezwaar, Awb 6:4) against a decision: its letter type and the day it was sent."""

    type: Literal["objection_received"]
    against: Literal["agi_decision", "extension_decision", "exemption_decision", "fine"]
    decision_date: Day
    grounds: Text


class NoticeOfDefaultReceived(Event):
    """Awb 4:17: the person declares DUO in default on a decision not taken in time."""

    type: Literal["notice_of_default_received"]
    case: Literal["agi", "extension", "exemption", "objection"]


class FinePaid(Event):
    """The person paid the fine."""

    type: Literal["fine_paid"]
    amount: Money


class MapCompleted(Event):
    """The municipality: the Wi2021 Module Arbeidsmarkt & Participatie (MAP) is done."""

    type: Literal["map_completed"]


class RouteCompleted(Event):
    """The municipality: a Wi2021 onderwijsroute or Z-route is completed."""

    type: Literal["route_completed"]
    route: Literal["onderwijs", "z"]


class Correction(Event):
    """A staff-approved correction from a policy what-if (architecture.md §14): a fine annulled
    (and refunded if paid) or a loan forgiven, each with its letter. `whatif` is the what-if it
    comes from; `decision_date` (annul_fine) the day the fine was sent — absent: the latest fine."""

    type: Literal["correction"]
    what: Literal["annul_fine", "forgive_loan"]
    reason: Text
    whatif: Annotated[str, Field(pattern=r"^whatif-[0-9a-f]{12}$")]
    decision_date: Day | None = None


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
        ExemptionApplicationReceived, ApplicationCompleted, MedicalAdviceReceived, ObjectionReceived,
        NoticeOfDefaultReceived, FinePaid, Correction, MapCompleted, RouteCompleted,
    ],
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)
EVENT_TYPES: dict[str, type[Event]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in AnyEvent.__origin__.__args__  # type: ignore[attr-defined]
}


# What staff may record as having come on paper: every event but a correction, which comes only
# from a policy what-if's list that staff approved (inburgering/whatif/correct.py).
PAPER_EVENT_TYPES: tuple[str, ...] = tuple(sorted(t for t in EVENT_TYPES if t != "correction"))


def parse_event(raw: dict, *, exact_cents: bool = False) -> Event:
    """Validate one event; raises pydantic.ValidationError naming the field. With `exact_cents`
    every amount must be written with two decimals (the inbound API)."""
    return EVENT_ADAPTER.validate_python(raw, context={EXACT_CENTS: True} if exact_cents else None)


def event_payload(event: Event) -> dict:
    """The event as JSON-safe data (dates as ISO text, money as "250.00")."""
    return event.model_dump(mode="json", exclude_none=True)
