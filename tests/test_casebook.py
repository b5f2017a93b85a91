"""The casebook (engine/casebook.py) is the one way anything is applied: the same journeys give
the same timeline through the casebook alone, in memory, as through the engine with its case
file; and the engine's modules import one another in one direction only."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from bench.generate import generate
from inburgering.domain.events import parse_event
from inburgering.domain.policy import load_default_policy
from inburgering.domain.process import PersonFacts
from inburgering.engine.casebook import Casebook, drive
from inburgering.scenario.loader import parse_scenario
from inburgering.scenario.runner import run_scenario

ENGINE = Path(__file__).resolve().parent.parent / "inburgering" / "engine"


@pytest.mark.parametrize("seed", [5, 17])
def test_the_casebook_alone_gives_the_timeline_of_the_engine_with_its_case_file(seed):
    journeys = generate(20, years=2, seed=seed)
    through_sql = run_scenario(parse_scenario(journeys.scenario_doc()))

    book = Casebook(journeys.start, load_default_policy())
    ids = {ref: n for n, ref in enumerate(journeys.people, start=1)}
    for ref, person in journeys.people.items():
        book.add_person(ids[ref], PersonFacts(ref, person["name"], None, person.get("email") is not None))
    rows: dict[str, list[dict]] = {}
    outcomes = drive(book, [(ids[e["person"]], parse_event(e)) for e in journeys.events], journeys.start,
                     journeys.until, keep=rows)

    refs = {n: ref for ref, n in ids.items()}
    in_memory, in_sql = defaultdict(list), defaultdict(list)
    for row in rows["journal"]:
        in_memory[refs[row["person_id"]]].append((row["on_date"].isoformat(), row["kind"], row["type"], row["data"]))
    for entry in through_sql["timeline"]:
        in_sql[entry["person"]].append((entry["date"], entry["kind"], entry["type"], entry["data"]))
    assert in_memory == in_sql
    assert outcomes["rejected"] == len(through_sql["rejected"]) and outcomes["error"] == 0
    assert sum(len(entries) for entries in in_sql.values()) > 200


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def test_nothing_in_the_engine_imports_in_a_circle_and_the_casebook_knows_no_sql():
    modules = {f"inburgering.engine.{p.stem}": p for p in ENGINE.glob("*.py") if p.stem != "__init__"}
    graph = {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in path, f"the engine imports in a circle: {' -> '.join(path[path.index(name):] + [name])}"
        if name in done:
            return
        for imported in graph[name]:
            visit(imported, [*path, name])
        done.add(name)

    for name in graph:
        visit(name, [])
    casebook = _imports(ENGINE / "casebook.py")
    assert not any(m.startswith(("sqlalchemy", "inburgering.store")) for m in casebook), casebook
