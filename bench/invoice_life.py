"""The cost of one invoice's full life on the accept path, in both engines.

    .venv/bin/python -m bench.invoice_life [--people 40] [--prefect-people 10] [--runs 3]

Life = submission, `invoice_waiting` e-mail rendered and stored, acceptance, payment
through the quarter cap and loan ledger, and both messages (e-mail, payment order)
dispatched to a real local HTTP gateway. Each run replays N people twice in the same
process: with the invoice, and the same journeys without it (the baseline). The cost
of one invoice is (with − without) / N; medians over the runs are printed, because
these machines are noisy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

from inburgering.demo import demo_bsn
from inburgering.engine.dispatch import dispatch_pending
from inburgering.gateway.client import GatewayClient, GatewaySettings
from inburgering.gateway.server import LocalGateway
from inburgering.scenario.loader import parse_scenario
from inburgering.scenario.runner import embedded_driver, prepare
from inburgering.store.db import CaseFile

START, UNTIL = "2022-05-01", "2022-06-30"


def scenario(people: int, with_invoice: bool):
    events = []
    for i in range(1, people + 1):
        p = f"p{i}"
        events += [
            {"date": "2022-05-02", "type": "residence_permit_granted", "person": p, "obligation_start": "2021-06-01"},
            {"date": "2022-05-02", "type": "bsn_registered", "person": p},
            {"date": "2022-05-02", "type": "municipality_registered", "person": p, "municipality": "Zwolle"},
            {"date": "2022-05-03", "type": "loan_granted", "person": p, "amount": "10000.00"},
        ]
        if with_invoice:
            events += [
                {"date": "2022-06-01", "type": "invoice_submitted", "person": p, "school": "Taalhuis Noord",
                 "invoice_number": f"F-{i}", "contract_number": f"C-{i}", "course_type": "Inburgering",
                 "description": "lessen mei", "invoice_date": "2022-06-01", "period_from": "2022-05-01",
                 "period_to": "2022-05-31", "courses": 20, "course_fee": "250.00", "materials_fee": "0.00",
                 "exam_fee": "0.00"},
                {"date": "2022-06-03", "type": "invoice_accepted", "person": p, "invoice_number": f"F-{i}"},
            ]
    return parse_scenario({"scenario": "invoice life", "from": START, "until": UNTIL, "events": events,
                           "people": {f"p{i}": {"bsn": demo_bsn(i), "name": f"Persoon {i}"}
                                      for i in range(1, people + 1)}})


def days():
    first, last = dt.date.fromisoformat(START), dt.date.fromisoformat(UNTIL)
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def one_run(people: int, with_invoice: bool, engine: str) -> float:
    with tempfile.TemporaryDirectory() as tmp, LocalGateway(token="b") as gateway:
        case_file = CaseFile(f"sqlite:///{Path(tmp) / 'bench.db'}")
        prepare(case_file, scenario(people, with_invoice))
        started = time.perf_counter()
        if engine == "prefect":
            from flows.dispatch.flow import dispatch_letters
            from flows.replay.flow import prefect_driver

            prefect_driver(case_file, days())
            os.environ.update(INBURGERING_GATEWAY_URL=gateway.url, INBURGERING_GATEWAY_TOKEN="b",
                              INBURGERING_DATABASE_URL=case_file.engine.url.render_as_string(hide_password=False))
            dispatch_letters()
        else:
            embedded_driver(case_file, days())
            with GatewayClient(GatewaySettings(gateway.url, "b")) as client:
                dispatch_pending(case_file, client, now=dt.datetime.now(dt.timezone.utc))
        seconds = time.perf_counter() - started
        sent = len(gateway.state.messages)
        case_file.dispose()
    expected = people * (3 if with_invoice else 1)  # start letter; + e-mail and payment
    assert sent == expected, f"{engine}: the gateway got {sent} messages, expected {expected}"
    return seconds


def measure(engine: str, people: int, runs: int) -> None:
    one_run(2, True, engine)  # warm-up: imports, template compilation, first flow runs
    per_invoice, with_s, without_s = [], [], []
    for _ in range(runs):
        without = one_run(people, False, engine)
        with_ = one_run(people, True, engine)
        without_s.append(without)
        with_s.append(with_)
        per_invoice.append((with_ - without) / people)
    print(f"{engine:9} people={people:3}  with invoice {statistics.median(with_s):7.2f} s  "
          f"baseline {statistics.median(without_s):7.2f} s  "
          f"one invoice's life: median {1000 * statistics.median(per_invoice):8.1f} ms "
          f"(runs: {', '.join(f'{1000 * x:.1f}' for x in per_invoice)} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description="cost of one invoice's full life, embedded and through Prefect")
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--prefect-people", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-prefect", action="store_true")
    args = parser.parse_args()
    measure("embedded", args.people, args.runs)
    if args.skip_prefect:
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if os.environ.get("PREFECT_API_URL"):
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            measure("prefect", args.prefect_people, args.runs)
    else:
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=180), \
                temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            measure("prefect", args.prefect_people, args.runs)


if __name__ == "__main__":
    main()
