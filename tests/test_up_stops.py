"""`bin/up` stops everything it started (issue 24): on Ctrl-C (SIGINT), a plain kill (SIGTERM),
a hang-up (SIGHUP), its parent's death, and its own `kill -9`. `inburgering up` starts its
processes through deployments/supervisor.py; here the supervisor runs children that start
children of their own (as the Prefect server and serve do), and every one of them must be gone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A child that starts a grandchild and sleeps; both write their pid.
CHILD = """
import os, subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(os.getpid(), grandchild.pid, flush=True)
time.sleep(600)
"""

# `up` in small: a supervisor with two children; it says their pids, then waits to be stopped.
UP = """
import json, sys, time
from pathlib import Path
from deployments.supervisor import Supervisor

out = Path(sys.argv[1])
with Supervisor(grace_seconds=10) as supervisor:
    logs = [out.with_suffix(f".{n}") for n in range(2)]
    for log in logs:
        supervisor.start([sys.executable, "-c", sys.argv[2]], log=log)
    while not all(log.exists() and log.read_text().strip() for log in logs):
        time.sleep(0.05)
    pids = [int(p) for log in logs for p in log.read_text().split()]
    out.write_text(json.dumps(pids))
    while True:
        time.sleep(0.2)
"""

# Its parent: starts `up` and sleeps (the test kills it with -9).
PARENT = """
import subprocess, sys, time
up = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]])
print(up.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead: it only waits for its parent to read its status
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _pids(path: Path) -> list[int]:
    deadline = time.monotonic() + 60
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < deadline, "the supervisor did not start its children"
        time.sleep(0.05)
    return json.loads(path.read_text())


def _all_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_every_process_up_started_stops_with_it(tmp_path, sig):
    out = tmp_path / "pids"
    up = subprocess.Popen([sys.executable, "-c", UP, str(out), CHILD], env=_env(), cwd=ROOT)
    pids = _pids(out)
    assert len(pids) == 4 and all(_alive(p) for p in pids)
    up.send_signal(sig)
    up.wait(timeout=60)
    assert _all_gone(pids) == [], f"left running after {sig.name}"


def test_every_process_up_started_stops_when_its_parent_dies(tmp_path):
    out = tmp_path / "pids"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, UP, str(out), CHILD], env=_env(), cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    up_pid = int(parent.stdout.readline())
    pids = _pids(out)
    parent.kill()  # kill -9: no chance to pass anything on
    parent.wait()
    assert _all_gone([up_pid, *pids]) == []
