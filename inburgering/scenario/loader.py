"""Read and check a scenario file completely before anything runs.

Errors name the line and the field, e.g. "line 12, events[3].date: '2021-02-30'
is not a real calendar date". A BSN is never repeated in a message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError, field_validator

from inburgering.domain.bsn import bsns_in, quote
from inburgering.domain.calendar import add_years
from inburgering.domain.events import Checked, Day, Event, Text, calendar_day
from inburgering.domain.people import REF_IS_BSN, PersonDetails, ref_problem
from inburgering.domain.policy import PolicyError, parse_value
from inburgering.engine.errors import InputError, describe_validation_error
from inburgering.engine.service import validate_event

# Limits of a scenario file; beyond them it is refused before anything runs.
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 12  # mappings and lists inside each other; a scenario needs 6
MAX_YEARS = 50  # simulated days from `from` to `until`
MAX_DIGITS = 30  # an integer written in the file


class ScenarioError(InputError):
    """The file itself is malformed (exit status 2). The message never holds a BSN."""


def _line(node_or_mark: Any) -> int:
    mark = getattr(node_or_mark, "start_mark", node_or_mark)
    return mark.line + 1


class _Loader(yaml.SafeLoader):
    """YAML without implicit dates (so a bad date reaches our message, not YAML's), with
    the line of every mapping and key remembered, and refusing what a scenario never
    needs and a hostile file uses: duplicate keys, aliases, deep nesting, huge numbers."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise ScenarioError(f"line {_line(self.peek_event())}: anchors and aliases (&name, *name) are not "
                                "supported in scenario files; write the value out")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise ScenarioError(f"line {_line(self.peek_event())}: the file is nested too deeply "
                                    f"(more than {MAX_DEPTH} levels of lists and mappings)")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_scalar(self, node: Any) -> Any:
        value = super().construct_scalar(node)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ScenarioError(f"line {_line(node)}: the text holds a character that is not valid "
                                    "Unicode (a lone surrogate such as \\ud800)") from None
        return value


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Line(dict):
    line: int = 0
    key_lines: dict[Any, int]


def _name(key: Any) -> str:
    return key if isinstance(key, str) and len(key) <= 60 else quote(key)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _Line:
    key_lines: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            raise ScenarioError(f"line {_line(key_node)}: merge keys (<<) are not supported in scenario files")
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise ScenarioError(f"line {_line(key_node)}: a key must be a name, not a list or mapping") from None
        if key in key_lines:
            raise ScenarioError(f"line {_line(key_node)}: {_name(key)}: is given twice "
                                f"(first on line {key_lines[key]})")
        key_lines[key] = _line(key_node)
    mapping = _Line(loader.construct_mapping(node, deep=True))
    mapping.line = _line(node)
    mapping.key_lines = key_lines
    return mapping


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    if sum(ch.isdigit() for ch in node.value) > MAX_DIGITS:
        raise ScenarioError(f"line {_line(node)}: {quote(node.value[:20])}… is a number of more than "
                            f"{MAX_DIGITS} digits")
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


# A person of the file: the same model (and checks) as the inbound API's POST /v1/people.
PersonSpec = PersonDetails


class HoldSpec(Checked):
    """A period in which a process owner holds letters (e.g. the mail gateway is down)."""

    model_config = {"extra": "forbid"}
    letters: Annotated[Text, Field(max_length=60)] = "*"
    start: Day = Field(alias="from")
    until: Day | None = None  # last held day, inclusive
    reason: Text = "held in scenario"

    @field_validator("until")
    @classmethod
    def _not_before_start(cls, until: dt.date | None, info: Any) -> dt.date | None:
        start = info.data.get("start")
        if until is not None and start is not None and until < start:
            raise ValueError(f"{until} is before from: {start}")
        return until


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


def _where(node: Any, path: str, key: Any = None) -> str:
    """`line N, path`: the line of `key` in the mapping `node`, else of the mapping itself."""
    line = getattr(node, "key_lines", {}).get(key) if key is not None else None
    line = line or getattr(node, "line", 0)
    return f"line {line}, {path}" if line else path


def read_text(path: str | Path) -> str:
    """The file as text: UTF-8 (a byte-order mark is allowed), at most MAX_FILE_BYTES."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split the scenario")
    if b"\x00" in data:
        raise ScenarioError("the file contains NUL bytes: it is UTF-16 or binary, not UTF-8 text; save it as UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ScenarioError(f"line {line}: the file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be "
                            "read); save it as UTF-8") from None
    return text.removeprefix("\ufeff")


def load_scenario(path: str | Path) -> Scenario:
    return parse_scenario(load_yaml(path))


def load_yaml(path: str | Path) -> Any:
    """A YAML file read as a scenario file is (the checks of `read_text` and `_Loader`), each
    mapping remembering its lines; ScenarioError names the line of what is wrong."""
    return parse_yaml(read_text(path))


def parse_yaml(text: str) -> Any:
    """YAML text read as `load_yaml` reads a file's."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ScenarioError(f"the text is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if "\x00" in text:
        raise ScenarioError("the text contains NUL characters")
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.reader.ReaderError as exc:
        code = ord(exc.character) if isinstance(exc.character, str) else exc.character
        raise ScenarioError(f"line {text[:exc.position].count(chr(10)) + 1}: the file holds a control character "
                            f"(U+{code:04X}) that YAML does not allow; remove it") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "the file"
        raise ScenarioError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    return doc


