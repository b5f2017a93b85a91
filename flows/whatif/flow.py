"""The policy what-if through Prefect: `policy-what-if`, split by person like the ingest.

A run replays every journey of the case file (a read-only snapshot) under the policy in force
and under the proposal, and leaves the report as artifacts (`policy-what-if`: tables and the
money per month as bars; `policy-what-if-cases`, `policy-what-if-money`) and as JSON and CSV
files. With more than one partition each share of the people is replayed by its own
`policy-what-if-partition` run on the work pool, side by side; the parent adds them up.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow
from prefect.runtime import flow_run

from inburgering.domain.calendar import today_in_amsterdam
from inburgering.engine.service import ALL
from flows.refusals import states_refusals, taken
from tasks.partitions import leave_report, partition, partition_count, run_partitions
from tasks.whatif import EMPTY, list_corrections, plan_whatif, publish_whatif, replay_share
from flows.whatif.correction import propose_corrections
from inburgering.whatif.run import report_of


def _run_name() -> str:
    parameters = flow_run.parameters
    window = f"{parameters.get('start') or '…'} – {parameters.get('until') or today_in_amsterdam()}"
    return f"what-if · {window}"


def _partition_run_name() -> str:
    parameters = flow_run.parameters
    return f"what-if · {parameters.get('whatif')} · part {parameters.get('part')}/{parameters.get('parts')}"


@flow(name="policy-what-if", flow_run_name=_run_name)
@states_refusals
def policy_what_if(proposal: str, start: dt.date | None = None, until: dt.date | None = None,
                   partitions: int | None = None, corrections: bool = False) -> dict:
    """Policy makers: what would a proposed policy change in the journeys of the case file?

    `proposal`: overrides in the policy file's format (YAML, as inburgering/policy/defaults.yaml),
    dated entries allowed, e.g. `invoice_quarter_cap: [{from: 2027-01-01, value: "1500.00"}]`.
    `start`/`until`: the report window (`until` default today; it may lie in the future: then
    only timers run). Replays every journey twice, in memory; the case file is only read.
    `corrections`: also list what the case file must be put right for (fines the proposal would
    not have imposed, loans it would have forgiven, up to today) in a `policy-correction` run for
    staff to approve or refuse (flows/whatif/correction.py)."""
    last = until or today_in_amsterdam()
    the_plan = taken(plan_whatif(proposal, start, last))
    parts = partition_count(partitions)
    if parts == 1:
        results = [taken(replay_share(the_plan, ALL))]
    else:
        results = [run_partitions("policy-what-if-partition/policy-what-if-partition", f"what-if · {the_plan.id}",
                                  last, parts, empty=EMPTY, parameters={
                                      "proposal": proposal, "start": start.isoformat() if start else None,
                                      "until": last.isoformat(), "mark": the_plan.mark, "whatif": the_plan.id})]
    report = report_of(the_plan, results)
    files = publish_whatif(report)
    result = {"whatif": report["whatif"], "journeys": report["journeys"], "journeys_changed": report["journeys_changed"],
              "cases_changed": report["cases_changed"], "totals": report["totals"], "files": files}
    if corrections:
        listed = list_corrections(report)
        result |= {"corrections": len(listed), "correction_run": propose_corrections(report["whatif"], listed)}
    return result


@flow(name="policy-what-if-partition", flow_run_name=_partition_run_name)
@states_refusals
def policy_what_if_partition(proposal: str, until: dt.date, mark: int, whatif: str, part: int, parts: int,
                             start: dt.date | None = None) -> dict:
    """One share of the people of a what-if (part 1..parts); `policy-what-if` runs these. Reads only,
    so it takes no partition slot: it may run beside the ingest and the monitor."""
    the_plan = taken(plan_whatif(proposal, start, until, mark=mark, whatif=whatif))
    result = taken(replay_share(the_plan, partition(part, parts)))
    leave_report(f"what-if · {whatif}", part, parts, result)
    return result
