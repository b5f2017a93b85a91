"""Which waiting cases are shown as a wait run in Prefect, under which name, and what the sync
does to keep exactly one live run per such case. Plain functions over case rows; the Prefect
calls are in flows/waiting/sync.py, the flow body that takes the answer in flows/waiting/answer.py.

A case gets a wait run when someone must act (`models.ACTIONABLE`): it is late, it waits for
a staff decision, or staff opened it (`open-case`). At most policy `wait_runs_max` of them
have a run: staff decisions and cases opened by staff first, then the longest late. Every
other waiting case is on the boards (engine/board.py). The durable timers stay in the case
file: a run only shows a wait and takes staff input.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Select, select
from sqlalchemy import case as when
from sqlalchemy.orm import Session

from inburgering.domain.bsn import redact_bsn
from inburgering.domain.registry import TITLES
from inburgering.engine.casepage import page_key
from inburgering.engine.board import LATE_TAG
from inburgering.store.models import ACTIONABLE, STAFF_DECISION_STATUSES, WAIT_SHOWN, Case

# The process each wait flow shows: its flow's name is the process's title (domain/registry.py),
# its deployment's name is this (flows/<process>/flow.py).
DEPLOYMENTS = {"intake": "intake", "invoicing": "invoice-acceptance", "exemption": "agi-exemption",
               "exams": "exams", "term": "integration-term", "form_exemption": "form-exemption",
               "objection": "objection"}

STAFF_DECISION_TAG = "staff-decision"
OPENED_TAG = "opened-by-staff"
WAIT_TAG = "wait"


def deployment_name(process: str) -> str:
    """`flow/deployment` of the process's wait flow, as run_deployment and the client read it."""
    return f"{TITLES[process]}/{DEPLOYMENTS[process]}"


# ---- the cases ---------------------------------------------------------------------------------

_COLUMNS = ("id", "process", "status", "waiting_for", "waiting_since", "late_since", "version",
            "wait_run_id", "wait_version", "wait_name", "wait_demand_version", "state")


@dataclass(frozen=True)
class CaseWait:
    """A case row as the sync reads it."""

    id: int
    process: str
    status: str
    waiting_for: str | None
    waiting_since: dt.date | None
    late_since: dt.date | None
    version: int
    wait_run_id: str | None
    wait_version: int | None
    wait_name: str | None
    wait_demand_version: int | None
    state: dict = field(default_factory=dict, compare=False)

    @property
    def staff_decision(self) -> bool:
        return self.status in STAFF_DECISION_STATUSES

    @property
    def opened_by_staff(self) -> bool:
        return self.wait_demand_version == self.version

    @property
    def shown_because(self) -> str:
        if self.staff_decision:
            return "it waits for a staff decision"
        if self.opened_by_staff:
            return "staff opened it"
        return "it is late"

    def days_late(self, today: dt.date) -> int | None:
        """1 on the first late day, as the boards count."""
        return (today - self.late_since).days + 1 if self.late_since and self.late_since <= today else None


def _rows(session: Session, query: Select) -> list[CaseWait]:
    return [CaseWait(*row) for row in session.execute(query)]


def _select():  # noqa: ANN202
    cases = Case.__table__
    return select(*(cases.c[name] for name in _COLUMNS))


def actionable(session: Session, limit: int) -> list[CaseWait]:
    """The cases that should show a wait run now, most urgent first, at most `limit`: staff
    decisions and cases opened by staff, then the longest late (`ix_cases_actionable`)."""
    cases = Case.__table__
    urgent = when((cases.c.status.in_(STAFF_DECISION_STATUSES) | (cases.c.wait_demand_version == cases.c.version),
                   0), else_=1)
    return _rows(session, _select().where(ACTIONABLE, cases.c.process.in_(list(TITLES)))
                 .order_by(urgent, cases.c.late_since, cases.c.id).limit(limit))


def shown(session: Session) -> list[CaseWait]:
    """The cases that show a run now (`ix_cases_wait_shown`): at most what was allowed."""
    cases = Case.__table__
    return _rows(session, _select().where(WAIT_SHOWN).order_by(cases.c.id))


def one(session: Session, case_id: int) -> CaseWait | None:
    rows = _rows(session, _select().where(Case.__table__.c.id == case_id))
    return rows[0] if rows else None


def count_actionable(session: Session) -> int:
    from sqlalchemy import func

    cases = Case.__table__
    return session.scalar(select(func.count()).select_from(cases).where(ACTIONABLE, cases.c.process.in_(list(TITLES))))\
        or 0


# ---- what a run shows ----------------------------------------------------------------------------


def run_name(case: CaseWait, today: dt.date) -> str:
    """`case-12 · 25 days late · waits for …`: the case, how late, what it waits for."""
    late = case.days_late(today)
    parts = [f"case-{case.id}"] + ([f"{late} day{'s' if late != 1 else ''} late"] if late else [])
    return redact_bsn(" · ".join(parts + [f"waits for {case.waiting_for}"]))


def run_tags(case: CaseWait, today: dt.date) -> list[str]:
    tags = [WAIT_TAG, page_key(case.id), f"process:{case.process}", f"status:{case.status}"]
    if case.days_late(today):
        tags.append(LATE_TAG)
    if case.staff_decision:
        tags.append(STAFF_DECISION_TAG)
    if case.opened_by_staff:
        tags.append(OPENED_TAG)
    return tags


