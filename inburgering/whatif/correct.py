"""Corrections from a what-if (architecture.md §14): what the case file must be put right for,
and putting it right once staff approved.

A correction is an event of its own (`correction`: what annul_fine | forgive_loan, reason,
whatif) entered into the inbox and applied like every event — the fine annulled and refunded
if paid (`fine_annulled`, `fine_refunded`), the loan forgiven (`loan_forgiven`) — so every
later replay gives the same. Each is entered once: its idempotency key names the what-if, the
case and what is corrected, and one already in the inbox is not entered again (a second
approval of the same list does nothing). Where the case file already differs (a fine annulled
on objection meanwhile, a loan forgiven) the case refuses it and the correction is skipped with
that reason.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from inburgering.engine import service
from inburgering.store.db import CaseFile
from inburgering.store.models import Case, Person, ReceivedEvent

ANNUL_FINE, FORGIVE_LOAN = "annul_fine", "forgive_loan"


def corrections_of(report: dict, today: dt.date) -> list[dict]:
    """The corrections a what-if calls for, up to `today` (what already happened): each fine the
    proposal would not have imposed (dropped), and each loan it would not have asked back (a
    repayment notice dropped, or a forgiveness added). Case ids only; a case the file does not
    have is none of them."""
    found: dict[tuple, dict] = {}
    for case in report["cases"]:
        if case["case"] is None:
            continue
        case_id = int(case["case"].split("-")[1])
        corrected = _corrected(case["changes"])
        for change in case["changes"]:
            if change["date"] is None or change["date"] > today.isoformat():
                continue
            if change["type"] == "fine" and change["change"] == "dropped" and change["date"] not in corrected:
                found[(case_id, ANNUL_FINE, change["date"])] = {
                    "case": case_id, "what": ANNUL_FINE, "decision_date": change["date"], "amount": change["amount"]}
            elif (change["type"], change["change"]) in (("repayment_notice", "dropped"), ("loan_forgiven", "added")) \
                    and "loan" not in corrected:
                found.setdefault((case_id, FORGIVE_LOAN, None), {
                    "case": case_id, "what": FORGIVE_LOAN, "decision_date": None, "amount": change.get("amount")})
    return [found[key] for key in sorted(found, key=lambda k: (k[0], k[1], k[2] or ""))]


def _corrected(changes: list[dict]) -> set[str]:
    """What the case file holds corrected already (a correction, or an objection, annulled the
    fine of that day; a correction forgave the loan: "loan"): the baseline's letters the proposal
    does not send."""
    done = set()
    for change in changes:
        if change["change"] not in ("dropped", "changed"):
            continue
        was = change.get("about") if change["change"] == "dropped" else change.get("was_about")
        if change["type"] == "fine_annulled" and was:
            done.add(was)
        elif change["type"] == "loan_forgiven" and was == "correction":
            done.add("loan")
    return done


def correction_key(whatif: str, correction: dict) -> str:
    return f"correction:{whatif}:case-{correction['case']}:{correction['what']}:{correction['decision_date'] or ''}"


def enter_corrections(case_file: CaseFile, whatif: str, corrections: list[dict], reason: str,
                      today: dt.date) -> dict:
    """Enter and apply each correction, one person at a time (a failure stays with its case).
    Returns what became of them, by case id: applied, skipped with the case's reason, or entered
    before (not again)."""
    outcome: dict = {"whatif": whatif, "applied": [], "skipped": [], "entered_before": []}
    for correction in corrections:
        label = {"case": f"case-{correction['case']}", "what": correction["what"]}
        if correction["decision_date"]:
            label["decision_date"] = correction["decision_date"]
        key = correction_key(whatif, correction)
        with case_file.transaction() as session:
            before = session.execute(select(ReceivedEvent.status, ReceivedEvent.received_on)
                                     .where(ReceivedEvent.idempotency_key == key)).first()
            if before is not None:
                outcome["entered_before"].append({**label, "on": before.received_on.isoformat(),
                                                  "status": before.status})
                continue
            ref = session.scalar(select(Person.ref).join(Case, Case.person_id == Person.id)
                                 .where(Case.id == correction["case"]))
            if ref is None:
                outcome["skipped"].append({**label, "reason": f"there is no case-{correction['case']}"})
                continue
            event = {"type": "correction", "date": today.isoformat(), "person": ref, "what": correction["what"],
                     "reason": reason, "whatif": whatif}
            if correction["decision_date"]:
                event["decision_date"] = correction["decision_date"]
            done = service.apply_now(session, event, source=f"whatif:{whatif}", received_on=today,
                                     idempotency_key=key)
        if done["status"] == "applied":
            outcome["applied"].append(label)
        else:
            outcome["skipped"].append({**label, "reason": done["reason"] or done["status"]})
    return outcome
