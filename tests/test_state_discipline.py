"""A transition never changes the state it was given (the copy discipline of the processes).

The engine keeps parsed states across a run and undoes a failed event by putting the records
back as they were (Casebook.savepoint): that is right only if no process changes a state in
place. Journeys from the benchmark's generator (random seeds) are driven through the casebook
in memory — the engine's one way of applying events, timers and facts — and at every
transition the state handed in must dump exactly as before.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.generate import generate
from inburgering.domain.events import parse_event
from inburgering.domain.policy import load_default_policy
from inburgering.domain.process import PersonFacts
from inburgering.engine.casebook import Casebook, drive

POLICY = load_default_policy()


class CheckingCasebook(Casebook):
    """A casebook that dumps each state before and after the transition it is given to."""

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.changed: list[str] = []
        self.transitions = 0

    def transition(self, call, state, *args):  # noqa: ANN001, ANN002, ANN201
        before = state.model_dump(mode="json")
        try:
            return call(state, *args)
        finally:
            self.transitions += 1
            if state.model_dump(mode="json") != before:
                self.changed.append(call.__qualname__)  # an assert here would be caught as an engine error


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(1, 10_000))
def test_no_transition_changes_the_state_it_was_given(seed):
    journeys = generate(6, years=3, seed=seed)
    book = CheckingCasebook(journeys.start, POLICY)
    ids = {ref: n for n, ref in enumerate(journeys.people, start=1)}
    for ref, person in journeys.people.items():
        book.add_person(ids[ref], PersonFacts(ref, person["name"], None))
    outcomes = drive(book, [(ids[e["person"]], parse_event(e)) for e in journeys.events], journeys.start,
                     journeys.until)
    assert book.changed == [], f"these transitions changed the state they were given: {sorted(set(book.changed))}"
    assert outcomes["error"] == 0 and outcomes["applied"] > 0
    processes = {case.process for case in book.cases.values()}
    assert {"term", "journey", "invoicing"} <= processes  # the term was reached, the journey told by facts
    assert book.transitions > outcomes["applied"]  # timers and facts were applied too
