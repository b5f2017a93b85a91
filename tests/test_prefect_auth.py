"""Production runs Prefect's own server behind PREFECT_SERVER_API_AUTH_STRING (README): a client
without the string is refused, and our flows, given PREFECT_API_AUTH_STRING, still run there."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy import select

from inburgering.engine import service
from inburgering.store.db import CaseFile
from inburgering.store.models import ReceivedEvent
from tests.api_server import ROOT, free_port

AUTH = "duo-ops:not-the-real-one"


@pytest.mark.prefect
def test_flows_reach_a_prefect_server_that_asks_for_the_auth_string(tmp_path):
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    base.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_HOME=str(tmp_path / "prefect-home"))
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                               "--port", str(port)], env={**base, "PREFECT_SERVER_API_AUTH_STRING": AUTH},
                              stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        _wait_until_up(api_url, server, tmp_path / "server.log")
        assert httpx.post(f"{api_url}/flow_runs/filter", json={}).status_code == 401
        assert httpx.post(f"{api_url}/flow_runs/filter", json={}, auth=tuple(AUTH.split(":", 1))).status_code == 200

        database_url = f"sqlite:///{tmp_path / 'case.db'}"
        case_file = CaseFile(database_url)
        with case_file.transaction() as session:
            service.register_person(session, ref="p1", bsn="123456782", name="Amina Yusuf")
            service.receive(session, {"date": "2024-02-01", "type": "residence_permit_granted", "person": "p1"},
                            source="test", received_on=dt.date(2024, 2, 1))
        client = {**base, "PREFECT_API_URL": api_url, "INBURGERING_DATABASE_URL": database_url}
        script = ("import datetime as dt; from flows.ingest.flow import ingest_events; "
                  "print(ingest_events(as_of=dt.date(2024, 3, 1), show_waits=False))")
        refused = subprocess.run([sys.executable, "-c", script], env=client, cwd=ROOT, capture_output=True,
                                 text=True, timeout=300)
        assert refused.returncode != 0 and "401" in refused.stderr + refused.stdout
        with case_file.transaction() as session:
            assert session.scalar(select(ReceivedEvent.status)) == "pending"  # nothing ran

        ran = subprocess.run([sys.executable, "-c", script], env={**client, "PREFECT_API_AUTH_STRING": AUTH},
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert ran.returncode == 0, ran.stderr[-3000:]
        assert "'applied': 1" in ran.stdout
        with case_file.transaction() as session:
            assert session.scalar(select(ReceivedEvent.status)) == "applied"
        runs = httpx.post(f"{api_url}/flow_runs/filter", json={}, auth=tuple(AUTH.split(":", 1))).json()
        assert [(r["name"].startswith("ingest"), r["state_type"]) for r in runs] == [(True, "COMPLETED")]
        case_file.dispose()
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _wait_until_up(api_url: str, server: subprocess.Popen, log_path) -> None:  # noqa: ANN001
    deadline = time.monotonic() + 180  # a loaded 2-core machine
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the Prefect server exited: {log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{api_url}/health", timeout=5, auth=tuple(AUTH.split(":", 1))).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    raise RuntimeError("the Prefect server did not start within 180 s")
