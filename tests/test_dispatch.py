"""The outbox reaches the gateway exactly once: through retries, and through a killed worker."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap

import httpx
import pytest
from sqlalchemy import func, select

from inburgering.engine.dispatch import dispatch_pending
from inburgering.gateway.client import GatewayClient, GatewayRefused, GatewaySettings
from inburgering.gateway.server import LocalGateway
from inburgering.store.db import CaseFile
from inburgering.store.models import OutboxMessage
from tests.scenario_helpers import replay_into

NOW = dt.datetime(2022, 6, 3, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def accepted_invoice(database_url, scenarios_dir):
    """The invoice_accept scenario replayed: a start letter, an e-mail and a payment in the outbox."""
    case_file = CaseFile(database_url)
    replay_into(case_file, scenarios_dir / "invoice_accept.yaml")
    yield case_file
    case_file.dispose()


def _outbox(case_file: CaseFile) -> dict[str, int]:
    with case_file.transaction() as session:
        return dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def _channels(gateway: LocalGateway) -> list[str]:
    return sorted(r["message"]["channel"] for r in gateway.state.messages.values())


def test_every_message_is_sent_once_and_a_second_run_sends_nothing(accepted_invoice):
    with LocalGateway(token="t") as gateway, GatewayClient(GatewaySettings(gateway.url, "t")) as client:
        first = dispatch_pending(accepted_invoice, client, now=NOW)
        second = dispatch_pending(accepted_invoice, client, now=NOW)
        assert _channels(gateway) == ["email", "payment", "post"]
        payment = next(r["message"] for r in gateway.state.messages.values() if r["message"]["channel"] == "payment")
    assert first.sent == 3 and second.sent == 0
    assert payment["invoice_number"] == "FAC229230568" and payment["amount"] == "250.00"
    assert _outbox(accepted_invoice) == {"sent": 3}


def test_gateway_down_postpones_and_a_run_after_the_back_off_sends(accepted_invoice):
    with LocalGateway(token="t") as gateway, GatewayClient(GatewaySettings(gateway.url, "t")) as client:
        gateway.state.fail_next = 3  # three 503 answers
        first = dispatch_pending(accepted_invoice, client, now=NOW)
        assert first.postponed == 3 and first.sent == 0
        assert _outbox(accepted_invoice) == {"pending": 3}
        too_soon = dispatch_pending(accepted_invoice, client, now=NOW + dt.timedelta(seconds=59))
        assert too_soon.attempted == 0  # each waits a minute after its first failed attempt
        after = dispatch_pending(accepted_invoice, client, now=NOW + dt.timedelta(minutes=1))
        assert after.sent == 3
        assert len(gateway.state.messages) == 3


def test_a_wrong_token_is_refused_not_retried(tmp_path):
    with LocalGateway(token="right") as gateway, GatewayClient(GatewaySettings(gateway.url, "wrong")) as client:
        with pytest.raises(GatewayRefused, match="401"):
            client.send({"channel": "email"}, "key-1")


def test_gateway_answers_a_repeated_key_with_the_first_answer():
    with LocalGateway(token="t") as gateway:
        headers = {"Authorization": "Bearer t", "Idempotency-Key": "k"}
        first = httpx.post(f"{gateway.url}/messages", json={"n": 1}, headers=headers).json()
        again = httpx.post(f"{gateway.url}/messages", json={"n": 1}, headers=headers).json()
    assert first == {"id": 1, "duplicate": False}
    assert again == {"id": 1, "duplicate": True}


@pytest.mark.parametrize("crash_at", ["before_send", "after_send"])
def test_a_worker_killed_mid_dispatch_loses_nothing_and_doubles_nothing(accepted_invoice, crash_at):
    """Kill the dispatching process right before or right after the gateway call for the
    first message (the payment's e-mail or the payment itself), restart, and count."""
    url = accepted_invoice.engine.url.render_as_string(hide_password=False)
    with LocalGateway(token="t") as gateway:
        script = textwrap.dedent(f"""
            import datetime as dt
            from inburgering.engine.dispatch import dispatch_pending
            from inburgering.gateway.client import GatewayClient, GatewaySettings
            from inburgering.store.db import CaseFile
            dispatch_pending(CaseFile({url!r}), GatewayClient(GatewaySettings({gateway.url!r}, "t")),
                             now=dt.datetime(2022, 6, 3, tzinfo=dt.timezone.utc))
        """)
        killed = subprocess.run([sys.executable, "-c", script], env={**os.environ, "INBURGERING_CRASH_AT": crash_at},
                                capture_output=True, text=True, timeout=120)
        assert killed.returncode == 137, killed.stderr
        assert _outbox(accepted_invoice) == {"pending": 3}  # nothing was marked sent
        assert len(gateway.state.messages) == (1 if crash_at == "after_send" else 0)

        with GatewayClient(GatewaySettings(gateway.url, "t")) as client:
            restarted = dispatch_pending(accepted_invoice, client, now=NOW)
        assert restarted.sent == 3
        assert restarted.duplicates == (1 if crash_at == "after_send" else 0)
        assert _channels(gateway) == ["email", "payment", "post"]  # each exactly once
    assert _outbox(accepted_invoice) == {"sent": 3}
