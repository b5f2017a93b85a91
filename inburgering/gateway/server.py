"""A small, real HTTP gateway for the embedded default and the tests.

It stands in for the mail house, the e-mail service and the payment system: it
accepts POST /messages with a bearer token and an Idempotency-Key, stores each key
once (a repeat gets the first answer back, `"duplicate": true`), and lists what it
received at GET /messages. Like a mail service it refuses (422) an e-mail message without
an address. Messages are appended to a JSON-lines file when a path
is given, so what was "sent" survives restarts and can be inspected.

    INBURGERING_GATEWAY_TOKEN=dev-token python -m inburgering.gateway.server --port 8025 --store var/gateway.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from inburgering import config


class GatewayState:
    def __init__(self, token: str, store: Path | None = None, fail_next: int = 0):
        self.token = token
        self.store = store
        self.lock = threading.Lock()
        self.messages: dict[str, dict[str, Any]] = {}
        self.fail_next = fail_next  # answer 503 this many times (tests of retries)
        if store:
            config.private_file(store)  # every message: names, addresses, letters
        if store and store.exists():
            for line in store.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                self.messages[record["idempotency_key"]] = record

    def accept(self, key: str, message: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503, {"error": "temporarily unavailable"}
            if key in self.messages:
                return 200, {"id": self.messages[key]["id"], "duplicate": True}
            to = message.get("to")
            if message.get("channel") == "email" and isinstance(to, dict) and not to.get("email"):
                return 422, {"error": "an e-mail message needs an address (to.email)"}
            record = {"id": len(self.messages) + 1, "idempotency_key": key, "message": message}
            self.messages[key] = record
            if self.store:
                with self.store.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
            return 201, {"id": record["id"], "duplicate": False}


def make_handler(state: GatewayState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                self._reply(401, {"error": "missing or wrong bearer token"})
                return False
            return True

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/messages" or not self._authorised():
                if self.path != "/messages":
                    self._reply(404, {"error": "not found"})
                return
            key = self.headers.get("Idempotency-Key")
            if not key:
                self._reply(400, {"error": "Idempotency-Key header is required"})
                return
            try:
                message = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            except json.JSONDecodeError:
                self._reply(400, {"error": "body is not JSON"})
                return
            self._reply(*state.accept(key, message))

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/health":
                self._reply(200, {"ok": True})
            elif self.path == "/messages" and self._authorised():
                with state.lock:
                    self._reply(200, sorted(state.messages.values(), key=lambda r: r["id"]))
            elif self.path != "/messages":
                self._reply(404, {"error": "not found"})

        def log_message(self, format: str, *args: Any) -> None:  # keep message bodies out of logs
            pass

    return Handler


class LocalGateway:
    """Run the gateway in a background thread (tests, the embedded default)."""

    def __init__(self, token: str = "dev-token", port: int = 0, store: Path | None = None):
        self.state = GatewayState(token, store)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(self.state))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def __enter__(self) -> LocalGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop answering (the port is closed): as a gateway that is down. Safe to call twice."""
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--token-file", type=Path, help="a file (0600) holding the bearer token; default: the "
                                                        "environment's INBURGERING_GATEWAY_TOKEN (never on the "
                                                        "command line, where `ps` shows it to every user)")
    parser.add_argument("--store", type=Path)
    args = parser.parse_args()
    token = args.token_file.read_text().strip() if args.token_file else os.environ.get("INBURGERING_GATEWAY_TOKEN")
    if not token:
        parser.error("no token: set INBURGERING_GATEWAY_TOKEN or give --token-file")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(GatewayState(token, args.store)))
    print(f"gateway listening on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