# What a run that no longer shows its case's wait is renamed to, by its state: it keeps no days
# late in its name and no `late` or `status:` tag, so the Runs page's late filter counts only the
# live waits of late cases.
ENDED = {"COMPLETED": "answered", "CANCELLED": "closed", "CANCELLING": "closed", "FAILED": "failed",
         "CRASHED": "crashed"}


def ended_name(case_id: int, state: str) -> str:
    """`case-12 · answered`: a run that no longer shows the case's wait, and why."""
    return f"case-{case_id} · {ENDED.get(state, 'closed')}"


def ended_tags(case_id: int, process: str) -> list[str]:
    """A run that no longer shows a wait keeps its case (the case page links to its runs) and process."""
    return [WAIT_TAG, page_key(case_id), f"process:{process}"]


def describe(case: CaseWait, today: dt.date, *, what_to_enter: str, refused: str | None = None,
             details: list[tuple[str, str]] = ()) -> str:
    """The resume form's description (markdown): status, what it waits for, since when, how late,
    why it is shown, what to enter, and why the last answer was refused; and the form's own
    `details` rows (e.g. the decision objected to and the grounds). Dated, so it stays true."""
    since = f"{case.waiting_since} ({(today - case.waiting_since).days} days on {today})" if case.waiting_since \
        else "—"
    late = case.days_late(today)
    lines = []
    if refused:
        lines += [f"**The last answer was refused:** {refused}. Correct it and submit the form again.", ""]
    lines += [f"**What to enter:** {what_to_enter}", "",
              f"| case | **case-{case.id}** · {TITLES.get(case.process, case.process)} |", "|---|---|",
              f"| status | **{case.status}** |",
              f"| waits for | {case.waiting_for or 'nothing'} |",
              f"| waiting since | {since} |",
              f"| late | {f'since {case.late_since}: **{late} days late** on {today}' if late else 'no'} |",
              f"| shown because | {case.shown_because} |"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in details]
    return redact_bsn("\n".join(lines))


def _cell(value: str) -> str:
    """Text in a markdown table cell: one line, no column breaks."""
    return " ".join(str(value).split()).replace("|", "\\|")


# ---- what the sync does ----------------------------------------------------------------------------

LIVE = frozenset({"SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"})
ANSWERING = frozenset({"SCHEDULED", "PENDING", "RUNNING", "CANCELLING"})  # resumed: an answer is being applied


@dataclass(frozen=True)
class RunSeen:
    """A shown run as Prefect has it: its state type and, when suspended, until when."""

    state: str
    pause_timeout: dt.datetime | None = None


@dataclass
class WaitPlan:
    show: list[CaseWait] = field(default_factory=list)  # a new run (in priority order)
    cancel: list[str] = field(default_factory=list)  # suspended runs of cases no longer wanted
    rename: list[CaseWait] = field(default_factory=list)  # the same run, a new name (days late)
    clear: list[int] = field(default_factory=list)  # cases that no longer show a run
    # runs that no longer show their case's wait, renamed without days late or `late` tag: run id
    # -> (its case, its state once this plan is carried out)
    retire: dict[str, tuple[CaseWait, str]] = field(default_factory=dict)
    replaced: dict[str, int] = field(default_factory=dict)  # why a run is made again: failed, gone, timeout...


def plan(wanted: list[CaseWait], showing: list[CaseWait], runs: dict[str, RunSeen], *, today: dt.date,
         now: dt.datetime, renew_before: dt.timedelta) -> WaitPlan:
    """Every wanted case shows exactly one live run; no other case shows one.

    - a wanted case without a run, or whose run is no longer live (Failed, Crashed, Cancelled,
      Completed, deleted), gets a new one;
    - a wanted case whose run shows an older version, or whose suspension ends within
      `renew_before`, gets a new one and the old run is cancelled;
    - a wanted case whose run is right but named otherwise (the days late changed) is renamed;
    - a case no longer wanted loses its run (cancelled when suspended);
    - a run that no longer shows its case's wait (answered, cancelled, failed) is renamed
      `case-12 · answered` without its `late` tag (`retire`).
    A run being answered (resumed: scheduled, running) is left alone until it finishes."""
    result = WaitPlan()
    wanted_ids = {c.id for c in wanted}
    for case in showing:
        if case.id in wanted_ids:
            continue
        seen = runs.get(case.wait_run_id)
        if seen is not None and seen.state in ANSWERING:
            continue
        if seen is not None and seen.state in LIVE:
            result.cancel.append(case.wait_run_id)
        if seen is not None:
            result.retire[case.wait_run_id] = (case, "CANCELLED" if seen.state in LIVE else seen.state)
        result.clear.append(case.id)
    for case in wanted:
        seen = runs.get(case.wait_run_id) if case.wait_run_id else None
        if case.wait_run_id is None:
            result.show.append(case)
            continue
        if seen is not None and seen.state in ANSWERING:
            continue
        if seen is not None:  # replaced below: the old run ends (cancelled when still suspended)
            result.retire[case.wait_run_id] = (case, "CANCELLED" if seen.state in LIVE else seen.state)
        if seen is None or seen.state not in LIVE:
            why = "gone" if seen is None else seen.state.lower()
        elif case.wait_version != case.version:
            why = "moved on"
        elif seen.pause_timeout is not None and seen.pause_timeout - now < renew_before:
            why = "timeout near"
        else:
            del result.retire[case.wait_run_id]  # it stays: the same run
            if case.wait_name != run_name(case, today):
                result.rename.append(case)
            continue
        result.show.append(case)  # its old run, if still live, is cancelled when the new one is made
        result.replaced[why] = result.replaced.get(why, 0) + 1
    return result
