"""The real stack for the browser test: a Prefect server (SQLite) with its UI, the local gateway,
a case file with a late case, and every deployment served (`python -m deployments.serve`), each
in a process of its own on free ports. Waits for conditions, never for fixed times.

Chromium is Debian's (`/usr/bin/chromium`, installed by bin/test), driven by Playwright.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, what: str, seconds: float = 300, every: float = 0.5):  # noqa: ANN001, ANN201
    """Poll `condition` until it returns something truthy; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {seconds:.0f} s")
        time.sleep(every)


class Stack:
    """Start with `start()`, stop with `stop()`; `env` is what every process of it uses."""

    def __init__(self, home: Path, database_url: str, gateway_url: str, gateway_token: str):
        self.home = home
        self.port = free_port()
        self.ui = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.ui}/api"
        self.env = dict(os.environ, PREFECT_HOME=str(home / "prefect"), PREFECT_API_URL=self.api,
                        PREFECT_UI_API_URL=self.api, PREFECT_SERVER_API_HOST="127.0.0.1",
                        PREFECT_SERVER_API_PORT=str(self.port), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                        INBURGERING_DATABASE_URL=database_url, INBURGERING_HOME=str(home),
                        INBURGERING_GATEWAY_URL=gateway_url, INBURGERING_GATEWAY_TOKEN=gateway_token)
        self.processes: list[subprocess.Popen] = []

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.processes.append(subprocess.Popen(args, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))

    def start_server(self) -> None:
        self._start("prefect-server", [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                       "--port", str(self.port)])

        def healthy() -> bool:
            try:
                return httpx.get(f"{self.api}/health", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, "the Prefect server answers", seconds=300)

    def serve(self) -> None:
        self._start("serve", [sys.executable, "-m", "deployments.serve"])

    def log(self, name: str) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        for process in reversed(self.processes):  # serve first: it needs the server to stop cleanly
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
