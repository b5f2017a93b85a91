"""Read and check a scenario file completely before anything runs.

Errors name the line and the field, e.g. "line 12, events[3].date: '2021-02-30'
is not a real calendar date". A BSN is never repeated in a message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from inburgering.domain.bsn import validate_bsn
from inburgering.domain.events import Event
from inburgering.domain.policy import PolicyError, parse_value
from inburgering.engine.errors import InputError, describe_validation_error
from inburgering.engine.service import validate_event


class ScenarioError(ValueError):
    """The file itself is malformed (exit status 2)."""


class _Loader(yaml.SafeLoader):
    """YAML without implicit dates (so a bad date reaches our message, not YAML's),
    and with the line of every mapping remembered."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Line(dict):
    line: int = 0


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Line:
    mapping = _Line(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class PersonSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bsn: str
    name: str = Field(min_length=1)
    email: str | None = None
    born: dt.date | None = None


class HoldSpec(BaseModel):
    """A period in which a process owner holds letters (e.g. the mail gateway is down)."""

    model_config = ConfigDict(extra="forbid")
    letters: str = "*"
    start: dt.date = Field(alias="from")
    until: dt.date | None = None  # last held day, inclusive
    reason: str = "held in scenario"


@dataclass
class ScenarioEvent:
    index: int
    line: int
    raw: dict[str, Any]
    event: Event


@dataclass
class Scenario:
    name: str
    start: dt.date
    until: dt.date
    policy: dict[str, Any]
    people: dict[str, PersonSpec]
    events: list[ScenarioEvent]
    holds: list[HoldSpec] = field(default_factory=list)


def _where(node: Any, path: str) -> str:
    line = getattr(node, "line", 0)
    return f"line {line}, {path}" if line else path


def load_scenario(path: str | Path) -> Scenario:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "the file"
        raise ScenarioError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_scenario(doc)


def parse_scenario(doc: Any) -> Scenario:
    if not isinstance(doc, dict):
        raise ScenarioError("the file must be a mapping with scenario, from, until, people and events")
    unknown = set(doc) - {"scenario", "from", "until", "policy", "people", "events", "holds"}
    if unknown:
        raise ScenarioError(f"unknown top-level field(s): {', '.join(sorted(unknown))}")
    for required in ("scenario", "from", "until", "people", "events"):
        if required not in doc:
            raise ScenarioError(f"{required}: is required but missing")
    start = _date(doc, "from")
    until = _date(doc, "until")
    if until < start:
        raise ScenarioError(f"until: {until} is before from: {start}")

    policy = doc.get("policy") or {}
    if not isinstance(policy, dict):
        raise ScenarioError(_where(doc, "policy: must be a mapping of policy keys to values"))
    for key, value in policy.items():
        try:
            parse_value(key, value)
        except PolicyError as exc:
            raise ScenarioError(_where(policy, f"policy.{key}: {exc}")) from None

    people_doc = doc["people"]
    if not isinstance(people_doc, dict) or not people_doc:
        raise ScenarioError("people: must name at least one person, e.g. p1: {bsn: ..., name: ...}")
    people: dict[str, PersonSpec] = {}
    seen_bsn: dict[str, str] = {}
    for ref, spec in people_doc.items():
        where = _where(spec, f"people.{ref}")
        if not isinstance(spec, dict):
            raise ScenarioError(f"{where}: must be a mapping with bsn and name")
        try:
            person = PersonSpec.model_validate(spec)
        except ValidationError as exc:
            raise ScenarioError(f"{where}: {describe_validation_error(exc)}") from None
        try:
            person.bsn = validate_bsn(person.bsn)
        except ValueError as exc:
            raise ScenarioError(f"{where}.bsn: {exc}") from None
        if person.bsn in seen_bsn:
            raise ScenarioError(f"{where}.bsn: the same BSN as person {seen_bsn[person.bsn]}")
        seen_bsn[person.bsn] = str(ref)
        people[str(ref)] = person

    events_doc = doc["events"]
    if not isinstance(events_doc, list):
        raise ScenarioError("events: must be a list")
    events = []
    for index, raw in enumerate(events_doc):
        where = _where(raw, f"events[{index}]")
        if not isinstance(raw, dict):
            raise ScenarioError(f"{where}: must be a mapping with date, type and person")
        try:
            event = validate_event(dict(raw))
        except InputError as exc:
            raise ScenarioError(f"{where}.{exc}") from None
        if event.person not in people:
            raise ScenarioError(f"{where}.person: {event.person!r} is not one of the people in this file "
                                f"({', '.join(people)})")
        if not start <= event.date <= until:
            raise ScenarioError(f"{where}.date: {event.date} is outside the simulated days {start} .. {until}")
        events.append(ScenarioEvent(index, getattr(raw, "line", 0), dict(raw), event))

    holds = []
    for i, raw in enumerate(doc.get("holds") or []):
        try:
            holds.append(HoldSpec.model_validate(raw))
        except ValidationError as exc:
            raise ScenarioError(f"{_where(raw, f'holds[{i}]')}: {describe_validation_error(exc)}") from None

    return Scenario(str(doc["scenario"]), start, until, dict(policy), people, events, holds)


def _date(doc: dict, key: str) -> dt.date:
    value = doc[key]
    try:
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError:
        raise ScenarioError(f"{key}: {value!r} is not a real calendar date (write YYYY-MM-DD)") from None
