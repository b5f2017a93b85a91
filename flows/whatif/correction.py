"""Correction after a what-if, approved by staff: the `policy-correction` wait run.

When a `policy-what-if` run is asked to (`corrections: true`), it lists what the case file must
be put right for (inburgering/whatif/correct.py: fines to annul, loans to forgive, up to today)
and makes one run of `policy-correction` for that list, already suspended with its form (as the
wait runs of flows/waiting/ are): the description gives the totals and the list, case ids only;
staff approve or refuse it, with a reason. The run is made once per what-if (its idempotency
key is the what-if's id). On approval it enters the `correction` events and applies them, one
person at a time; each is entered once however often the run is resumed or rerun, and a case
that already differs skips its correction with the reason. What became of them is the run's
result and an artifact.
"""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, get_client, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectNotFound
from prefect.flow_runs import suspend_flow_run
from prefect.input.actions import create_flow_run_input, filter_flow_run_input

from flows.refusals import states_refusals
from flows.waiting.answer import WAIT_TIMEOUT, answer_key, keyset
from flows.waiting.form_rules import StaffForm, StaffText
from flows.waiting.forms import prefilled
from flows.waiting.sync import _save_form, suspended_state
from tasks.whatif import enter_corrections_now

DEPLOYMENT = "policy-correction/policy-correction"
LISTED = 200  # corrections listed in the form's description; the run's parameters hold them all


class CorrectionApproval(StaffForm):
    """Approve the corrections listed — each entered once into the case file, with its letter —
    or refuse them; say why (the reason goes with every correction)."""

    decision: Literal["approve", "refuse"]
    reason: StaffText


def describe(whatif: str, corrections: list[dict]) -> str:
    """What staff approve: the totals and the list (case ids only)."""
    fines = [c for c in corrections if c["what"] == "annul_fine"]
    loans = [c for c in corrections if c["what"] == "forgive_loan"]
    total = sum(float(c["amount"] or 0) for c in fines)
    lines = [f"Corrections from the policy what-if {whatif} (its report: the artifact policy-what-if).",
             f"{len(fines)} fine(s) to annul (refunded where paid), €{total:,.2f} in all; {len(loans)} loan(s) to "
             "forgive. Each is entered into the case file once, with its letter; a case that already differs "
             "(a fine annulled on objection meanwhile, a loan forgiven) is skipped with the reason.", ""]
    for c in corrections[:LISTED]:
        what = f"annul the fine of {c['decision_date']} (€{c['amount']})" if c["what"] == "annul_fine" else \
            "forgive the loan"
        lines.append(f"- case-{c['case']}: {what}")
    if len(corrections) > LISTED:
        lines.append(f"- …and {len(corrections) - LISTED} more (the run's parameters list them all)")
    return "\n".join(lines)


def propose_corrections(whatif: str, corrections: list[dict]) -> str | None:
    """The what-if's correction run, suspended with its form; the same what-if finds the same run.
    Returns its id (None when there is nothing to correct or no `policy-correction` deployment)."""
    if not corrections:
        return None
    form = prefilled(CorrectionApproval, describe(whatif, corrections))
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(DEPLOYMENT)
        except ObjectNotFound:
            get_run_logger().warning("no %s deployment: the corrections are listed in the report only", DEPLOYMENT)
            return None
        run = client.create_flow_run_from_deployment(
            deployment.id, parameters={"whatif": whatif, "corrections": corrections},
            name=f"correct · {whatif} · {len(corrections)} case(s)", tags=["whatif", "staff-decision"],
            idempotency_key=f"correction-{whatif}", state=suspended_state(form))
        _save_form(client, str(run.id), form)
    return str(run.id)


@flow(name="policy-correction", flow_run_name="correct · {whatif}")
@states_refusals
def policy_correction(whatif: str, corrections: list[dict]) -> Any:
    """Staff: approve or refuse the corrections a policy what-if lists (fines annulled and
    refunded, loans forgiven). Runs only when resumed with the answer; see the module's docstring."""
    run = FlowRunContext.get().flow_run
    inputs = {i.key: i.decoded_value for prefix in ("suspended-answer-1", "outcome-1")
              for i in filter_flow_run_input(prefix, limit=10, flow_run_id=run.id)}
    if "outcome-1" in inputs:  # answered before: a rerun changes nothing
        return inputs["outcome-1"]
    response = inputs.get(keyset(1)["response"])
    if response is None:
        form = prefilled(CorrectionApproval, describe(whatif, corrections))
        suspend_flow_run(wait_for_input=form, key=answer_key(1), timeout=int(WAIT_TIMEOUT.total_seconds()))
    answer = CorrectionApproval.model_validate(response)
    if answer.decision == "refuse":
        outcome: dict = {"whatif": whatif, "decision": "refused", "reason": answer.reason}
    else:
        outcome = {"decision": "approved", "reason": answer.reason,
                   **enter_corrections_now(whatif, corrections, answer.reason)}
    create_flow_run_input(key="outcome-1", value=outcome, flow_run_id=run.id)
    create_markdown_artifact(outcome_markdown(outcome), key="policy-correction",
                             description=f"{whatif}: the corrections {outcome['decision']}")
    get_run_logger().info("%s: corrections %s", whatif, outcome["decision"])
    return outcome


def outcome_markdown(outcome: dict) -> str:
    lines = [f"# Corrections from {outcome['whatif']}: {outcome['decision']}", "", f"Reason: {outcome['reason']}", ""]
    if outcome["decision"] == "approved":
        lines += [f"- applied: {len(outcome['applied'])}", f"- skipped: {len(outcome['skipped'])}",
                  f"- entered before (not again): {len(outcome['entered_before'])}", ""]
        lines += [f"- {s['case']} {s['what']}: skipped — {s['reason']}" for s in outcome["skipped"]]
    return "\n".join(lines)
