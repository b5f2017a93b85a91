"""The deployments, their entry points and schedules: one list for both ways of running.

`serve.py` serves these in one process; `prefect.yaml` declares the same for a
process work pool (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

TIMEZONE = "Europe/Amsterdam"


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    entrypoint: str  # path/to/file.py:function, as prefect.yaml writes it
    description: str
    cron: str | None = None
    interval_seconds: int | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


def _wait(process: str, function: str, description: str) -> DeploymentSpec:
    """A process's wait flow (flows/<process>/flow.py), deployed under the name flows/waiting/cases.py gives."""
    from flows.waiting.cases import DEPLOYMENTS

    return DeploymentSpec(DEPLOYMENTS[process], f"flows/{process}/flow.py:{function}",
                          f"Business process: {description}", tags=(BUSINESS, "wait", f"process:{process}"))


# What a deployment is, as a tag of its own (the UI's filters separate them) and the start of its
# description: a business process (its runs are cases), the machinery that runs them, a staff
# action, a report for process owners.
BUSINESS, MACHINERY, STAFF, REPORT = "business-process", "machinery", "staff", "report"
KINDS = (BUSINESS, MACHINERY, STAFF, REPORT)


CATALOGUE: tuple[DeploymentSpec, ...] = (
    DeploymentSpec("deadline-monitor", "flows/monitor/flow.py:deadline_monitor",
                   "Machinery: daily at 06:00 Europe/Amsterdam, fire every deadline due, send reminders and alerts, "
                   "show what is late.",
                   cron="0 6 * * *", tags=(MACHINERY, "monitor")),
    DeploymentSpec("ingest-events", "flows/ingest/flow.py:ingest_events",
                   "Machinery: every 5 minutes, apply received events (registries, schools, Mijn Inburgering) in "
                   "batches, refresh the boards, the case pages and the wait runs.",
                   interval_seconds=300, tags=(MACHINERY, "ingest")),
    DeploymentSpec("dispatch-letters", "flows/dispatch/flow.py:dispatch_letters",
                   "Machinery: every 2 minutes, send the outbox (letters, e-mails, notices, payments) through the "
                   "gateway, and tell Prefect the alerts not told yet.",
                   interval_seconds=120, tags=(MACHINERY, "dispatch")),
    # One wait flow per business process: a suspended run per case where someone must act.
    _wait("intake", "intake_wait", "Intake cases where someone must act (late, or opened by staff): answer a run's "
          "form with a prerequisite or the PIP that came on paper."),
    _wait("invoicing", "invoice_acceptance", "Invoices where someone must act (late, or opened by staff): answer a "
          "run's form with the person's answer that came by post."),
    _wait("exemption", "agi_exemption", "AGI applications where someone must act (the staff decision, late, or "
          "opened by staff): answer a run's form with the decision or a document that came on paper."),
    _wait("exams", "exams_wait", "Exam registrations where someone must act (late, or opened by staff): answer a "
          "run's form with a fee paid or a result that came on paper."),
    _wait("term", "integration_term", "Integration terms where someone must act (an extension's staff decision, "
          "passed, or opened by staff): answer a run's form with the decision or an extension asked for on paper."),
    _wait("form_exemption", "form_exemption_wait", "Exemptions of the forms (medical, integrated, vrijstelling) "
          "where someone must act (the staff decision, late, or opened by staff): answer a run's form with the "
          "decision, the medical advice or the documents that came on paper."),
    _wait("objection", "objection_wait", "Objections where someone must act (the staff decision, late, or opened "
          "by staff): the form shows the decision objected to and the grounds; answer with granted or refused."),
    DeploymentSpec("open-case", "flows/staff/flow.py:open_case",
                   "Staff: give a waiting case a wait run with its form now, late or not.", tags=("staff",)),
    DeploymentSpec("find-case", "flows/staff/flow.py:find_case",
                   "Staff: find a case by its id (case-12) or the sending system's reference for the person, and "
                   "write its page (the artifact case-12) now. Never by a BSN.", tags=("staff",)),
    DeploymentSpec("resend-letter", "flows/staff/flow.py:resend_letter",
                   "Staff: send a case's letter (or payment order) again.", tags=("staff",)),
    DeploymentSpec("retry-incidents", "flows/staff/flow.py:retry_incidents",
                   "Staff: retry one incident (by id) or every open one, e.g. once the gateway is back.",
                   tags=("staff", "incidents")),
    DeploymentSpec("close-incident", "flows/staff/flow.py:close_incident",
                   "Staff: close an incident with a resolution; its step is given up.", tags=("staff", "incidents")),
    DeploymentSpec("hold-letters", "flows/staff/flow.py:hold_letters",
                   "Process owner: hold letters of a type, e.g. while the mail gateway is down.", tags=("staff",)),
    DeploymentSpec("release-letters", "flows/staff/flow.py:release_letters",
                   "Process owner: let held letters go out again.", tags=("staff",)),
    DeploymentSpec("numbers-of-the-month", "flows/numbers/flow.py:numbers_of_the_month",
                   "Report: daily at 07:00 Europe/Amsterdam, the month's numbers per process and week against the "
                   "service levels, lead times, what waits now (artifact numbers-of-the-month); run it by hand for "
                   "another month (YYYY-MM).",
                   cron="0 7 * * *", tags=(REPORT,)),
    DeploymentSpec("export-waiting-cases", "flows/numbers/flow.py:export_waiting_cases",
                   "Report: the waiting (or only the late) cases as CSV, in var/exports/ and the artifact "
                   "waiting-cases-csv.", tags=(REPORT,)),
)

