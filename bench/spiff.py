"""Peer (a): the invoice-acceptance event stream run by SpiffWorkflow.

The process is drawn as BPMN (bench/invoice.bpmn). Each invoice_submitted event starts a
workflow, runs it to the person's decision and stores its serialized state in SQLite; each
invoice_accepted / invoice_refused event loads that state, completes the decision, runs
the workflow to its end and stores it again — one transaction per event. Needs the
optional `bench` extra (SpiffWorkflow).
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.util.task import TaskState

BPMN = Path(__file__).with_name("invoice.bpmn")
INVOICE_EVENTS = ("invoice_submitted", "invoice_accepted", "invoice_refused")


def spiff_events_per_second(generated) -> tuple[float, int]:  # noqa: ANN001
    parser = BpmnParser()
    parser.add_bpmn_file(str(BPMN))
    spec = parser.get_spec("invoice_acceptance")
    serializer = BpmnWorkflowSerializer()
    events = [e for e in generated.events if e["type"] in INVOICE_EVENTS]
    with tempfile.TemporaryDirectory(prefix="bench-spiff-") as tmp:
        con = sqlite3.connect(Path(tmp) / "spiff.db")
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("CREATE TABLE workflows (invoice TEXT PRIMARY KEY, state TEXT)")
        started = time.perf_counter()
        for event in events:
            key = f"{event['person']}:{event['invoice_number']}"
            with con:
                if event["type"] == "invoice_submitted":
                    workflow = BpmnWorkflow(spec)
                    workflow.do_engine_steps()
                    con.execute("INSERT INTO workflows VALUES (?, ?)", (key, serializer.serialize_json(workflow)))
                    continue
                (state,) = con.execute("SELECT state FROM workflows WHERE invoice = ?", (key,)).fetchone()
                workflow = serializer.deserialize_json(state)
                (decide,) = workflow.get_tasks(state=TaskState.READY, manual=True)
                decide.data["outcome"] = "accepted" if event["type"] == "invoice_accepted" else "refused"
                decide.run()
                workflow.do_engine_steps()
                assert workflow.completed
                con.execute("UPDATE workflows SET state = ? WHERE invoice = ?",
                            (serializer.serialize_json(workflow), key))
        seconds = time.perf_counter() - started
        con.close()
    return len(events) / seconds, len(events)
