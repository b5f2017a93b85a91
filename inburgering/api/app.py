"""The inbound API (shared/api.md) as an ASGI app: FastAPI, served by uvicorn.

Every answer that is not a success has one shape: `{"errors": [{"field", "message"}]}`, the
field a path into the request ("events[3].amount", "body", "Authorization"). No message
repeats a number that passes the eleven-test, and nothing here logs a request's content.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from inburgering.api.inbox import ApiStore, Conflict, Item, field_path
from inburgering.api.sources import PEOPLE_KINDS, SCHOOL_LINKED, Sender, event_refusal, type_refusal
from inburgering.domain.calendar import today_in_amsterdam
from inburgering.domain.events import EVENT_ADAPTER, EVENT_TYPES, Event
from inburgering.domain.people import PersonIn
from inburgering.engine.errors import InputError, Problem, contains_bsn, redact_bsn
from inburgering.engine.faults import crash_point
from inburgering.engine.service import event_key, unknown_person, validate_event

log = logging.getLogger("inburgering.api")

MAX_BODY = 1024 * 1024  # bytes
MAX_EVENTS = 1000
SENDER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:~-]{0,199}")


class ApiError(Exception):
    def __init__(self, status: int, problems: list[Problem]):
        super().__init__(status)
        self.status, self.problems = status, problems


def _error_response(status: int, problems: list[Problem]) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"errors": [{"field": redact_bsn(f), "message": redact_bsn(m)} for f, m in problems]},
                        status_code=status, headers=headers)


# ---- reading a request ---------------------------------------------------------------------------


async def read_body(request: Request) -> bytes:
    """The body, refused (413) as soon as it is known to pass MAX_BODY: by its declared length
    before anything is read, or while it streams in."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large()
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise _too_large()
    except ClientDisconnect:
        # a client that hangs up mid-body: one line in the log (it was a 40-line traceback each)
        log.info("%s %s: the client hung up after %d bytes of its body; nothing was stored", request.method,
                 request.url.path, len(body))
        raise ApiError(400, [("body", "the connection closed before the body was complete; nothing was stored")]) \
            from None
    return bytes(body)


def _too_large() -> ApiError:
    return ApiError(413, [("body", f"is larger than 1 MiB ({MAX_BODY:,} bytes); send the events in smaller lists")])


