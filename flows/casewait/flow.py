"""One run per waiting case: visible in the Prefect UI, answered through a typed form."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.flow_runs import suspend_flow_run
from sqlalchemy import select

from flows.casewait.forms import FORMS
from inburgering.engine.errors import InputError
from inburgering.store.models import Case, CaseStatus
from tasks.casefile import apply_staff_event, case_file

# Suspended runs fail when their timeout passes; the durable timers live in the case
# file, so this only bounds how long one wait run stays open before it is renewed.
WAIT_TIMEOUT_SECONDS = 366 * 24 * 3600


@task(name="show-case")
def show_case(case_id: int) -> str:
    with case_file().transaction() as session:
        case = session.get(Case, case_id)
        if case is None:
            raise InputError(f"there is no case-{case_id}")
        history = session.scalars(select(CaseStatus).where(CaseStatus.case_id == case_id)
                                  .order_by(CaseStatus.id)).all()
        lines = [f"# {case.process} · case-{case.id}", "",
                 f"- status: **{case.status}**",
                 f"- waits for: **{case.waiting_for or 'nothing'}** since {case.waiting_since or '—'}",
                 f"- late since: {case.late_since or 'not late'}", "", "| day | status | because of |",
                 "|---|---|---|"]
        lines += [f"| {h.on_date} | {h.status} | {h.cause} |" for h in history]
        create_markdown_artifact("\n".join(lines), key=f"case-{case.id}", description="Where this case stands")
        return case.process


@flow(name="case-wait")
def case_wait(case_id: int) -> dict:
    """Show a waiting case; staff answer the form to record what it waits for."""
    process = show_case(case_id)
    form = FORMS[process]
    answer = suspend_flow_run(wait_for_input=form, key="staff-input", timeout=WAIT_TIMEOUT_SECONDS)
    return apply_staff_event(case_id, answer.to_event(), source="staff:case-wait")
