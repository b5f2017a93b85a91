"""An httpx client for the inbound API, as a sending system would use it (the demo feed does).

Each event carries its sender's id, so sending it again after a timeout or a crash is safe:
the API answers `duplicate` and stores nothing twice.
"""

from __future__ import annotations

from typing import Any

import httpx

from inburgering.api.sources import kind_for


class ApiRefused(RuntimeError):
    """The API refused the request (4xx): sending it again will not help."""


class ApiClient:
    """Sends events with the token of the kind of source that sends their type."""

    def __init__(self, url: str, tokens: dict[str, str], *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None):
        self.tokens = tokens
        self._http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout,
                                  transport=transport or httpx.HTTPTransport(retries=3))

    def send(self, event: dict[str, Any]) -> dict[str, Any]:
        """POST one event; its answer ({"id", "status": "accepted" | "duplicate"})."""
        kind = kind_for(event["type"])
        if kind not in self.tokens:
            raise ApiRefused(f"no token for the {kind} source that sends {event['type']} events")
        response = self._http.post("/v1/events", json=event, headers={"Authorization": f"Bearer {self.tokens[kind]}"})
        if 400 <= response.status_code < 500:
            raise ApiRefused(f"the API refused event {event.get('id')}: {response.status_code} {response.text[:500]}")
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