def parse_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(422, [("body", f"is not UTF-8 text (byte {exc.start})")]) from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ApiError(422, [("body", f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")]) \
            from None
    except (RecursionError, ValueError):
        raise ApiError(422, [("body", "is JSON nested too deeply or with a number too long to read")]) from None
    if "\\u" in text and _holds_unstorable_text(data):
        raise ApiError(422, [("body", "holds \\u0000 or an unpaired surrogate, which no text may contain")])
    return data


def _no_constant(name: str) -> None:
    raise ApiError(422, [("body", f"{name} is not a JSON number")])


def _holds_unstorable_text(data: Any) -> bool:
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value or not _encodable(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ---- events ----------------------------------------------------------------------------------


def sender_id_problem(value: Any) -> str | None:
    if value is None:
        return "is required but missing: the sender's own unique id for this event"
    if not isinstance(value, str) or not SENDER_ID.fullmatch(value):
        return "use 1-200 letters, digits, '.', '_', ':', '~' or '-', starting with a letter or digit"
    if contains_bsn(value):
        return "holds a number that looks like a BSN; an id must not be personal data"
    return None


def check_event(sender: Sender, raw: Any, path: str) -> tuple[int, list[Problem]] | tuple[str, Event]:
    """One event of a request: (sender's id, event), or (403 or 422, the problems)."""
    if not isinstance(raw, dict):
        return 422, [(path or "body", "an event is a JSON object with id, date, type, person and its own fields")]
    fields = dict(raw)
    sender_id = fields.pop("id", None)
    id_problem = sender_id_problem(sender_id)
    problems = [(field_path(path, "id"), id_problem)] if id_problem else []
    event_type = fields.get("type")
    if isinstance(event_type, str) and event_type in EVENT_TYPES:
        refusal = type_refusal(sender, event_type)
        if refusal:  # what it may not send at all is not checked further
            return 403, problems + [(field_path(path, "type"), refusal)]
    try:
        event = validate_event(fields, exact_cents=True)
    except InputError as exc:
        return 422, problems + [(field_path(path, f) or "event", m) for f, m in exc.problems]
    if problems:
        return 422, problems
    refusal = event_refusal(sender, event)
    if refusal:
        return 403, [(field_path(path, refusal[0]), refusal[1])]
    return sender_id, event


def receive_events(store: ApiStore, sender: Sender, body: bytes) -> tuple[int, Any]:
    """POST /v1/events: (status, answer). A list is stored all or nothing."""
    data = parse_json(body)
    if isinstance(data, dict):
        raws, paths = [data], [""]
    elif isinstance(data, list):
        if not data:
            raise ApiError(422, [("events", "the list is empty; send at least one event")])
        if len(data) > MAX_EVENTS:
            raise ApiError(422, [("events", f"at most {MAX_EVENTS:,} events in one request; this list has "
                                            f"{len(data):,}")])
        raws, paths = data, [f"events[{i}]" for i in range(len(data))]
    else:
        raise ApiError(422, [("body", "send one event (a JSON object) or a list of events")])

    problems: dict[str, tuple[int, list[Problem]]] = {}  # by path, in request order
    valid: list[tuple[str, str, Event]] = []
    first_with_id: dict[str, str] = {}
    for raw, path in zip(raws, paths):
        checked = check_event(sender, raw, path)
        if isinstance(checked[0], int):
            problems[path] = checked  # type: ignore[assignment]
            continue
        sender_id, event = checked
        if sender_id in first_with_id:
            problems[path] = 422, [(field_path(path, "id"), f"the same id as {first_with_id[sender_id]}; "
                                                            "every event needs its own id")]
            continue
        first_with_id[sender_id] = path
        valid.append((path, sender_id, event))  # type: ignore[arg-type]
    person_ids = store.person_ids({event.person for _, _, event in valid})
    items = []
    for path, sender_id, event in valid:
        if event.person not in person_ids:
            problems[path] = 422, [(field_path(path, f), m) for f, m in unknown_person(event.person).problems]
        else:
            items.append(Item(path, sender_id, event, person_ids[event.person], event_key(event)))
    problems.update(_not_taught(store, sender, items))
    if problems:
        in_order = [problems[path] for path in paths if path in problems]
        status = 403 if any(s == 403 for s, _ in in_order) else 422
        raise ApiError(status, [problem for _, found in in_order for problem in found])

    try:
        stored = store.store(sender, items, today_in_amsterdam())
    except Conflict as exc:
        raise ApiError(409, exc.problems) from None
    crash_point("api_after_commit")  # the crash test: stored, and no answer sent
    store.mark_sent(sender, dt.datetime.now(dt.timezone.utc))
    answers = [{"id": item.sender_id, "status": "accepted" if new else "duplicate"}
               for item, new in zip(items, stored)]
    status = 202 if any(stored) else 200
    return status, answers[0] if len(paths) == 1 and paths[0] == "" else answers


def _not_taught(store: ApiStore, sender: Sender, items: list[Item]) -> dict[str, tuple[int, list[Problem]]]:
    """A school speaks only for the people it teaches: a declaration or hours for a person with
    no invoice (with its contract) of this school, in the inbox or earlier in this request, are
    refused (403), by path."""
    if sender.kind != "school":
        return {}
    linked = [item for item in items if item.event.type in SCHOOL_LINKED]  # type: ignore[attr-defined]
    if not linked:
        return {}
    taught = store.taught_by(sender.school or "", {item.person_id for item in linked})
    refused = {}
    for item in items:
        if item.event.type == "invoice_submitted":  # type: ignore[attr-defined]  (its school is the sender's)
            taught.add(item.person_id)
        elif item.event.type in SCHOOL_LINKED and item.person_id not in taught:  # type: ignore[attr-defined]
            refused[item.path] = 403, [(field_path(item.path, "person"), f"school {sender.school!r} has no invoice or "
                                        "contract for this person; a school sends events only for the people it "
                                        "teaches (send its invoice first)")]
    return refused


# ---- people -----------------------------------------------------------------------------------


def register_person(store: ApiStore, sender: Sender, body: bytes) -> tuple[int, Any]:
    if sender.kind not in PEOPLE_KINDS:
        raise ApiError(403, [("Authorization", f"{sender.kind} sources may not register people "
                                               "(ind and brp sources do)")])
    data = parse_json(body)
    try:
        person = PersonIn.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, [(f or "body", m) for f, m in InputError.from_validation(exc).problems]) from None
    try:
        created = store.register_person(ref=person.ref, bsn=person.bsn, name=person.name, email=person.email,
                                        born=person.born)
    except Conflict as exc:
        raise ApiError(409, exc.problems) from None
    return (201, {"ref": person.ref, "status": "created"}) if created else (200, {"ref": person.ref, "status": "exists"})


# ---- the app ------------------------------------------------------------------------------------


class Accepted(BaseModel):
    id: str
    status: Literal["accepted", "duplicate"]


class EventStatus(BaseModel):
    id: str
    status: Literal["pending", "applied", "rejected"]
    reason: str | None = Field(description="why it was rejected, in words a person can act on")
    case: str | None = Field(default=None, description="the case it was applied to, as DUO's process owners name "
                                                       "it (case-12)")


class ProblemOut(BaseModel):
    field: str = Field(description='a path into the request, e.g. "events[3].amount"')
    message: str


class Errors(BaseModel):
    errors: list[ProblemOut]


class PersonOut(BaseModel):
    ref: str
    status: Literal["created", "exists"]


def _answers(**codes: str) -> dict:
    """OpenAPI responses: code -> description, with the error body for 4xx."""
    return {int(code[1:]): {"description": text, **({"model": Errors} if int(code[1:]) >= 400 else {})}
            for code, text in codes.items()}


_COMMON = {"_401": "no token, an unknown or a revoked token", "_413": "the body is larger than 1 MiB"}


def create_app(database_url: str | None = None) -> FastAPI:
    store = ApiStore(database_url)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        store.dispose()

    # FastAPIOffline: FastAPI with /docs (Swagger UI) and /redoc served from the package's own
    # copy of their scripts, so the page works on a machine without internet (FastAPI loads them
    # from a CDN).
    app = FastAPIOffline(
        title="Inburgering: inbound API", version="1", lifespan=lifespan,
        description="Outside systems (IND, BRP, municipalities, schools, Mijn Inburgering, the exam centre, "
                    "payments) hand their events to the case file. Register a sender with `inburgering sources "
                    "add NAME --kind KIND`; send its token as `Authorization: Bearer TOKEN`. Events are the "
                    "scenario format (date, type, person, own fields) plus `id`, the sender's unique id.")
    app.state.store = store
    bearer = HTTPBearer(auto_error=False, description="the token `inburgering sources add` printed")

    async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
        """Run blocking work off the event loop; an unexpected failure is a 500 without its text."""
        try:
            return await run_in_threadpool(fn, *args)
        except ApiError:
            raise
        except Exception as exc:  # noqa: BLE001 - logged (without personal data) and answered
            log.error("%s failed: %s", getattr(fn, "__name__", "request"), redact_bsn(f"{type(exc).__name__}: {exc}"))
            raise ApiError(500, [("", "the request could not be handled; send it again (the same ids are "
                                      "never stored twice)")]) from None

    async def sender_of(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Sender:
        sender = await in_thread(store.authenticate, credentials.credentials if credentials else None)
        if sender is None:
            raise ApiError(401, [("Authorization", "send `Authorization: Bearer TOKEN` with a valid token of a "
                                                   "registered source (not revoked)")])
        return sender

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc.status, exc.problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # no such path, or not with this method: in the same shape as every other error
        return _error_response(exc.status_code, [("path", f"{request.method} {request.url.path}: {exc.detail}")])

    @app.get("/v1/health", tags=["health"])
    async def health() -> dict:
        """200 while the API runs; no token needed."""
        return {"status": "ok"}

    @app.post("/v1/events", tags=["events"], status_code=202, openapi_extra=_EVENTS_BODY, responses=_answers(
        _202="stored in the inbox; applied by the next ingest",
        _200="the same id with the same content was sent before: nothing changes",
        _409="the same id was sent before with other content", **_COMMON,
        _403="this source may not send this type, or a school sends for another school",
        _422="malformed: unknown type, missing or unknown field, impossible date, money that is not two "
             "decimals, unknown person"))
    async def post_events(request: Request, sender: Sender = Depends(sender_of)) -> JSONResponse:
        """One event, or a list of at most 1,000 (all or nothing). A list is answered with a list."""
        status, answer = await in_thread(receive_events, store, sender, await read_body(request))
        return JSONResponse(answer, status_code=status)

    @app.get("/v1/events/{event_id}", tags=["events"], response_model=EventStatus,
             responses=_answers(_401=_COMMON["_401"], _404="this source sent no event with this id"))
    async def get_event(event_id: str, sender: Sender = Depends(sender_of)) -> JSONResponse:
        """What became of an event this source sent: pending until the next ingest, then applied or
        rejected with the reason."""
        found = await in_thread(store.status, sender, event_id)
        if found is None:
            raise ApiError(404, [("id", "this source sent no event with this id")])
        return JSONResponse({"id": event_id, "status": found[0], "reason": found[1], "case": found[2]})

    @app.post("/v1/people", tags=["people"], status_code=201, openapi_extra=_PEOPLE_BODY, responses=_answers(
        _201="registered", _200="the same person was registered before",
        _409="the ref or the BSN belongs to someone else", **_COMMON,
        _403="only ind and brp sources register people", _422="malformed, or the BSN fails the eleven-test"))
    async def post_people(request: Request, sender: Sender = Depends(sender_of)) -> JSONResponse:
        """Register a person: {ref, bsn, name, email, born}. The BSN is never sent back."""
        status, answer = await in_thread(register_person, store, sender, await read_body(request))
        return JSONResponse(answer, status_code=status)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            union, models = _event_schemas()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(models)
            schemas["Event"] = union
            schemas["PersonIn"] = PersonIn.model_json_schema(ref_template="#/components/schemas/{model}")
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _event_schemas() -> tuple[dict, dict]:
    """The events' JSON schema (one model per type, discriminated by `type`), each with `id`."""
    union = EVENT_ADAPTER.json_schema(ref_template="#/components/schemas/{model}")
    models = union.pop("$defs")
    for model in models.values():
        if "type" in model.get("properties", {}):
            model["properties"] = {"id": {"type": "string", "pattern": f"^{SENDER_ID.pattern}$",
                                          "description": "the sender's own unique id for this event"},
                                   **model["properties"]}
            model["required"] = ["id", *model.get("required", [])]
    return union, models


_EVENT_REF = {"$ref": "#/components/schemas/Event"}
_EVENTS_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"oneOf": [_EVENT_REF, {"type": "array", "items": _EVENT_REF, "minItems": 1, "maxItems": MAX_EVENTS}]},
    "example": {"id": "ind-2026-000123", "date": "2026-11-20", "type": "residence_permit_granted",
                "person": "p-4711"}}}}}
_PEOPLE_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/PersonIn"},
    "example": {"ref": "p-4711", "bsn": "…", "name": "Amina Yusuf", "email": "amina@example.org",
                "born": "1990-05-01"}}}}}
