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

from tests.hostile_corpus import API_CASES, BSN_ECHOES, CLI_CASES, CLI_SECRETS, REFUSED, SEPARATED, Case, corpus

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
    return _run(manifest, names, folder)


def _run(manifest: list[dict], names: dict[str, str], folder: Path, **env: str) -> dict[str, dict]:
    """Each manifest item through the real command in one child process: name -> its answer."""
    (folder / "manifest.json").write_text(json.dumps(manifest))
    log = folder / "runner.log"
    with open(log, "w") as stderr:
        child = subprocess.Popen([sys.executable, "-m", "tests.corpus_runner", str(folder / "manifest.json")],
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                 env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **env})
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


def test_every_mistyped_command_is_answered_with_a_sentence_never_a_traceback(tmp_path):
    """The commands' corpus (issue 25): dates, numbers, revisions, refs and names an operator may
    mistype. Each is refused with exit 2 and a sentence (or, for a lookup, answered with exit 0)."""
    manifest = [{"path": f"cli-{n}", "argv": list(argv)} for n, argv in enumerate(CLI_CASES)]
    names = {item["path"]: " ".join(map(repr, item["argv"])) for item in manifest}
    home = tmp_path / "home"
    answers = _run(manifest, names, tmp_path, INBURGERING_HOME=str(home),
                   INBURGERING_DATABASE_URL=f"sqlite:///{tmp_path / 'case.db'}")
    problems = []
    for item in manifest:
        name = names[item["path"]]
        answer = answers[name]
        printed = answer["stdout"] + answer["stderr"]
        if answer["raised"] or answer["exit"] not in (0, 2):
            problems.append(f"{name}: exit {answer['exit']}\n{answer['raised']}\n{printed[-500:]}")
        elif PYTHON_TEXT.search(answer["stderr"]):
            problems.append(f"{name}: Python's error text: {answer['stderr']!r}")
        elif any(secret in printed for secret in CLI_SECRETS):
            problems.append(f"{name}: a BSN is printed: {printed[:300]!r}")
        elif answer["exit"] == 2 and not answer["stderr"].strip():
            problems.append(f"{name}: refused without a sentence")
        elif item["argv"][0] in ("monitor", "ingest", "migrate", "api", "bench") and answer["exit"] != 2:
            problems.append(f"{name}: not refused: exit {answer['exit']}: {printed[:300]!r}")
    assert not problems, "\n\n".join(problems)


def test_every_hostile_api_request_is_a_4xx_in_the_error_shape_without_a_bsn(database_url):
    """The API's corpus (issue 25): people, ids, BSNs with any separator, header text, money."""
    import httpx

    from tests.test_api import prepare
    from tests.api_server import ThreadedApi

    case_file, tokens = prepare(database_url)
    problems = []
    with ThreadedApi(database_url) as api:
        clients = {source: httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
                   for source, token in tokens.items()}
        try:
            for name, source, path, body in API_CASES:
                answer = clients[source].post(path, json=body)
                text = answer.text
                errors = answer.json().get("errors") if answer.headers.get("content-type", "").startswith(
                    "application/json") and isinstance(answer.json(), dict) else None
                if not 400 <= answer.status_code < 500 or not errors:
                    problems.append(f"{name}: {answer.status_code} {text[:300]}")
                elif any(secret in text or secret in answer.content.decode("unicode_escape", "replace")
                         for secret in (*SEPARATED, "100000009", "111222333")):
                    problems.append(f"{name}: a BSN is echoed: {text[:300]}")
                elif PYTHON_TEXT.search(" ".join(e["message"] for e in errors)):
                    problems.append(f"{name}: Python's error text: {text[:300]}")
        finally:
            for client in clients.values():
                client.close()
    assert not problems, "\n".join(problems)
    assert api_inbox_is_empty(case_file)
    case_file.dispose()


def api_inbox_is_empty(case_file) -> bool:  # noqa: ANN001
    from sqlalchemy import func, select

    from inburgering.store.models import Person, ReceivedEvent

    with case_file.reading() as session:
        return (session.scalar(select(func.count()).select_from(ReceivedEvent)) == 0
                and session.scalar(select(func.count()).select_from(Person)) == 2)
