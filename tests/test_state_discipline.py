"""A transition never changes the state it was given (the copy discipline of the processes).

The engine keeps parsed states across a run and undoes a failed event by putting the records
back as they were (Batch.savepoint): that is right only if no process changes a state in
place. Journeys from the benchmark's generator (random seeds) are driven through the pure
processes; every event, every timer a transition opens (fired at once, as if due) and every
fact it tells is applied, and each time the state handed in must dump exactly as before.
"""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.generate import generate
from inburgering.domain.events import parse_event
from inburgering.domain.policy import load_default_policy
from inburgering.domain.process import Context, EventRejected, Fact, OpenDeadline, PersonFacts, Timer
from inburgering.domain.registry import fact_takers, process_for, process_named

POLICY = load_default_policy()


def _unchanged(call, state, *args):  # noqa: ANN001, ANN202
    before = state.model_dump(mode="json")
    try:
        transition = call(state, *args)
    except (EventRejected, NotImplementedError):
        transition = None
    assert state.model_dump(mode="json") == before, f"{call.__qualname__} changed the state it was given"
    return transition


def _follow(cases: dict, process, key: str, transition, ctx: Context, depth: int = 0) -> None:
    """Keep the new state, then fire the timers it opens and tell the facts it states."""
    cases[(process.name, key)] = transition.state
    for action in transition.actions:
        if isinstance(action, OpenDeadline) and depth < 3:
            fired = _unchanged(process.on_timer, transition.state, Timer(action.kind, action.due, action.data), ctx)
            if fired is not None:
                _follow(cases, process, key, fired, ctx, depth + 1)
        elif isinstance(action, Fact) and depth < 3:
            for taker in fact_takers(type(action)):
                target = taker.fact_case_key(action, ctx)
                state = cases.get((taker.name, target)) if target is not None else None
                if state is None and target is not None:
                    state = taker.new_state_for_fact(action, ctx)
                if state is not None:
                    told = _unchanged(taker.on_fact, state, action, ctx)
                    if told is not None:
                        _follow(cases, taker, target, told, ctx, depth + 1)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(1, 10_000))
def test_no_transition_changes_the_state_it_was_given(seed):
    journeys = generate(6, years=3, seed=seed)
    by_person: dict[str, dict] = defaultdict(dict)
    for raw in sorted(journeys.events, key=lambda e: e["date"]):
        event = parse_event(raw)
        cases = by_person[event.person]
        ctx = Context(today=event.date, policy=POLICY, person=PersonFacts(event.person, "name", None), cases=cases)
        process = process_for(event)
        try:
            key = process.case_key(event, ctx)
            state = cases.get((process.name, key)) or process.new_state(event, ctx)
        except EventRejected:
            continue
        transition = _unchanged(process.on_event, state, event, ctx)
        if transition is not None:
            _follow(cases, process, key, transition, ctx)
    assert any(name == "term" for cases in by_person.values() for name, _ in cases)  # the term was reached
    assert process_named("journey")  # and every process took part through the facts
