"""The inbound API as an attacker and a careless sender try it (issue 25): one person model
with the scenario loader's checks, a 409 that is no oracle, identity by id (nothing answered
202 and then dropped), header text refused where it enters, a school speaking only for the
people it teaches, BSNs in any writing, and money with exactly two decimals."""

from __future__ import annotations

import datetime as dt

import pytest

from inburgering.engine import service
from tests.test_api import BSN, api, assert_no_bsn, permit  # noqa: F401 - the fixture

PERSON = {"ref": "p5", "bsn": "100000009", "name": "Lena Petrova", "email": "lena@example.org", "born": "1985-04-12"}
INVOICE = {"type": "invoice_submitted", "school": "Taalhuis Noord", "invoice_number": "TN-1", "contract_number": "C-1",
           "course_type": "Inburgering", "description": "lessen", "invoice_date": "2024-02-01",
           "period_from": "2024-01-01", "period_to": "2024-01-31", "courses": 1, "course_fee": "100.00",
           "materials_fee": "0.00", "exam_fee": "0.00"}
HEADER_INJECTION = "A-1\r\nBcc: evil@example.org\r\nX-Injected: 1<script>"


def event(id_: str, person: str = "p1", date: str = "2024-02-01", **fields) -> dict:
    return {"id": id_, "date": date, "person": person, **fields}


# ---- people: the scenario loader's checks ------------------------------------------------------------


@pytest.mark.parametrize("change, field", [
    ({"email": "a@example.org\r\nBcc: x@evil.example"}, "email"),
    ({"email": "a@example.org\x07"}, "email"),
    ({"name": "Lena\r\nBcc: x@evil.example"}, "name"),
    ({"name": "Lena\x1b[31m"}, "name"),
    ({"name": "   "}, "name"),
    ({"ref": "  "}, "ref"),
    ({"ref": "p5\r\nX: 1"}, "ref"),
    ({"born": "9999-12-31"}, "born"),
    ({"born": "1066-10-14"}, "born"),
    ({"ref": "111222333"}, "ref"),
    ({"ref": "111.222.333"}, "ref"),
    ({"ref": "p-111-222-333"}, "ref"),
    ({"ref": "111\u00a0222\u00a0333"}, "ref"),
])
def test_a_person_is_checked_as_the_scenario_loader_checks_one(api, change, field):
    with api.client("brp") as brp:
        answer = brp.post("/v1/people", json={**PERSON, **change})
    assert answer.status_code == 422, answer.text
    assert field in {e["field"] for e in answer.json()["errors"]}
    assert_no_bsn(answer)
    assert "111222333" not in answer.text and "100000009" not in answer.text


def test_a_conflicting_registration_names_no_stored_value(api):
    """Before: the 409 listed which stored fields differed (a birth date found in 93 requests),
    and a known BSN answered "already has this BSN"."""
    with api.client("brp") as brp:
        assert brp.post("/v1/people", json=PERSON).status_code == 201
        answers = [brp.post("/v1/people", json={**PERSON, **change}) for change in (
            {"born": "1985-04-13"}, {"name": "Lena P."}, {"email": "other@example.org"}, {"ref": "p6"},
            {"ref": "p1"})]
    assert {a.status_code for a in answers} == {409}
    assert len({a.text for a in answers}) == 1  # the same answer whatever differs
    text = answers[0].text
    for word in ("born", "name", "email", "already has this BSN", "1985"):
        assert word not in text


# ---- identity is the id ----------------------------------------------------------------------------


def test_a_rejected_event_sent_again_under_a_new_id_is_applied_not_dropped(api):
    accepted = event("portal-1", type="invoice_accepted", invoice_number="TN-1", date="2024-02-02")
    assert api.post("portal", accepted).status_code == 202
    service.ingest(api.case_file, dt.date(2024, 2, 2))  # no invoice TN-1 yet: rejected
    assert api.post("school", event("tn-1", **INVOICE)).status_code == 202
    assert api.post("portal", {**accepted, "id": "portal-2"}).status_code == 202  # the cause is fixed: again
    service.ingest(api.case_file, dt.date(2024, 2, 3))
    with api.client("portal") as portal:
        first, second = (portal.get(f"/v1/events/{id_}").json() for id_ in ("portal-1", "portal-2"))
    assert first["status"] == "rejected" and "api:" not in first["reason"]
    assert second == {"id": "portal-2", "status": "applied", "reason": None, "case": "case-1"}  # the case it touched


