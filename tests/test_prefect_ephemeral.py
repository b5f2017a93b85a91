"""`scenario run --engine prefect` on a loaded machine: the temporary Prefect server it starts
is given the time it needs (its start waited for and retried, its stop waited for), so the
replay gives the embedded timeline with two CPU hogs beside it on a 2-core machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SCENARIOS

pytestmark = pytest.mark.prefect


def _run(engine: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "inburgering"), "scenario", "run",
                           str(SCENARIOS / "invoice_accept.yaml"), "--json", "--engine", engine],
                          capture_output=True, text=True, env=env, timeout=900)


def test_the_prefect_engine_on_a_loaded_machine_gives_the_embedded_timeline(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        through_prefect = _run("prefect", env)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert through_prefect.returncode == 0, through_prefect.stderr[-2000:]
    embedded = _run("embedded", env)
    assert json.loads(through_prefect.stdout) == json.loads(embedded.stdout)
    assert "Traceback" not in through_prefect.stderr, through_prefect.stderr[-2000:]
