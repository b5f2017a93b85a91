"""The inbound API against the real server (uvicorn on a free port), on SQLite and PostgreSQL:
every row of api.md's status table, idempotency under concurrent duplicates, a crash between
storing and answering, lists all or nothing, revocation at once, and no BSN in any answer."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx
import pytest
from sqlalchemy import func, select

from inburgering.api.app import MAX_BODY
from inburgering.api.sources import add_source, revoke_source
from inburgering.engine import service
from inburgering.engine.errors import InputError, contains_bsn
from inburgering.store.db import CaseFile
from inburgering.store.models import Person, ReceivedEvent
from tests.api_server import ApiProcess, ThreadedApi

BSN = {"p1": "123456782", "p2": "111222333"}
NOW = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
SOURCES = {"ind": ("ind", None), "brp": ("brp", None), "school": ("school", "Taalhuis Noord"),
           "portal": ("portal", None), "exams": ("exams", None), "payments": ("payments", None),
           "old-ind": ("ind", None)}


@dataclass
class Api:
    url: str
    tokens: dict[str, str]
    case_file: CaseFile

    def client(self, source: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[source]}"} if source else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def post(self, source: str | None, body: object) -> httpx.Response:
        with self.client(source) as client:
            return client.post("/v1/events", json=body)

    def inbox(self) -> list[tuple[str | None, str, str]]:
        with self.case_file.transaction() as session:
            return session.execute(select(ReceivedEvent.sender_event_id, ReceivedEvent.source, ReceivedEvent.status)
                                   .order_by(ReceivedEvent.id)).all()


def prepare(database_url: str) -> tuple[CaseFile, dict[str, str]]:
    case_file = CaseFile(database_url)
    with case_file.transaction() as session:
        tokens = {name: add_source(session, name, kind, school=school, now=NOW)
                  for name, (kind, school) in SOURCES.items()}
        for ref, bsn in BSN.items():
            service.register_person(session, ref=ref, bsn=bsn, name=f"Person {ref}", email=f"{ref}@example.org")
    return case_file, tokens


@pytest.fixture
def api(database_url):
    case_file, tokens = prepare(database_url)
    with ThreadedApi(database_url) as server:
        yield Api(server.url, tokens, case_file)
    case_file.dispose()


def permit(id_: str = "ind-1", person: str = "p1", date: str = "2024-02-01", **fields) -> dict:
    return {"id": id_, "date": date, "type": "residence_permit_granted", "person": person, **fields}


def assert_no_bsn(response: httpx.Response) -> None:
    assert not contains_bsn(response.text), response.text
    for bsn in BSN.values():
        assert bsn not in response.text


# ---- 200 / 202 / 409 and GET /v1/events/{id} ------------------------------------------------------


def test_health_needs_no_token_and_the_contract_is_in_openapi(api):
    assert httpx.get(f"{api.url}/v1/health").json() == {"status": "ok"}
    spec = httpx.get(f"{api.url}/openapi.json").json()
    assert {"/v1/events", "/v1/events/{event_id}", "/v1/people", "/v1/health"} <= set(spec["paths"])
    responses = spec["paths"]["/v1/events"]["post"]["responses"]
    assert {"200", "202", "401", "403", "409", "413", "422"} <= set(responses)
    assert "id" in spec["components"]["schemas"]["LoanGranted"]["required"]
    assert httpx.get(f"{api.url}/docs").status_code == 200
    nowhere = httpx.get(f"{api.url}/v1/nowhere/{BSN['p1']}")
    assert nowhere.status_code == 404 and nowhere.json()["errors"][0]["field"] == "path"
    assert_no_bsn(nowhere)
    assert httpx.delete(f"{api.url}/v1/events").status_code == 405


def test_accepted_once_then_duplicate_and_other_content_under_the_same_id_is_409(api):
    first = api.post("ind", permit())
    assert (first.status_code, first.json()) == (202, {"id": "ind-1", "status": "accepted"})
    again = api.post("ind", permit())
    assert (again.status_code, again.json()) == (200, {"id": "ind-1", "status": "duplicate"})
    # the same content written differently is the same event
    assert api.post("ind", {**permit(), "voluntary": False}).status_code == 200
    changed = api.post("ind", permit(date="2024-02-02"))
    assert changed.status_code == 409
    assert changed.json()["errors"][0]["field"] == "id"
    assert api.inbox() == [("ind-1", "api:ind", "pending")]


def test_the_sender_sees_pending_then_applied_or_rejected_with_the_reason(api):
    assert api.post("ind", permit()).status_code == 202
    # the portal accepts an invoice the case file never received: a rule refuses it at ingest
    refused = {"id": "portal-9", "date": "2024-02-03", "type": "invoice_accepted", "person": "p1",
               "invoice_number": "F-404"}
    assert api.post("portal", refused).status_code == 202
    with api.client("ind") as ind, api.client("portal") as portal:
        assert ind.get("/v1/events/ind-1").json() == {"id": "ind-1", "status": "pending", "reason": None,
                                                      "case": None}
        service.ingest(api.case_file, dt.date(2024, 3, 1))
        applied = ind.get("/v1/events/ind-1").json()  # with the case it touched: its page is that artifact
        assert applied == {"id": "ind-1", "status": "applied", "reason": None, "case": applied["case"]}
        assert re.fullmatch(r"case-\d+", applied["case"])
        answer = portal.get("/v1/events/portal-9").json()
        assert answer["status"] == "rejected" and answer["reason"]
        # same source only
        other = portal.get("/v1/events/ind-1")
        assert other.status_code == 404 and other.json()["errors"][0]["field"] == "id"


def test_a_second_id_with_the_same_content_is_a_new_event(api):
    """Identity is the id (api.md): the same content under a new id is not dropped as a repeat."""
    assert api.post("ind", permit("ind-1")).status_code == 202
    assert api.post("ind", permit("ind-2")).status_code == 202  # the sender's id is new
    service.ingest(api.case_file, dt.date(2024, 3, 1))
    with api.client("ind") as ind:
        assert ind.get("/v1/events/ind-1").json()["status"] == "applied"
        second = ind.get("/v1/events/ind-2").json()
        assert "duplicate" not in str(second["reason"]) and "already received" not in str(second["reason"])


# ---- 401 / 403 ------------------------------------------------------------------------------------


def test_no_token_an_unknown_token_and_another_scheme_are_401(api):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": f"Basic {api.tokens['ind']}"},
                    {"Authorization": "Bearer"}):
        answer = httpx.post(f"{api.url}/v1/events", json=permit(), headers=headers)
        assert answer.status_code == 401
        assert answer.json()["errors"][0]["field"] == "Authorization"
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert httpx.get(f"{api.url}/v1/events/ind-1").status_code == 401
    assert api.inbox() == []


def test_a_revoked_token_is_refused_at_once(api):
    with api.client("old-ind") as old:
        assert old.post("/v1/events", json=permit("a")).status_code == 202
        with api.case_file.transaction() as session:
            revoke_source(session, "old-ind", now=NOW)
        assert old.post("/v1/events", json=permit("b", person="p2")).status_code == 401  # the same connection
        assert old.get("/v1/events/a").status_code == 401
    assert [row[0] for row in api.inbox()] == ["a"]


@pytest.mark.parametrize("source, event, field", [
    ("ind", {"type": "bsn_registered"}, "type"),  # a type its kind may not send
    ("school", {"type": "invoice_submitted", "school": "Leercentrum Zuid", "invoice_number": "LZ-1",
                "contract_number": "C-1", "course_type": "Inburgering", "description": "lessen",
                "invoice_date": "2024-02-01", "period_from": "2024-01-01", "period_to": "2024-01-31", "courses": 1,
                "course_fee": "100.00", "materials_fee": "0.00", "exam_fee": "0.00"}, "school"),  # another school
    ("portal", {"type": "exam_registered", "part": "knm", "channel": "school", "exam_date": "2024-04-01",
                "location": "Utrecht"}, "channel"),  # the portal speaks for online registrations only
    ("exams", {"type": "staff_decision", "case": "agi", "decision": "granted"}, "type"),  # no outside system
])
def test_what_a_source_may_not_send_is_403_and_nothing_is_stored(api, source, event, field):
    answer = api.post(source, {"id": "x-1", "date": "2024-02-01", "person": "p1", **event})
    assert answer.status_code == 403
    assert answer.json()["errors"][0]["field"] == field
    assert api.inbox() == []


def test_a_school_sends_for_its_own_school(api):
    invoice = {"id": "tn-1", "date": "2024-02-01", "person": "p1", "type": "invoice_submitted",
               "school": "Taalhuis Noord", "invoice_number": "TN-1", "contract_number": "C-1",
               "course_type": "Inburgering", "description": "lessen", "invoice_date": "2024-02-01",
               "period_from": "2024-01-01", "period_to": "2024-01-31", "courses": 1, "course_fee": "100.00",
               "materials_fee": "0.00", "exam_fee": "0.00"}
    assert api.post("school", invoice).status_code == 202


# ---- 413 ------------------------------------------------------------------------------------------


def test_a_body_over_1_mib_is_413_by_its_length_and_while_it_streams(api):
    big = json.dumps([permit(f"id-{i}", municipality="x" * 400) for i in range(3000)]).encode()
    assert len(big) > MAX_BODY
    declared = api.client("ind").post("/v1/events", content=big, headers={"Content-Type": "application/json"})
    assert declared.status_code == 413 and declared.json()["errors"][0]["field"] == "body"

    def chunks():  # no Content-Length: chunked, counted as it arrives
        for start in range(0, len(big), 64 * 1024):
            yield big[start:start + 64 * 1024]

    streamed = api.client("ind").post("/v1/events", content=chunks())
    assert streamed.status_code == 413
    assert api.inbox() == []


def test_a_declared_length_over_1_mib_is_refused_before_the_body_is_sent(api):
    """Only the headers go out: the answer comes without the server waiting for a body."""
    address = urlparse(api.url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(f"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.tokens['ind']}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {1024 ** 3}\r\n\r\n".encode())
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"


# ---- 422 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fields, field", [
    ({"type": "bsn_registred"}, "type"),  # unknown type
    ({"type": "municipality_registered"}, "municipality"),  # missing field
    ({"type": "bsn_registered", "colour": "blue"}, "colour"),  # unknown field
    ({"type": "bsn_registered", "date": "2024-02-30"}, "date"),  # impossible date
    ({"type": "loan_granted", "amount": "12.345"}, "amount"),  # money that is not two decimals
    ({"type": "loan_granted", "amount": 12.5}, "amount"),  # money as a floating-point number
    ({"type": "invoice_refused", "invoice_number": "F-1", "reason": "other"}, "event"),  # a rule over fields
])
def test_a_malformed_event_is_422_with_the_scenario_loaders_message(api, fields, field):
    source = {"bsn_registered": "brp", "municipality_registered": "brp", "loan_granted": "payments",
              "invoice_refused": "portal"}.get(fields["type"], "brp")
    raw = {"date": "2024-02-01", "person": "p1", **fields}
    with pytest.raises(InputError) as loader:  # what a scenario file's event gets
        service.validate_event(raw)
    answer = api.post(source, {"id": "e-1", **raw})
    assert answer.status_code == 422
    assert answer.json() == {"errors": [{"field": f or "event", "message": m} for f, m in loader.value.problems]}
    assert answer.json()["errors"][0]["field"] == field
    assert api.inbox() == []


@pytest.mark.parametrize("body, errors", [
    (permit(person="p9"), [("person", "no person 'p9' in the case file")]),
    (permit(person=BSN["p1"]), [("person", "no person '[number removed: it may be a BSN]' in the case file")]),
    ({k: v for k, v in permit().items() if k != "id"}, [("id", "is required but missing: the sender's own "
                                                                "unique id for this event")]),
    (permit(id_=BSN["p2"]), [("id", "holds a number that looks like a BSN; an id must not be personal data")]),
    (permit(id_="111.222.333"), [("id", "holds a number that looks like a BSN; an id must not be personal data")]),
    (permit(id_="ind-111-222-333"), [("id", "holds a number that looks like a BSN; an id must not be personal data")]),
    (permit(id_="has space"), [("id", "use 1-200 letters, digits, '.', '_', ':', '~' or '-', starting with a "
                                      "letter or digit")]),
    ("not an event", [("body", "send one event (a JSON object) or a list of events")]),
    ([], [("events", "the list is empty; send at least one event")]),
    ([permit(f"e{i}") for i in range(1001)], [("events", "at most 1,000 events in one request; this list has "
                                                         "1,001")]),
])
def test_unknown_person_bad_ids_and_bad_shapes_are_422_naming_the_field(api, body, errors):
    answer = api.post("ind", body)
    assert answer.status_code == 422
    assert [(e["field"], e["message"]) for e in answer.json()["errors"]] == errors
    assert_no_bsn(answer)
    assert api.inbox() == []


def test_a_body_that_is_not_json_is_422_on_the_body(api):
    for content in (b"{", b"\xff\xfe", b'{"amount": NaN}', b"[" * 5000 + b"]" * 5000, b'{"person": "\\u0000"}',
                    b'{"person": "\\ud800"}'):
        answer = api.client("ind").post("/v1/events", content=content)
        assert answer.status_code == 422, content
        assert answer.json()["errors"][0]["field"] == "body"


# ---- lists: all or nothing --------------------------------------------------------------------------


def test_a_list_is_all_or_nothing_and_names_every_bad_item(api):
    bad = [permit("l-0"), permit("l-1", date="2024-02-30"), permit("l-2", person="p2"), permit("l-3", person="p7")]
    answer = api.post("ind", bad)
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["events[1].date", "events[3].person"]
    forbidden = api.post("ind", [permit("l-0"), {**permit("l-1"), "type": "bsn_registered"}, permit("l-3", person="p7")])
    assert forbidden.status_code == 403  # a type it may not send outweighs a malformed one; both are named
    assert [e["field"] for e in forbidden.json()["errors"]] == ["events[1].type", "events[2].person"]
    same_id = api.post("ind", [permit("l-0"), permit("l-0", person="p2")])
    assert same_id.status_code == 422 and same_id.json()["errors"][0]["field"] == "events[1].id"
    assert api.inbox() == []

    good = [permit("l-0"), permit("l-2", person="p2")]
    accepted = api.post("ind", good)
    assert (accepted.status_code, accepted.json()) == (202, [{"id": "l-0", "status": "accepted"},
                                                              {"id": "l-2", "status": "accepted"}])
    again = api.post("ind", good)
    assert again.status_code == 200 and {a["status"] for a in again.json()} == {"duplicate"}
    mixed = api.post("ind", [permit("l-4", date="2024-02-05"), permit("l-0")])
    assert mixed.status_code == 202 and [a["status"] for a in mixed.json()] == ["accepted", "duplicate"]
    conflict = api.post("ind", [permit("l-5", date="2024-02-06"), permit("l-2", person="p1", date="2024-02-07")])
    assert conflict.status_code == 409
    assert [e["field"] for e in conflict.json()["errors"]] == ["events[1].id"]
    assert [row[0] for row in api.inbox()] == ["l-0", "l-2", "l-4"]  # nothing of the refused lists


# ---- concurrency ----------------------------------------------------------------------------------


def _at_once(api: Api, bodies: list[object]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(bodies))
    answers: list[httpx.Response | None] = [None] * len(bodies)
    clients = [api.client("ind") for _ in bodies]
    for client in clients:
        client.get("/v1/health")  # connected before the race starts

    def send(i: int) -> None:
        barrier.wait()
        answers[i] = clients[i].post("/v1/events", json=bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    return answers  # type: ignore[return-value]


def test_two_identical_requests_at_once_give_one_202_one_200_and_one_row(api):
    for round_ in range(8):
        event = permit(f"race-{round_}", date=f"2024-02-{round_ + 1:02d}")
        answers = _at_once(api, [event, event])
        assert sorted(a.status_code for a in answers) == [200, 202], [a.text for a in answers]
        lists = [[permit(f"race-l{round_}-{i}", person="p2", date=f"2024-01-{i + 1:02d}") for i in range(20)]] * 2
        answers = _at_once(api, lists)
        assert sorted(a.status_code for a in answers) == [200, 202], [a.text for a in answers]
    ids = [row[0] for row in api.inbox()]
    assert len(ids) == len(set(ids)) == 8 * 21


# ---- a crash between storing and answering ----------------------------------------------------------


def test_a_crash_after_storing_is_answered_by_the_retry_with_200_duplicate(database_url, tmp_path):
    case_file, tokens = prepare(database_url)
    headers = {"Authorization": f"Bearer {tokens['ind']}"}
    with ApiProcess(database_url, tmp_path / "api.log", INBURGERING_CRASH_AT="api_after_commit") as server:
        with pytest.raises(httpx.TransportError):  # the server dies before it answers
            httpx.post(f"{server.url}/v1/events", json=permit(), headers=headers, timeout=60)
        assert server.wait() == 137
    api = Api("", tokens, case_file)
    assert api.inbox() == [("ind-1", "api:ind", "pending")]  # stored: committed before the answer
    with ApiProcess(database_url, tmp_path / "api.log") as server:
        retry = httpx.post(f"{server.url}/v1/events", json=permit(), headers=headers, timeout=60)
    assert (retry.status_code, retry.json()) == (200, {"id": "ind-1", "status": "duplicate"})
    assert api.inbox() == [("ind-1", "api:ind", "pending")]
    case_file.dispose()


def test_no_bsn_reaches_the_servers_log(database_url, tmp_path):
    case_file, tokens = prepare(database_url)
    log = tmp_path / "api.log"
    with ApiProcess(database_url, log) as server:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tokens['brp']}"}) as brp:
            assert brp.post("/v1/people", json={"ref": "p3", "bsn": "100000009", "name": "Karim"}).status_code == 201
            assert brp.post("/v1/people", json={"ref": "p4", "bsn": "100000009", "name": "K"}).status_code == 409
            assert brp.post("/v1/events", json={"id": "b1", "date": "2024-02-01", "type": "bsn_registered",
                                                "person": BSN["p1"], BSN["p2"]: 1}).status_code == 422
            assert brp.get(f"/v1/events/{BSN['p1']}").status_code == 404
            assert brp.post("/v1/events", content=b'{"id": "x", "broken": 123456782').status_code == 422
    text = log.read_text()
    assert "/v1/events" in text and "/v1/people" in text  # it did log the requests
    assert not contains_bsn(text) and "100000009" not in text
    case_file.dispose()


# ---- people ---------------------------------------------------------------------------------------


def test_people_are_registered_by_ind_and_brp_and_the_bsn_never_comes_back(api):
    person = {"ref": "p5", "bsn": "100000009", "name": "Lena Petrova", "email": "lena@example.org",
              "born": "1985-04-12"}
    with api.client("brp") as brp, api.client("ind") as ind, api.client("portal") as portal:
        created = brp.post("/v1/people", json=person)
        assert (created.status_code, created.json()) == (201, {"ref": "p5", "status": "created"})
        again = ind.post("/v1/people", json=person)
        assert (again.status_code, again.json()) == (200, {"ref": "p5", "status": "exists"})
        other_name = brp.post("/v1/people", json={**person, "name": "Lena P."})
        taken_bsn = brp.post("/v1/people", json={**person, "ref": "p6"})
        # one answer, naming no field: no oracle of what is stored or whether a BSN is known
        assert other_name.status_code == taken_bsn.status_code == 409
        assert other_name.json() == taken_bsn.json()
        assert other_name.json()["errors"][0]["field"] == "body"
        bad_bsn = brp.post("/v1/people", json={**person, "ref": "p6", "bsn": "100000008"})
        assert bad_bsn.status_code == 422
        assert bad_bsn.json()["errors"] == [{"field": "bsn", "message": "this BSN fails the eleven-test (elfproef): "
                                                                        "check for a typing error"}]
        bsn_as_ref = brp.post("/v1/people", json={**person, "ref": "100000009"})
        assert bsn_as_ref.status_code == 422 and bsn_as_ref.json()["errors"][0]["field"] == "ref"
        missing = brp.post("/v1/people", json={"ref": "p7", "bsn": 100000009})
        assert missing.status_code == 422
        assert {e["field"] for e in missing.json()["errors"]} == {"bsn", "name"}
        assert portal.post("/v1/people", json=person).status_code == 403
        for answer in (created, again, other_name, taken_bsn, bad_bsn, bsn_as_ref, missing):
            assert "100000009" not in answer.text and "100000008" not in answer.text
    with api.case_file.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 3
    # and events for the new person are accepted
    assert api.post("ind", permit("p5-permit", person="p5")).status_code == 202


def test_two_identical_registrations_at_once_give_one_201_and_one_200(api):
    person = {"ref": "p8", "bsn": "100000009", "name": "Tesfay Gebre"}
    clients = [api.client("brp") for _ in range(2)]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def register(client: httpx.Client) -> None:
        barrier.wait()
        codes.append(client.post("/v1/people", json=person).status_code)

    threads = [threading.Thread(target=register, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200, 201]
