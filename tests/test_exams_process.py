"""The exams state machine called directly: the timers it sets and what a process owner sees."""

from __future__ import annotations

import datetime as dt

from inburgering.domain.events import parse_event
from inburgering.domain.exams import ExamsProcess
from inburgering.domain.intake import IntakeState
from inburgering.domain.journey import JourneyState
from inburgering.domain.policy import load_default_policy
from inburgering.domain.process import Communicate, Context, OpenDeadline, PersonFacts, Timer

D = dt.date.fromisoformat
PROCESS = ExamsProcess()
INTAKE = IntakeState(opened_on=D("2020-01-06"), regime="wi2013", obligation_start=D("2020-01-06"),
                     start_date=D("2020-01-06"), complete_on=D("2020-01-06"))
JOURNEY = JourneyState(regime="wi2013", obligation_start=D("2020-01-06"), obligated=True, pvt_required=True)


def ctx(today: str) -> Context:
    return Context(today=D(today), policy=load_default_policy(),
                   person=PersonFacts(ref="p1", name="Amina Yusuf", born=D("1990-05-01")),
                   cases={("intake", ""): INTAKE, ("journey", ""): JOURNEY})


def event(**fields):
    return parse_event({"person": "p1", **fields})


def test_online_registration_opens_a_timer_on_the_letter_day_and_waits_for_the_result():
    registered = event(date="2020-02-03", type="exam_registered", part="lezen", channel="online",
                       exam_date="2020-04-02", location="Utrecht")
    state = PROCESS.new_state(registered, ctx("2020-02-03"))
    transition = PROCESS.on_event(state, registered, ctx("2020-02-03"))
    assert transition.actions == [OpenDeadline("exam_invitation:lezen", D("2020-03-26"), {"part": "lezen"})]
    assert transition.status == "exams_planned"
    assert transition.waiting_for == "exam results: lezen 2020-04-02"

    fired = PROCESS.on_timer(transition.state, Timer("exam_invitation:lezen", D("2020-03-26"), {"part": "lezen"}),
                             ctx("2020-03-26"))
    (letter,) = fired.actions
    assert isinstance(letter, Communicate) and letter.type == "exam_invitation"
    # a timer that fires twice sends nothing the second time
    again = PROCESS.on_timer(fired.state, Timer("exam_invitation:lezen", D("2020-03-26"), {"part": "lezen"}),
                             ctx("2020-03-27"))
    assert again.actions == []


def test_form_registration_waits_for_the_fee_with_its_amount():
    registered = event(date="2020-02-03", type="exam_registered", part="ona", channel="form",
                       exam_date="2020-04-02", location="Utrecht")
    state = PROCESS.new_state(registered, ctx("2020-02-03"))
    transition = PROCESS.on_event(state, registered, ctx("2020-02-03"))
    assert transition.status == "waiting_for_exam_fee"
    assert transition.waiting_for == "exam fee (form): ona 40.00"
    assert transition.waiting_since == D("2020-02-03")
    assert transition.state.open["ona"].fee == 40