# One typed form per paper event type: the deployments `paper-<event-type>` of the flow
# record-paper-event (flows/staff/paper.py).
def _paper_specs() -> tuple[DeploymentSpec, ...]:
    from inburgering.domain.events import PAPER_EVENT_TYPES

    return tuple(DeploymentSpec(f"paper-{event_type.replace('_', '-')}", f"flows/staff/paper.py:paper_{event_type}",
                                f"Staff: record a {event_type.replace('_', ' ')} that arrived on paper for a case "
                                "(its own typed form).", tags=(STAFF, "paper"))
                 for event_type in PAPER_EVENT_TYPES)


CATALOGUE += _paper_specs()

# The shares of a day's ingest and monitor: `ingest-events` and `deadline-monitor` run these
# when they split the people into more than one partition (INBURGERING_PARTITIONS).
CATALOGUE += (
    DeploymentSpec("ingest-partition", "flows/ingest/flow.py:ingest_partition",
                   "Machinery: one share of the people's events; ingest-events runs one per partition.",
                   tags=(MACHINERY, "ingest", "partition")),
    DeploymentSpec("monitor-partition", "flows/monitor/flow.py:monitor_partition",
                   "Machinery: one share of the people's events and timers; deadline-monitor runs one per "
                   "partition.",
                   tags=(MACHINERY, "monitor", "partition")),
)

# Policy makers' tool, apart from the business processes: replay the case file under a proposed
# policy (read only) and report what it would change; split by person like the ingest.
CATALOGUE += (
    DeploymentSpec("policy-what-if", "flows/whatif/flow.py:policy_what_if",
                   "Report: for policy makers, replay every journey under the policy in force and a proposed one (read "
                   "only) and report the letters, money, terms and cases it changes.", tags=(REPORT, "whatif")),
    DeploymentSpec("policy-what-if-partition", "flows/whatif/flow.py:policy_what_if_partition",
                   "Machinery: one share of the people of a what-if; policy-what-if runs one per partition.",
                   tags=(MACHINERY, "whatif", "partition")),
    DeploymentSpec("policy-correction", "flows/whatif/correction.py:policy_correction",
                   "Staff: approve or refuse the corrections a policy what-if lists (fines annulled and refunded, loans "
                   "forgiven, each with its letter, each once); a policy-what-if run with corrections makes the run.",
                   tags=(STAFF, "whatif", "correction")),
)

# On the work pool: staff flows have a queue of their own, taken before the scheduled work.
QUEUES = {"staff": 1, "default": 2}  # name: priority (1 first)


def queue(spec: DeploymentSpec) -> str:
    return "staff" if "staff" in spec.tags else "default"


# Deployments whose runs must not overlap: (limit, what a run that meets a running one does).
# A second monitor waits its turn (it may be for another day); a dispatch that finds one still
# sending is cancelled: the next one, two minutes later, sends what is left.
CONCURRENCY = {"deadline-monitor": (1, "ENQUEUE"), "dispatch-letters": (1, "CANCEL_NEW")}

# Flow-run heartbeats on the work pool, and how long without one before the run is marked
# Crashed (deployments/setup.py's automation): a worker machine that died leaves no run Running.
HEARTBEAT_SECONDS = 30
CRASHED_AFTER_SECONDS = 4 * HEARTBEAT_SECONDS

# Only the embedded demo: feeds the example journeys' events as if registries sent them.
DEMO = DeploymentSpec("demo-feed", "flows/demo/flow.py:demo_feed",
                      "Machinery (demo only): the example journeys' next events arrive, as registries would send "
                      "them.",
                      interval_seconds=60, tags=(MACHINERY, "demo"))
