"""Secrets and personal data kept from other local users (issue 25, item 2, and the /docs page):
the case file with its -wal and -shm, the gateway's spool and the token files are 0600 in a
0700 home; the gateway's token never on a command line; /docs served without a CDN; a client
that hangs up mid-body is one line in the API's log, not a traceback."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from deployments import embedded
from inburgering import config
from inburgering.engine import service
from inburgering.gateway.client import GatewayClient, GatewaySettings
from inburgering.store.db import CaseFile
from tests.api_server import ApiProcess, ThreadedApi, free_port
from tests.test_api import prepare

ROOT = Path(__file__).resolve().parent.parent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_case_file_and_its_wal_and_shm_are_readable_by_their_owner_only(tmp_path, monkeypatch):
    old = os.umask(0o022)  # a usual umask: files 0644, readable by every local user
    try:
        folder = tmp_path / "var"
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)
        monkeypatch.setenv("INBURGERING_HOME", str(folder))
        assert config.home() == folder and mode(folder) == 0o700
        loose = tmp_path / "loose.db"  # a case file made before: tightened when opened
        loose.touch(mode=0o644)
        for path in (folder / "inburgering.db", loose):
            case_file = CaseFile(f"sqlite:///{path}")
            with case_file.transaction() as session:
                service.register_person(session, ref="p1", bsn="123456782", name="Amina Yusuf")
                wal, shm = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))
                assert wal.exists() and shm.exists()
                assert (mode(path), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
            case_file.dispose()
    finally:
        os.umask(old)


def test_the_gateway_spool_is_private_and_its_token_is_never_on_a_command_line(tmp_path):
    command = embedded.gateway_command(sys.executable, tmp_path)
    port = free_port()
    command[command.index("--port") + 1] = str(port)
    token = "t0ken-" + "x" * 30
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "INBURGERING_GATEWAY_TOKEN": token},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with open(f"/proc/{server.pid}/cmdline", "rb") as cmdline:  # what `ps` shows every user
            assert token.encode() not in cmdline.read()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.2)
        with GatewayClient(GatewaySettings(url=url, token=token, timeout=10)) as client:
            client.send({"channel": "email", "to": {"name": "A", "email": "a@example.org"}, "subject": "s",
                         "body": "b"}, "key-1")
        spool = tmp_path / "gateway.jsonl"
        assert "a@example.org" in spool.read_text() and mode(spool) == 0o600
    finally:
        server.terminate()
        server.wait(timeout=30)
    # the token file bin/up makes
    assert embedded._token(tmp_path) and mode(tmp_path / "gateway-token") == 0o600


def test_docs_are_served_without_a_cdn(database_url):
    case_file, _ = prepare(database_url)
    with ThreadedApi(database_url) as api:
        page = httpx.get(f"{api.url}/docs")
        assert page.status_code == 200
        sources = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        assert sources and not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
        script = next(s for s in sources if s.endswith(".js"))
        served = httpx.get(f"{api.url}{script}")
        assert served.status_code == 200 and len(served.content) > 100_000  # Swagger UI itself, not a stub
        assert "SwaggerUIBundle" in page.text and "/openapi.json" in page.text
    case_file.dispose()


def test_a_client_that_hangs_up_mid_body_is_one_line_in_the_log(database_url, tmp_path):
    case_file, tokens = prepare(database_url)
    log = tmp_path / "api.log"
    with ApiProcess(database_url, log) as server:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", server.port)) as client:
                client.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               + f"Authorization: Bearer {tokens['ind']}\r\n".encode()
                               + b"Content-Length: 5000\r\n\r\n" + b'{"id": "x", "date": "2024-')
                time.sleep(0.3)
        assert httpx.get(f"{server.url}/v1/health").status_code == 200
        time.sleep(0.5)
    text = log.read_text()
    assert text.count("the client hung up") == 3, text
    assert "Traceback" not in text and "ClientDisconnect" not in text
    case_file.dispose()
