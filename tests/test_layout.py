"""The layout's walls: nothing below flows/ (tasks/, inburgering/) imports flows/, and the wait
run is one package (flows/waiting/)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The command line is the outermost shell (it starts flows, as deployments/ does): above flows/.
SHELL = {"inburgering/cli.py"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_nothing_below_flows_imports_flows():
    offenders = {str(path.relative_to(ROOT)): sorted(name for name in _imports(path)
                                                      if name == "flows" or name.startswith("flows."))
                 for folder in ("tasks", "inburgering") for path in (ROOT / folder).rglob("*.py")}
    assert {path: names for path, names in offenders.items() if names and path not in SHELL} == {}


def test_the_wait_run_is_one_package():
    waiting = ROOT / "flows" / "waiting"
    assert sorted(p.name for p in waiting.glob("*.py")) == [
        "__init__.py", "answer.py", "cases.py", "form_rules.py", "forms.py", "sync.py"]
    for old in ("inburgering/engine/waits.py", "tasks/windows.py", "flows/waiting.py", "flows/forms.py",
                "flows/form_rules.py"):
        assert not (ROOT / old).exists(), old
