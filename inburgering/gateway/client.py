"""httpx client for the notification and payment gateway.

Every message carries an Idempotency-Key header: the gateway answers a repeated
key with the first answer and does not send twice, so a retry after a timeout or
a crash is always safe. Connection failures are retried by httpx's transport (three
times, within about 1.5 s); then they and timeouts raise `GatewayUnreachable`, and 5xx
answers `GatewayUnavailable`, for the caller to try again later (engine/dispatch.py:
back-off, and a run stops at the first unreachable gateway). 4xx answers raise
`GatewayRefused`: sending the same again will not help.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx


class GatewayError(RuntimeError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status the gateway answered, if it answered


class GatewayUnavailable(GatewayError):
    """Try again later: the gateway answered 5xx (or is not configured)."""


class GatewayUnreachable(GatewayUnavailable):
    """Try again later: no answer at all (connection refused, timeout). The next message
    would fare no better."""


class GatewayRefused(GatewayError):
    """The gateway refused the message (4xx): retrying will not help."""


@dataclass(frozen=True)
class GatewaySettings:
    url: str
    token: str
    timeout: float = 10.0

    @classmethod
    def from_environment(cls) -> GatewaySettings:
        """INBURGERING_GATEWAY_URL and a token from INBURGERING_GATEWAY_TOKEN or the
        Prefect Secret block `inburgering-gateway-token`."""
        url = os.environ.get("INBURGERING_GATEWAY_URL")
        if not url:
            raise GatewayUnavailable("no gateway configured: set INBURGERING_GATEWAY_URL")
        token = os.environ.get("INBURGERING_GATEWAY_TOKEN") or _secret_block("inburgering-gateway-token")
        if not token:
            raise GatewayUnavailable("no gateway token: set INBURGERING_GATEWAY_TOKEN or the Prefect Secret "
                                     "block inburgering-gateway-token")
        return cls(url=url.rstrip("/"), token=token, timeout=float(os.environ.get("INBURGERING_GATEWAY_TIMEOUT", 10)))


def _secret_block(name: str) -> str | None:
    try:
        from prefect.blocks.system import Secret

        return Secret.load(name).get()
    except Exception:  # no Prefect API or no such block: the environment must provide it
        return None


class GatewayClient:
    def __init__(self, settings: GatewaySettings, transport: httpx.BaseTransport | None = None):
        self.settings = settings
        self._http = httpx.Client(
            base_url=settings.url,
            timeout=settings.timeout,
            headers={"Authorization": f"Bearer {settings.token}"},
            transport=transport or httpx.HTTPTransport(retries=3),
        )

    def send(self, message: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        try:
            response = self._http.post("/messages", json=message, headers={"Idempotency-Key": idempotency_key})
        except httpx.TransportError as exc:  # includes timeouts
            raise GatewayUnreachable(f"gateway not reachable: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise GatewayUnavailable(f"gateway answered {response.status_code}", response.status_code)
        if response.status_code >= 400:
            raise GatewayRefused(f"gateway refused the message: {response.status_code} {response.text[:200]}",
                                 response.status_code)
        return response.json()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
