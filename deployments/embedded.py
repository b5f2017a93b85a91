"""The embedded default in one command: Prefect server, local gateway, the inbound API
with one demo source per kind, example journeys, and every deployment served with its
schedule.

Started by `inburgering up` (./bin/up). Files live in var/ (INBURGERING_HOME).
Stops everything it started on Ctrl-C, SIGTERM, SIGHUP or its parent's death
(deployments/supervisor.py); run it again to pick up where it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sys
import time
from pathlib import Path

import httpx

from deployments.supervisor import Supervisor
from inburgering import config

PREFECT_PORT = int(os.environ.get("INBURGERING_PREFECT_PORT", 4200))
GATEWAY_PORT = int(os.environ.get("INBURGERING_GATEWAY_PORT", 8025))
API_PORT = int(os.environ.get("INBURGERING_API_PORT", 8030))


def _wait_for(url: str, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{what} did not start within {seconds:.0f} s ({url}); see the logs in {config.home()}")


def _write_secret(path: Path, text: str) -> None:
    """Write a file only its owner can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    path.chmod(0o600)


def _token(home: Path) -> str:
    path = home / "gateway-token"
    if not path.exists():
        _write_secret(path, secrets.token_urlsafe(24))
    config.private_file(path)
    return path.read_text().strip()


def environment(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PREFECT_HOME", str(home / "prefect"))
    env.setdefault("PREFECT_API_URL", f"http://127.0.0.1:{PREFECT_PORT}/api")
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_SERVER_API_HOST", "127.0.0.1")
    env.setdefault("PREFECT_SERVER_API_PORT", str(PREFECT_PORT))
    env.setdefault("INBURGERING_GATEWAY_URL", f"http://127.0.0.1:{GATEWAY_PORT}")
    env.setdefault("INBURGERING_GATEWAY_TOKEN", _token(home))
    env.setdefault("INBURGERING_API_URL", f"http://127.0.0.1:{API_PORT}")
    env.setdefault("INBURGERING_HOME", str(home))
    return env


def gateway_command(python: str, home: Path) -> list[str]:
    """The local gateway's command line. Its token comes through the environment
    (INBURGERING_GATEWAY_TOKEN), never on the command line, where `ps` shows it to every user."""
    return [python, "-m", "inburgering.gateway.server", "--port", str(GATEWAY_PORT), "--store",
            str(home / "gateway.jsonl")]


def run(demo: bool = True) -> None:
    home = config.home()
    env = environment(home)
    os.environ.update(env)
    supervisor = Supervisor().__enter__()  # SIGINT, SIGTERM, SIGHUP and the parent's death stop it all
    children = supervisor.children

    def start(name: str, args: list[str]) -> None:
        supervisor.start(args, log=home / f"{name}.log", env=env, cwd=config.PROJECT_ROOT)

    def stop() -> None:
        supervisor.stop()
        raise SystemExit(0)

    python = sys.executable
    from inburgering.store.db import CaseFile

    CaseFile().dispose()  # the schema up to date before the API and the flows open the case file
    try:
        if not _healthy(f"{env['PREFECT_API_URL']}/health"):
            start("prefect-server", [python, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                     "--port", str(PREFECT_PORT)])
        start("gateway", gateway_command(python, home))
        start("api", [python, "-m", "inburgering.cli", "api", "--port", str(API_PORT)])
        _wait_for(f"{env['PREFECT_API_URL']}/health", "the Prefect server")
        _wait_for(f"{env['INBURGERING_GATEWAY_URL']}/health", "the local gateway")
        _wait_for(f"{env['INBURGERING_API_URL']}/v1/health", "the inbound API")

        from inburgering.demo import demo_sources, load_examples, tokens_file
        from inburgering.domain.calendar import today_in_amsterdam

        case_file = CaseFile()
        if demo and load_examples(case_file, today_in_amsterdam()):
            print("example journeys loaded (90 days of history)", flush=True)
        tokens = demo_sources(case_file, dt.datetime.now(dt.timezone.utc))  # new ones at every start
        case_file.dispose()
        _write_secret(tokens_file(), json.dumps(tokens, indent=2))

        from deployments.automations import ensure_alert_automation

        print(ensure_alert_automation(f"{env['INBURGERING_GATEWAY_URL']}/messages", env["INBURGERING_GATEWAY_TOKEN"]),
              flush=True)
        start("serve", [python, "-m", "deployments.serve"] + (["--demo"] if demo else []))
        _first_runs(env)
        print(f"\nPrefect UI:  http://127.0.0.1:{PREFECT_PORT}\n"
              f"Case file:   {config.shown_url(config.database_url())}\n"
              f"Gateway:     {env['INBURGERING_GATEWAY_URL']} (what was sent: {home / 'gateway.jsonl'})\n"
              f"Inbound API: {env['INBURGERING_API_URL']} (OpenAPI: {env['INBURGERING_API_URL']}/docs)\n"
              f"  demo tokens, one per kind of source (also in {tokens_file()}):\n"
              + "".join(f"    {kind:<13}{token}\n" for kind, token in tokens.items()) +
              f"Logs:        {home}/*.log\nStop with Ctrl-C.", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(1)
        failed = [c.args[2] if len(c.args) > 2 else c.args for c in children if c.poll() is not None]
        print(f"a component stopped ({failed}); see the logs in {home}", file=sys.stderr)
        stop()
    finally:  # an error, or a signal while starting: nothing is left running
        supervisor.stop()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _first_runs(env: dict[str, str]) -> None:
    """Once the deployments exist, run today's monitor so its report is there at once."""
    from prefect.deployments import run_deployment

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            run_deployment("deadline-monitor/deadline-monitor", timeout=0, as_subflow=False,
                           flow_run_name="monitor · at start-up")
            return
        except Exception:  # the deployments are not registered yet
            time.sleep(1)
    print("warning: the deployments did not appear within 120 s; see serve.log", file=sys.stderr)
