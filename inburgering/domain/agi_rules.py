"""The AGI rules (ontheffing aantoonbaar geleverde inspanningen), domain.md §6.

Every rule is one plain function `rule(file, requirements) -> bool` (True: met). Its
function name is the rule's name: it is what an `agi_decision` letter lists under
`reasons`, and what the letter template explains in Dutch and English.

The numbers come from policy (`Requirements.from_policy`), read as of the day the
application arrived, so old cases keep their rules. Choices made where the sources
leave room (each can be changed through policy without code):

- Attempts: every part in `agi_attempt_parts` needs `agi_min_attempts` counted
  attempts. Default: the four language parts and KNM, not ONA (ONA under Wi2013 can be
  done by portfolio, which is not an exam attempt). A part's counted attempts are its
  integration-exam attempts plus at most `agi_max_nt2_attempts_per_part` Staatsexamen
  Nt2 attempts. The Nt2 exam has no KNM or ONA part, so Nt2 attempts reported for those
  never count. A part the exams case has passed needs no attempts (`AgiFile.passed_parts`,
  filled in when the file is complete).
- Course route hours: integration + Nt2 hours, plus alfa hours only when the
  integration hours reach `agi_min_integration_hours_for_alfa`.
- Alfa route hours: alfa + integration-course hours (Nt2 hours are not named for this
  route, so they do not count), of which at least `agi_min_alfa_hours` alfa. The
  naturalisation advice uses `agi_advice_min_alfa_hours` instead (seed 000: "600 h alfa").
- Hardship: a refusal is a hardship case when all reported hours together (integration,
  Nt2 and alfa) reach `agi_min_hours`.
- Scope: only obligations that began before 2022-01-01 (Wi2013; the Wi2021 municipality
  decides), and only from `agi_min_term_years` after the term started.
- Order: the rules that need no test (`RULES_NEEDING_THE_TEST` aside) are judged first;
  when one fails on the alfa route, the application is refused before the €150 test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from inburgering.domain import calendar
from inburgering.domain.events import AttemptCount, Hours
from inburgering.domain.journey import WI2021_FROM
from inburgering.domain.policy import Policy

# The Staatsexamen Nt2 has these parts; its attempts count only towards them.
NT2_PARTS = frozenset({"lezen", "luisteren", "schrijven", "spreken"})


class AgiFile(BaseModel):
    """What the rules judge: the application's facts and, on the alfa route, the test."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    route: Literal["course", "alfa"]
    hours: Hours
    school_listed_at_course_start: bool
    attempts: dict[str, AttemptCount] = {}
    test_active: bool | None = None  # alfa route: None until the test was taken
    passed_parts: tuple[str, ...] = ()  # parts passed at the exams (they need no attempts)


@dataclass(frozen=True)
class Requirements:
    min_hours: int
    min_integration_hours_for_alfa: int
    min_alfa_hours: int
    min_attempts: int
    max_nt2_attempts_per_part: int
    attempt_parts: tuple[str, ...]

    @classmethod
    def from_policy(cls, policy: Policy, on: dt.date, *, advice: bool = False) -> Requirements:
        return cls(
            min_hours=policy.value("agi_min_hours", on),
            min_integration_hours_for_alfa=policy.value("agi_min_integration_hours_for_alfa", on),
            min_alfa_hours=policy.value("agi_advice_min_alfa_hours" if advice else "agi_min_alfa_hours", on),
            min_attempts=policy.value("agi_min_attempts", on),
            max_nt2_attempts_per_part=policy.value("agi_max_nt2_attempts_per_part", on),
            attempt_parts=tuple(policy.value("agi_attempt_parts", on).split(",")),
        )

    def as_data(self) -> dict:
        """The numbers a letter quotes."""
        return {
            "min_hours": self.min_hours,
            "min_integration_hours_for_alfa": self.min_integration_hours_for_alfa,
            "min_alfa_hours": self.min_alfa_hours,
            "min_attempts": self.min_attempts,
            "max_nt2_attempts_per_part": self.max_nt2_attempts_per_part,
            "attempt_parts": list(self.attempt_parts),
        }


# ---- scope: may the application be handled at all --------------------------------------


def obligation_before_wi2021(obligation_start: dt.date) -> bool:
    """AGI exists only for obligations that began before 2022-01-01 (Wi2013)."""
    return obligation_start < WI2021_FROM


