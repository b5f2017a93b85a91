"""Exam rules as data: which parts a person must pass, what a part costs, when the letter goes.

Which parts a regime requires (this table is `TRACKS` below; the code reads nothing else):

| regime | route (PIP) | part | level | required when | source |
|---|---|---|---|---|---|
| Wi2013 (obligation 2013-01-01 … 2021-12-31) | – | lezen, luisteren, schrijven, spreken | A2 | always | seed; public (inburgeren.nl, Wi art. 7) |
| Wi2013 | – | KNM | – | always | seed; public |
| Wi2013 | – | ONA | – | the obligation started on/after `wi2013_ona_required_from` (2015-01-01) | public (domain.md §1; Staatsexamens Nt2 FAQ "Moet ik ook examen ONA en KNM doen?") |
| Wi2021 (obligation from 2022-01-01) | B1-route | lezen, luisteren, schrijven, spreken | B1 | always | public (Wi2021 art. 7; MvT 35 483 §2.7.1.1) |
| Wi2021 | B1-route | KNM | – | always | public (Wi2021 art. 7; MvT §2.7.1.1) |
| Wi2021 | B1-route | ONA | – | never: the municipality's Module Arbeidsmarkt & Participatie (MAP) replaces it | public (MvT §2.7.2.2) |
| Wi2021 | onderwijsroute | none | – | never: the route ends with a diploma of the education track (taalschakeltraject / follow-up study), not with DUO exam parts | public (MvT §2.7.1.2; Divosa Q&A leerroutes) ⚠ |
| Wi2021 | Z-route | none | – | never: the municipality's self-reliance route has no exam | public (MvT §2.7.1.3) |
| Wi2021 | no PIP yet | none yet | – | the parts follow the route, so registration waits for the PIP | domain.md §2–3 |
| voluntary (naturalisation / a stronger permit) | – | lezen, luisteren, schrijven, spreken | A2 | always | public (IND "Inburgering in Nederland": language requirement A2) |
| voluntary | – | KNM | – | always | public |
| voluntary | – | ONA | – | unless the person has reached AOW (state-pension) age on the day it is checked (`aow_age_months`) | seed 000 ("people of AOW age need no ONA for naturalisation") |

Interpretations (⚠, written down here and in the report):
- The participation statement (PVT, Wi2013 from 2017-10-01) and the MAP (Wi2021) are
  municipal trajectories, not DUO exam parts, and no scenario event reports them: the
  diploma follows the exam parts alone.
- Wi2021 B1-route "afschalen" (a part at A2 after effort) is a DUO decision we do not
  receive as an event: every language part is at B1.
- AOW age is a policy value by year (SVB: 66y4m in 2019–2021, 66y7m in 2022, 66y10m
  in 2023, 67y from 2024, 67y3m from 2028): a person has reached it on day D when
  born + the AOW age in force on D ≤ D. Without a birth date the exemption cannot be
  granted. The exemption applies to the voluntary regime only, because only there is
  the exam taken for naturalisation; an obligated person's ONA is required by law.
- Exam fees are per part (`exam_fee`, `exam_fee_ona`), read as of the registration day.

Invitation letter day by channel (`INVITATIONS`): online → `exam_invitation_days_online`
(7) days before the exam; school → `exam_invitation_days_school` (14) days before;
form → the `exam_form_invitation_working_days`-th (1st) working day after the fee is
paid, never later than `exam_form_invitation_max_days` (21) days after the payment nor
on or after the exam day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from inburgering.domain import calendar
from inburgering.domain.journey import OBLIGATED_REGIMES, has_aow_age  # noqa: F401 - the journey's rules
from inburgering.domain.policy import Policy

LANGUAGE_PARTS = ("lezen", "luisteren", "schrijven", "spreken")
ALL_PARTS = (*LANGUAGE_PARTS, "knm", "ona")

# Registrations a channel cannot take, with the reason a person can act on (seed).
CHANNEL_EXCLUDED: dict[tuple[str, str], str] = {
    ("ona", "school"): "ONA cannot be registered through a school: register ONA online in Mijn Inburgering "
                       "or by form (with the portfolio)",
}

# Policy key of each part's fee; a part not listed costs `exam_fee`.
FEE_KEYS = {"ona": "exam_fee_ona"}


@dataclass(frozen=True)
class Facts:
    """What the part rules look at, as of day `on`."""

    regime: str
    route: str | None
    obligation_start: dt.date
    born: dt.date | None
    on: dt.date
    policy: Policy


# ---- conditions: when a conditional part is required ---------------------------------------


@dataclass(frozen=True)
class Condition:
    holds: Callable[[Facts], bool]
    unmet: Callable[[Facts], str]  # why the part is not required when it does not hold


def _ona_required_from(f: Facts) -> dt.date:
    return f.policy.value("wi2013_ona_required_from", f.obligation_start)


OBLIGATION_FROM_ONA_DATE = Condition(
    holds=lambda f: f.obligation_start >= _ona_required_from(f),
    unmet=lambda f: (f"ONA is required only when the obligation started on or after "
                     f"{_ona_required_from(f).isoformat()}; this person's started on {f.obligation_start.isoformat()}"),
)
BELOW_AOW_AGE = Condition(
    holds=lambda f: not has_aow_age(f.born, f.on, f.policy),
    unmet=lambda f: "people of state-pension (AOW) age need no ONA for naturalisation",
)


# ---- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartRule:
    parts: tuple[str, ...]
    level: str | None = None
    when: Condition | None = None  # None: always required


@dataclass(frozen=True)
class Track:
    """What one regime (and, under Wi2021, one route) requires."""

    label: str
    rules: tuple[PartRule, ...]
    # Why a part without a rule is not part of this track; "*" covers every part.
    why_not: dict[str, str] = field(default_factory=dict)


TRACKS: dict[tuple[str, str | None], Track] = {
    ("wi2013", None): Track("Wi2013", (
        PartRule(LANGUAGE_PARTS, "A2"),
        PartRule(("knm",)),
        PartRule(("ona",), when=OBLIGATION_FROM_ONA_DATE),
    )),
    ("wi2021", "b1"): Track("Wi2021 B1-route", (
        PartRule(LANGUAGE_PARTS, "B1"),
        PartRule(("knm",)),
    ), why_not={"ona": "under Wi2021 the municipality's Module Arbeidsmarkt & Participatie (MAP) replaces ONA"}),
    ("wi2021", "onderwijs"): Track("Wi2021 onderwijsroute", (), why_not={
        "*": "in the onderwijsroute the obligation is met with a diploma of the education track, not with "
             "DUO exam parts; if the route changes, the municipality sets a new PIP first"}),
    ("wi2021", "z"): Track("Wi2021 Z-route", (), why_not={
        "*": "the Z-route (zelfredzaamheidsroute) has no exam; if the route changes, the municipality sets a "
             "new PIP first"}),
    ("wi2021", None): Track("Wi2021 without a PIP", (), why_not={
        "*": "under Wi2021 the exam parts follow the route in the personal plan (PIP), which the municipality "
             "has not set yet"}),
    ("voluntary", None): Track("voluntary integration", (
        PartRule(LANGUAGE_PARTS, "A2"),
        PartRule(("knm",)),
        PartRule(("ona",), when=BELOW_AOW_AGE),
    )),
}


@dataclass(frozen=True)
class Assessment:
    part: str
    required: bool
    level: str | None
    reason: str | None  # why not required


def track_for(facts: Facts) -> Track | None:
    route = facts.route if facts.regime == "wi2021" else None
    return TRACKS.get((facts.regime, route))


def assess(facts: Facts) -> dict[str, Assessment]:
    """Every part, whether this person needs it as of `facts.on`, and if not, why."""
    track = track_for(facts)
    if track is None:
        return {p: Assessment(p, False, None, f"no exam rules are known for regime {facts.regime!r}")
                for p in ALL_PARTS}
    result = {}
    for part in ALL_PARTS:
        rule = next((r for r in track.rules if part in r.parts), None)
        if rule is None:
            reason = track.why_not.get(part) or track.why_not.get("*") or f"{part} is not part of the {track.label} exam"
            result[part] = Assessment(part, False, None, reason)
        elif rule.when is not None and not rule.when.holds(facts):
            result[part] = Assessment(part, False, None, rule.when.unmet(facts))
        else:
            result[part] = Assessment(part, True, rule.level, None)
    return result


def required_parts(facts: Facts) -> list[str]:
    return [a.part for a in assess(facts).values() if a.required]


def exam_fee(part: str, on: dt.date, policy: Policy) -> Decimal:
    return policy.money(FEE_KEYS.get(part, "exam_fee"), on)


# ---- invitation letter day by channel ---------------------------------------------------------------


@dataclass(frozen=True)
class DaysBeforeExam:
    """The letter is dated a fixed number of days before the exam."""

    key: str
    needs_fee: bool = False

    def day(self, exam_date: dt.date, registered_on: dt.date, fee_paid_on: dt.date | None,
            policy: Policy) -> dt.date | None:
        return exam_date - dt.timedelta(days=policy.value(self.key, registered_on))


@dataclass(frozen=True)
class AfterFeePaid:
    """The letter follows the payment of the fee: the n-th working day after it, within a
    maximum number of days, and before the exam day."""

    working_days_key: str
    max_days_key: str
    needs_fee: bool = True

    def day(self, exam_date: dt.date, registered_on: dt.date, fee_paid_on: dt.date | None,
            policy: Policy) -> dt.date | None:
        if fee_paid_on is None:
            return None
        day = fee_paid_on
        for _ in range(policy.value(self.working_days_key, fee_paid_on)):
            day = calendar.next_working_day_after(day)
        latest = fee_paid_on + dt.timedelta(days=policy.value(self.max_days_key, fee_paid_on))
        return min(day, latest, exam_date - dt.timedelta(days=1))


INVITATIONS: dict[str, DaysBeforeExam | AfterFeePaid] = {
    "online": DaysBeforeExam("exam_invitation_days_online"),
    "school": DaysBeforeExam("exam_invitation_days_school"),
    "form": AfterFeePaid("exam_form_invitation_working_days", "exam_form_invitation_max_days"),
}
