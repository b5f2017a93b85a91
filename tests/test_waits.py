"""Which cases show a wait run and what the sync does, as plain functions (engine/waits.py), on
both databases. The Prefect side is in tests/test_cockpit.py."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert

from flows.waiting import cases as waits
from flows.waiting.cases import CaseWait, RunSeen, plan, run_name, run_tags
from inburgering.store.models import Case, Person

TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 9, tzinfo=dt.timezone.utc)
RENEW = dt.timedelta(days=14)


def _case(case_id: int, **values) -> CaseWait:  # noqa: ANN003
    row = dict(id=case_id, process="invoicing", status="Factuur is openstaand", waiting_for="an answer",
               waiting_since=TODAY - dt.timedelta(days=60), late_since=TODAY - dt.timedelta(days=9), version=3,
               wait_run_id=None, wait_version=None, wait_name=None, wait_demand_version=None)
    return CaseWait(**(row | values))


def test_the_actionable_cases_come_most_urgent_first_and_bounded(case_file):
    day = TODAY
    rows = [  # id: what it is
        (1, "intake", "waiting_for_prerequisites", "BSN", None, None),  # waits, not late: boards only
        (2, "intake", "waiting_for_prerequisites", "BSN", day - dt.timedelta(days=3), None),  # late 3 days
        (3, "invoicing", "Factuur is openstaand", "an answer", day - dt.timedelta(days=30), None),  # late 30
        (4, "exemption", "waiting_for_staff_decision", "staff decision", None, None),  # a staff decision
        (5, "exams", "exams_planned", "results", None, 1),  # opened by staff at version 1
        (6, "exams", "exams_planned", "results", None, 0),  # opened at an older version: moved on since
        (7, "intake", "started", None, day - dt.timedelta(days=5), None),  # late but waits for nothing
        (8, "journey", "obligated", "the PVT", day - dt.timedelta(days=50), None),  # no wait flow
    ]
    with case_file.transaction() as session:
        session.execute(insert(Person.__table__), [{"id": 1, "ref": "p", "bsn": "123456782", "name": "N"}])
        session.execute(insert(Case.__table__), [
            {"id": i, "person_id": 1, "process": p, "key": str(i), "status": s, "waiting_for": w, "late_since": late,
             "wait_demand_version": demand, "state": {}, "opened_on": day, "updated_on": day, "version": 1}
            for i, p, s, w, late, demand in rows])
    with case_file.transaction() as session:
        assert [c.id for c in waits.actionable(session, 10)] == [4, 5, 3, 2]
        assert [c.id for c in waits.actionable(session, 3)] == [4, 5, 3]
        assert waits.count_actionable(session) == 4
        assert waits.shown(session) == []


def test_a_run_is_named_after_the_case_how_late_and_what_it_waits_for_and_tagged():
    case = _case(12)
    assert run_name(case, TODAY) == "case-12 · 10 days late · waits for an answer"
    assert set(run_tags(case, TODAY)) == {"wait", "case-12", "late", "process:invoicing",
                                          "status:Factuur is openstaand"}
    staff = _case(13, status="waiting_for_staff_decision", late_since=None)
    assert run_name(staff, TODAY) == "case-13 · waits for an answer"
    assert "staff-decision" in run_tags(staff, TODAY) and "late" not in run_tags(staff, TODAY)
    assert run_name(_case(14, waiting_for="invoice 123456782"), TODAY).endswith("[number removed: it may be a BSN]")


def test_the_plan_keeps_exactly_one_live_run_per_wanted_case():
    named = run_name(_case(1), TODAY)
    shown = dict(wait_version=3, wait_name=named)
    wanted = [
        _case(1, wait_run_id="r1", **shown),  # right: nothing to do
        _case(2, wait_run_id="r2", **shown),  # its run failed
        _case(3, wait_run_id="r3", **shown),  # its run was deleted
        _case(4, wait_run_id="r4", wait_version=2, wait_name=named),  # the case moved on
        _case(5, wait_run_id="r5", **shown),  # suspended until within the renewal margin
        _case(6, wait_run_id="r6", wait_version=3,
              wait_name="case-6 · 9 days late · waits for an answer"),  # named a day ago
        _case(7),  # no run yet
        _case(8, wait_run_id="r8", wait_version=2, wait_name=named),  # moved on, but its answer is being applied
    ]
    gone = [_case(9, wait_run_id="r9", **shown), _case(10, wait_run_id="r10", **shown)]  # no longer wanted
    runs = {"r1": RunSeen("PAUSED", NOW + dt.timedelta(days=300)), "r2": RunSeen("FAILED"),
            "r4": RunSeen("PAUSED", NOW + dt.timedelta(days=300)), "r5": RunSeen("PAUSED", NOW + dt.timedelta(days=3)),
            "r6": RunSeen("PAUSED", NOW + dt.timedelta(days=300)), "r8": RunSeen("RUNNING"),
            "r9": RunSeen("PAUSED"), "r10": RunSeen("COMPLETED")}
    result = plan(wanted, wanted + gone, runs, today=TODAY, now=NOW, renew_before=RENEW)
    assert [c.id for c in result.show] == [2, 3, 4, 5, 7]
    assert result.replaced == {"failed": 1, "gone": 1, "moved on": 1, "timeout near": 1}
    assert [c.id for c in result.rename] == [6]
    assert result.cancel == ["r9"]  # suspended and no longer wanted; r10 had finished
    assert result.clear == [9, 10]


def test_a_letter_type_that_does_not_exist_is_refused_and_holds_in_force_are_listed(database_url, monkeypatch):
    from typer.testing import CliRunner

    from inburgering.cli import app

    monkeypatch.setenv("INBURGERING_DATABASE_URL", database_url)
    runner = CliRunner()
    typo = runner.invoke(app, ["letters", "release", "startletter"])
    assert typo.exit_code == 2
    assert "letter_type: 'startletter' is not a letter type; use * for all, or one of: agi_advice" in typo.output
    assert runner.invoke(app, ["letters", "hold", "start_letter", "--reason", "print house"]).exit_code == 0
    listed = runner.invoke(app, ["letters", "holds"])
    assert "start_letter" in listed.output and "print house" in listed.output
    released = runner.invoke(app, ["letters", "release", "start_letter"])
    assert released.exit_code == 0 and "1 hold(s) on start_letter released" in released.output
    assert "no letters on hold" in runner.invoke(app, ["letters", "holds"]).output


def test_a_run_that_no_longer_shows_its_wait_loses_its_days_late_and_its_late_tag():
    """An answered run kept its "10 days late" name and `late` tag: the board's late-runs link
    showed 2 runs against a count of 1."""
    from flows.waiting.cases import ended_name, ended_tags

    late = dict(wait_version=3, wait_name="case-1 · 10 days late · waits for an answer")
    answered_still_late = _case(1, wait_run_id="r1", **late)  # answered; still late: a new run
    answered_done = _case(2, wait_run_id="r2", **late)  # answered; no longer actionable
    moved_on = _case(3, wait_run_id="r3", **late)  # suspended, no longer actionable: cancelled
    right = _case(4, wait_run_id="r4", wait_version=3, wait_name=run_name(_case(4), TODAY))
    runs = {"r1": RunSeen("COMPLETED"), "r2": RunSeen("COMPLETED"), "r3": RunSeen("PAUSED"),
            "r4": RunSeen("PAUSED", NOW + dt.timedelta(days=300))}
    result = plan([answered_still_late, right], [answered_still_late, answered_done, moved_on, right], runs,
                  today=TODAY, now=NOW, renew_before=RENEW)
    assert {run: (case.id, state) for run, (case, state) in result.retire.items()} == {
        "r1": (1, "COMPLETED"), "r2": (2, "COMPLETED"), "r3": (3, "CANCELLED")}
    assert [ended_name(case.id, state) for case, state in result.retire.values()] == [
        "case-2 · answered", "case-3 · closed", "case-1 · answered"]
    assert ended_tags(1, "intake") == ["wait", "case-1", "process:intake"]  # no late, no status
