"""Random malformed bodies against the real server: every answer is a 4xx naming a field, never a
500, never a BSN, and nothing reaches the inbox. The bodies carry valid BSNs in random places."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inburgering.api.app import MAX_EVENTS
from inburgering.engine.errors import contains_bsn
from tests.test_api import api  # noqa: F401 - the fixture: the API served on a case file with sources


def _with_check_digit(first8: int) -> str | None:
    digits = [int(d) for d in f"{first8:08d}"]
    check = sum(d * w for d, w in zip(digits, range(9, 1, -1))) % 11
    return f"{first8:08d}{check}" if check <= 9 else None


bsns = st.integers(10_000_000, 99_999_999).map(_with_check_digit).filter(lambda b: b is not None)
texts = st.one_of(st.text(max_size=20), bsns, st.builds(lambda a, b, c: a + b + c, st.text(max_size=5), bsns,
                                                        st.text(max_size=5)))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                    texts, bsns.map(int), st.sampled_from(["2024-02-30", "2024-13-01", "12.345", "250.00", "p1",
                                                           "online", "other", "knm"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(texts, inner, max_size=4)),
                           max_leaves=12)

VALID = {
    "residence_permit_granted": {},
    "bsn_registered": {},
    "municipality_registered": {"municipality": "Utrecht"},
    "loan_granted": {"amount": "1000.00"},
    "exam_registered": {"part": "knm", "channel": "online", "exam_date": "2024-04-01", "location": "Utrecht"},
    "invoice_refused": {"invoice_number": "F-1", "reason": "other", "reason_text": "te hoog"},
    "agi_application_received": {"route": "course", "hours": {"integration": 1, "nt2": 1, "alfa": 0},
                                 "school_listed_at_course_start": True},
}


@st.composite
def broken_events(draw, types: list[str]) -> dict:
    """A valid event of a type the source may send, then at least one sure defect, then random
    changes to the other fields."""
    event_type = draw(st.sampled_from(types))
    event = {"id": draw(st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)), "date": "2024-02-01",
             "type": event_type, "person": "p1", **VALID[event_type]}
    defect = draw(st.sampled_from(["id", "bsn id", "bsn key", "person", "date", "type", "own field"]))
    if defect == "id":
        del event["id"]
    elif defect == "bsn id":
        event["id"] = draw(bsns)
        defect = "id"
    elif defect == "bsn key":
        defect = draw(bsns)
        event[defect] = draw(json_values)
    elif defect == "person":
        event["person"] = draw(bsns)
    elif defect == "date":
        event["date"] = draw(st.sampled_from(["2024-02-30", "2023-02-29", "01-02-2024", " 2024-02-01"]))
    elif defect == "type":
        event["type"] = draw(st.one_of(bsns, json_values.filter(lambda v: v is not None and not (isinstance(v, str) and v in VALID))))
    else:
        defect = draw(st.sampled_from([k for k in VALID[event_type]] or ["date"]))
        event[defect] = draw(st.one_of(st.lists(bsns, min_size=1, max_size=2),
                                       st.dictionaries(bsns, bsns, min_size=1, max_size=2)))
    for key in draw(st.lists(st.sampled_from(sorted(set(event) - {defect, "id", "type"})), max_size=2, unique=True)):
        event[key] = draw(json_values)
    return event


def bodies(types: list[str]) -> st.SearchStrategy:
    return st.one_of(broken_events(types), st.lists(st.one_of(broken_events(types), json_values), min_size=1,
                                                     max_size=5), json_values)


def check(answer: httpx.Response) -> None:
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    errors = answer.json()["errors"]
    assert errors and all(e["field"] and e["message"] for e in errors), answer.text
    assert not contains_bsn(answer.text), answer.text


@pytest.mark.parametrize("source, types", [
    ("brp", ["bsn_registered", "municipality_registered"]),
    ("portal", ["exam_registered", "invoice_refused", "agi_application_received"]),
    ("payments", ["loan_granted"]),
])
def test_random_malformed_bodies_get_a_4xx_naming_the_field_and_never_a_bsn(api, source, types):
    with api.client(source) as client:

        @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(body=bodies(types))
        def post(body):
            check(client.post("/v1/events", content=json.dumps(body).encode(),
                              headers={"Content-Type": "application/json"}))

        @settings(max_examples=40, deadline=None)
        @given(raw=st.one_of(st.binary(max_size=200), texts.map(str.encode),
                             st.lists(st.sampled_from([b"{", b"}", b"[", b"]", b'"', b":", b",", b"1", b"123456782",
                                                       b"null", b"NaN", b"\\u0000", b"\\ud800"]),
                                      max_size=30).map(b"".join)))
        def post_raw(raw):
            check(client.post("/v1/events", content=raw))

        post()
        post_raw()
        check(client.post("/v1/events", json=[{"x": 1}] * (MAX_EVENTS + 1)))
    assert api.inbox() == []