def test_two_events_of_the_same_content_in_one_list_are_two_events(api):
    answer = api.post("ind", [permit("ind-1"), permit("ind-2")])
    assert answer.status_code == 202 and [a["status"] for a in answer.json()] == ["accepted", "accepted"]
    service.ingest(api.case_file, dt.date(2024, 3, 1))
    with api.client("ind") as ind:
        reasons = [ind.get(f"/v1/events/ind-{n}").json()["reason"] for n in (1, 2)]
    assert not any("api:" in (r or "") or "duplicate" in (r or "") for r in reasons)


# ---- header text -----------------------------------------------------------------------------------


@pytest.mark.parametrize("source, fields, field", [
    ("school", {**INVOICE, "invoice_number": HEADER_INJECTION}, "invoice_number"),
    ("school", {**INVOICE, "contract_number": "C-1\nBcc: x@evil.example"}, "contract_number"),
    ("school", {**INVOICE, "school": "Taalhuis Noord\r\n"}, "school"),
    ("portal", {"type": "invoice_accepted", "invoice_number": "TN-1\u2028Bcc: x"}, "invoice_number"),
    ("portal", {"type": "invoice_refused", "invoice_number": "TN-1\x85", "reason": "incomplete"}, "invoice_number"),
])
def test_text_that_goes_into_a_header_is_refused_where_it_enters(api, source, fields, field):
    answer = api.post(source, event("h-1", **fields))
    assert answer.status_code in (403, 422), answer.text
    assert any(e["field"] == field and ("line break" in e["message"] or "control" in e["message"])
               for e in answer.json()["errors"]) or answer.status_code == 403
    assert api.inbox() == []


# ---- a school speaks for the people it teaches --------------------------------------------------------


def test_a_school_declaration_needs_an_invoice_of_that_school_for_that_person(api):
    declaration = event("decl-1", type="school_declaration_received")
    refused = api.post("school", declaration)
    assert refused.status_code == 403, refused.text
    assert refused.json()["errors"][0]["field"] == "person" and "Taalhuis Noord" in refused.json()["errors"][0][
        "message"]
    hours = event("hours-1", type="course_hours_reported", school="Taalhuis Noord", hours=10, listed=True,
                  period_from="2024-01-01", period_to="2024-01-31")
    assert api.post("school", hours).status_code == 403
    assert api.inbox() == []
    # the invoice first (or earlier in the same list), then the school speaks for the person
    both = api.post("school", [event("tn-1", **INVOICE), declaration])
    assert both.status_code == 202, both.text
    # another person, whose invoice is of another school: still refused
    assert api.post("school", event("decl-2", person="p2", type="school_declaration_received")).status_code == 403


# ---- BSNs in any writing ------------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["111-222-333", "111_222_333", "111/222/333", "111,222,333", "111.222.333",
                                     "111 222 333", "111\u00a0222\u00a0333", "111\u202f222\u202f333",
                                     "1112-22-333"])
def test_a_bsn_in_any_writing_is_never_echoed(api, written):
    answers = [api.post("ind", permit(person=written)),  # an unknown person
               api.post("ind", {**permit(), f"x{written}": 1}),  # in a field name
               api.post("brp", event("m-1", type="municipality_registered", municipality=1, x=written)),
               api.post("ind", permit(id_=f"ind-{written}".replace(" ", "-")))]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert written not in answer.json()["errors"][0]["field"] + answer.json()["errors"][0]["message"]
        assert "111222333" not in answer.text and "222" not in answer.text, answer.text
        assert_no_bsn(answer)


# ---- money --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["12.3", "12", "12.300", 12])
def test_money_in_the_api_has_exactly_two_decimals(api, amount):
    answer = api.post("payments", event("loan-1", type="loan_granted", amount=amount))
    assert answer.status_code == 422
    (error,) = answer.json()["errors"]
    assert error["field"] == "amount" and ("two decimals" in error["message"] or "whole cents" in error["message"])
    assert api.post("payments", event("loan-1", type="loan_granted", amount="12.30")).status_code == 202