def first_application_day(term_start: dt.date, min_term_years: float) -> dt.date:
    """The first day an AGI exemption can be asked: 2.5 years after the term started."""
    return calendar.add_years(term_start, min_term_years)


def term_old_enough(term_start: dt.date, applied_on: dt.date, min_term_years: float) -> bool:
    return applied_on >= first_application_day(term_start, min_term_years)


# ---- counting ---------------------------------------------------------------------------


def counted_course_hours(hours: Hours, req: Requirements) -> int:
    alfa = hours.alfa if hours.integration >= req.min_integration_hours_for_alfa else 0
    return hours.integration + hours.nt2 + alfa


def counted_alfa_route_hours(hours: Hours) -> int:
    return hours.alfa + hours.integration


def total_hours(hours: Hours) -> int:
    return hours.integration + hours.nt2 + hours.alfa


def counted_attempts(part: str, attempts: AttemptCount, req: Requirements) -> int:
    nt2 = min(attempts.nt2, req.max_nt2_attempts_per_part) if part in NT2_PARTS else 0
    return attempts.integration + nt2


def parts_short_of_attempts(file: AgiFile, req: Requirements) -> list[dict]:
    """Each required part with too few counted attempts, and how many counted."""
    short = []
    for part in (p for p in req.attempt_parts if p not in file.passed_parts):
        counted = counted_attempts(part, file.attempts.get(part, AttemptCount()), req)
        if counted < req.min_attempts:
            short.append({"part": part, "counted": counted})
    return short


# ---- the rules ------------------------------------------------------------------------------


def course_hours(file: AgiFile, req: Requirements) -> bool:
    """Course route: enough counted hours (integration + Nt2, + alfa from 200 integration hours)."""
    return counted_course_hours(file.hours, req) >= req.min_hours


def school_listed(file: AgiFile, req: Requirements) -> bool:
    """The school held the quality mark (was listed) when the course started."""
    return file.school_listed_at_course_start


def exam_attempts(file: AgiFile, req: Requirements) -> bool:
    """Course route: enough counted attempts at every required exam part."""
    return not parts_short_of_attempts(file, req)


def alfa_route_hours(file: AgiFile, req: Requirements) -> bool:
    """Alfa route: enough hours of alfa and integration course together."""
    return counted_alfa_route_hours(file.hours) >= req.min_hours


def alfa_course_hours(file: AgiFile, req: Requirements) -> bool:
    """Alfa route: enough of those hours are alfa (literacy) hours."""
    return file.hours.alfa >= req.min_alfa_hours


def alfa_test_active(file: AgiFile, req: Requirements) -> bool:
    """Alfa route: the test was taken with active participation (answers given)."""
    return file.test_active is True


Rule = Callable[[AgiFile, Requirements], bool]

RULES: dict[str, tuple[Rule, ...]] = {
    "course": (course_hours, school_listed, exam_attempts),
    "alfa": (alfa_route_hours, alfa_course_hours, school_listed, alfa_test_active),
}


RULES_NEEDING_THE_TEST: tuple[Rule, ...] = (alfa_test_active,)


def failed_rules(file: AgiFile, req: Requirements) -> list[str]:
    """The names of the route's rules that are not met, in the order the letter lists them."""
    return [rule.__name__ for rule in RULES[file.route] if not rule(file, req)]


def failed_rules_without_test(file: AgiFile, req: Requirements) -> list[str]:
    """The route's rules that fail already, judged without the alfa test."""
    return [rule.__name__ for rule in RULES[file.route] if rule not in RULES_NEEDING_THE_TEST and not rule(file, req)]


def is_hardship(file: AgiFile, req: Requirements) -> bool:
    """Refused with at least the required hours in all: the Minister of SZW may be asked."""
    return total_hours(file.hours) >= req.min_hours


def facts_for_letter(file: AgiFile, req: Requirements) -> dict:
    """What a decision or advice letter quotes when it explains the rules."""
    counted = counted_course_hours(file.hours, req) if file.route == "course" else counted_alfa_route_hours(file.hours)
    return {
        "route": file.route,
        "hours": file.hours.model_dump(),
        "counted_hours": counted,
        "parts_short_of_attempts": parts_short_of_attempts(file, req) if file.route == "course" else [],
        "requirements": req.as_data(),
    }
