"""The inbound API served for real in the tests: uvicorn on a free port, in a thread of the test
process or as a process of its own (`inburgering api`, which can be killed)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from inburgering.api.app import create_app

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadedApi:
    """`with ThreadedApi(url) as api:` serves the app on api.url until the block ends."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.server = uvicorn.Server(uvicorn.Config(create_app(database_url), log_level="warning"))
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> ThreadedApi:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


class ApiProcess:
    """`inburgering api` in a process of its own; its log (stdout and stderr) in `log_path`."""

    def __init__(self, database_url: str, log_path: Path, *, workers: int = 1, **env: str):
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {**os.environ, "INBURGERING_DATABASE_URL": database_url, **env}
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> ApiProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "inburgering.cli", "api", "--port", str(self.port),
                                         "--workers", str(self.workers)],
                                        env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 120  # a loaded machine imports slowly
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API exited with {self.process.returncode}: {self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("the API did not start within 120 s")

    def wait(self, timeout: float = 60) -> int:
        assert self.process
        return self.process.wait(timeout=timeout)

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