def parse_scenario(doc: Any) -> Scenario:
    if not isinstance(doc, dict):
        raise ScenarioError("the file must be a mapping with scenario, from, until, people and events")
    unknown = [str(key) for key in doc if key not in ("scenario", "from", "until", "policy", "people", "events",
                                                        "holds")]
    if unknown:
        raise ScenarioError(f"unknown top-level field(s): {', '.join(sorted(unknown))}")
    for required in ("scenario", "from", "until", "people", "events"):
        if required not in doc:
            raise ScenarioError(f"{required}: is required but missing")
    name = doc["scenario"]
    if not isinstance(name, str):
        raise ScenarioError(_where(doc, "scenario: must be text, e.g. scenario: start letter after BRP", "scenario"))
    _check_text(doc, "scenario", name, "scenario", limit=200)
    if bsns_in(name):
        raise ScenarioError(_where(doc, "scenario: the name is printed with every result; it must not hold a BSN",
                                   "scenario"))
    start = _date(doc, "from")
    until = _date(doc, "until")
    if until < start:
        raise ScenarioError(_where(doc, f"until: {until} is before from: {start}", "until"))
    if until >= add_years(start, MAX_YEARS):
        raise ScenarioError(_where(doc, f"until: a scenario covers at most {MAX_YEARS} years; from {start} to "
                                        f"{until} is longer", "until"))

    policy = doc.get("policy") or {}
    if not isinstance(policy, dict):
        raise ScenarioError(_where(doc, "policy: must be a mapping of policy keys to values", "policy"))
    for key, value in policy.items():
        try:
            parse_value(key, value)
        except PolicyError as exc:
            raise ScenarioError(_where(policy, str(exc), key)) from None

    people_doc = doc["people"]
    if not isinstance(people_doc, dict) or not people_doc:
        raise ScenarioError("people: must name at least one person, e.g. p1: {bsn: ..., name: ...}")
    people: dict[str, PersonSpec] = {}
    seen_bsn: dict[str, str] = {}
    for ref, spec in people_doc.items():
        if not isinstance(ref, str):
            raise ScenarioError(_where(people_doc, f"people: {quote(ref)} is not a name; name people p1, p2, ...",
                                       ref))
        problem = ref_problem(ref)
        if problem == REF_IS_BSN:
            raise ScenarioError(_where(people_doc, f"people: a person's key {problem}", ref))
        if problem:
            raise ScenarioError(_where(people_doc, f"people.{quote(ref)}: {problem}", ref))
        where = _where(people_doc, f"people.{ref}", ref)
        if not isinstance(spec, dict):
            raise ScenarioError(f"{where}: must be a mapping with bsn and name")
        try:
            person = PersonSpec.model_validate(spec)
        except ValidationError as exc:
            raise ScenarioError(describe_validation_error(exc, prefix=f"{where}.")) from None
        if person.bsn in seen_bsn:
            raise ScenarioError(f"{where}.bsn: the same BSN as person {seen_bsn[person.bsn]}")
        seen_bsn[person.bsn] = ref
        people[ref] = person
    _refuse_misplaced_bsns(doc, seen_bsn)

    events_doc = doc["events"]
    if not isinstance(events_doc, list):
        raise ScenarioError(_where(doc, "events: must be a list", "events"))
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
            raise ScenarioError(f"{where}.person: {quote(event.person)} is not one of the people in this file "
                                f"({', '.join(people)})")
        if not start <= event.date <= until:
            raise ScenarioError(f"{where}.date: {event.date} is outside the simulated days {start} .. {until}")
        events.append(ScenarioEvent(index, getattr(raw, "line", 0), dict(raw), event))

    holds_doc = doc.get("holds") or []
    if not isinstance(holds_doc, list):
        raise ScenarioError(_where(doc, "holds: must be a list", "holds"))
    holds = []
    for i, raw in enumerate(holds_doc):
        try:
            holds.append(HoldSpec.model_validate(raw))
        except ValidationError as exc:
            raise ScenarioError(describe_validation_error(exc, prefix=f"{_where(raw, f'holds[{i}]')}.")) from None

    return Scenario(name, start, until, dict(policy), people, events, holds)


def _check_text(node: Any, path: str, text: str, key: Any, *, limit: int) -> None:
    try:
        Checked._sane(text)
    except ValueError as exc:
        raise ScenarioError(_where(node, f"{path}: {exc}", key)) from None
    if len(text) > limit:
        raise ScenarioError(_where(node, f"{path}: is longer than {limit} characters", key))


def _refuse_misplaced_bsns(doc: dict, owners: dict[str, str]) -> None:
    """A person's BSN belongs in people.<key>.bsn only: anywhere else it would be printed."""
    specs = [spec for spec in doc["people"].values() if isinstance(spec, dict)]
    for path, node, key, text in _texts(doc, ""):
        if key == "bsn" and any(node is spec for spec in specs) and text == str(node["bsn"]):
            continue
        for bsn in bsns_in(text) & owners.keys():
            raise ScenarioError(_where(node, f"{path}: holds the BSN of person {owners[bsn]}; a BSN "
                                             f"belongs only in people.{owners[bsn]}.bsn", key))


def _texts(value: Any, path: str, node: Any = None, key: Any = None) -> Iterator[tuple[str, Any, Any, str]]:
    """Every key and scalar of a document as text, with its path and the mapping holding it."""
    if isinstance(value, dict):
        for k, v in value.items():
            inner = f"{path}.{k}" if path else str(k)
            yield inner, value, k, str(k)
            yield from _texts(v, inner, value, k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _texts(v, f"{path}[{i}]", node, key)
    elif value is not None:
        yield path, node, key, str(value)


def _date(doc: dict, key: str) -> dt.date:
    try:
        return calendar_day(doc[key])
    except ValueError as exc:
        raise ScenarioError(_where(doc, f"{key}: {exc}", key)) from None
