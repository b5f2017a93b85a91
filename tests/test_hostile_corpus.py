"""Every hostile scenario file is answered: exit 0 (it ran) or 2 (refused with a sentence),
never a traceback, never Python's own error text, never a BSN of the file, never a hang.

The corpus (tests/hostile_corpus.py) runs through the real command in one child process;
each file must be answered within FILE_TIMEOUT seconds (a hang fails the test, naming the
file: a bound on hanging, not a speed figure)."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

from tests.hostile_corpus import BSN_ECHOES, REFUSED, Case, corpus

FILE_TIMEOUT = 60
ROOT = Path(__file__).resolve().parent.parent
# What Python says when something breaks inside: never part of an answer to a person.
PYTHON_TEXT = re.compile(r"Traceback|\b[A-Z][a-z]+(Error|Exception)\b|NoneType|object has no attribute|"
                         r"invalid literal|cannot convert|unhashable|not subscriptable|has no len|"
                         r"unsupported operand|out of range|codec can't|File \"")


def _answers(cases: list[Case], folder: Path) -> dict[str, dict]:
    manifest, names = [], {}
    for n, case in enumerate(cases):
        path = folder / f"case-{n:03d}.yaml"
        path.write_bytes(case.data)
        manifest.append({"path": str(path), "args": list(case.args)})
        names[str(path)] = case.name
    (folder / "manifest.json").write_text(json.dumps(manifest))
    log = folder / "runner.log"
    with open(log, "w") as stderr:
        child = subprocess.Popen([sys.executable, "-m", "tests.corpus_runner", str(folder / "manifest.json")],
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                 env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in child.stdout], daemon=True).start()
    answers = {}
    try:
        for item in manifest:
            try:
                answer = json.loads(lines.get(timeout=FILE_TIMEOUT))
            except queue.Empty:
                child.kill()
                child.wait()
                raise AssertionError(f"{names[item['path']]!r} ({item['path']}) was not answered within "
                                     f"{FILE_TIMEOUT} s; runner: {log.read_text()[-2000:]}") from None
            answers[names[answer["path"]]] = answer
    finally:
        child.kill()
        child.wait()
    return answers


def test_every_hostile_file_is_answered_without_traceback_python_text_or_bsn(tmp_path, scenarios_dir):
    cases = corpus(scenarios_dir)
    assert len(cases) >= 100
    answers = _answers(cases, tmp_path)
    problems = []
    for case in cases:
        answer = answers[case.name]
        printed = answer["stdout"] + answer["stderr"]
        said = answer["stderr"]
        if answer["exit"] == 0 and "--json" in case.args:
            said += " ".join(r["reason"] for r in json.loads(answer["stdout"])["rejected"])
        if answer["raised"] or answer["exit"] not in (0, 2):
            problems.append(f"{case.name}: exit {answer['exit']}\n{answer['raised']}")
        elif PYTHON_TEXT.search(said):
            problems.append(f"{case.name}: Python's error text: {said!r}")
        elif any(secret in printed for secret in case.secrets):
            problems.append(f"{case.name}: a BSN is printed: {printed[:500]!r}")
        elif answer["exit"] == 2 and (answer["stdout"] or not answer["stderr"].strip()):
            problems.append(f"{case.name}: refused without a sentence, or with output: {printed[:500]!r}")
    assert not problems, "\n\n".join(problems)
    refused = [name for name in list(REFUSED) + list(BSN_ECHOES) if answers[name]["exit"] != 2]
    assert refused == []
    ran = sum(1 for case in cases if answers[case.name]["exit"] == 0)
    assert ran >= 20  # the mutations that still make a scenario are run, not only refused
