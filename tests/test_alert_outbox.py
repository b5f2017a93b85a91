"""Every alert through the outbox of alert events (issue 24): raised where no Prefect server is
(before bin/up had one, the command line, a replay), it waits in the case file and is claimed
once; a claim that could not be told to Prefect (rolled back) leaves it waiting."""

from __future__ import annotations

import datetime as dt

from inburgering.engine import alerts, service

DAY = dt.date(2026, 1, 5)
NOW = dt.datetime(2026, 3, 10, 9, tzinfo=dt.timezone.utc)


def _overdue_start_letter(case_file) -> None:  # noqa: ANN001
    with case_file.transaction() as session:
        service.hold_letters(session, "start_letter", from_day=DAY, reason="print house")
        service.register_person(session, ref="p1", bsn="123456782", name="Amina Yusuf")
        for event in ({"type": "residence_permit_granted"}, {"type": "bsn_registered"},
                      {"type": "municipality_registered", "municipality": "Utrecht"}):
            service.receive(session, {**event, "person": "p1", "date": DAY.isoformat()}, source="test",
                            received_on=DAY)
    service.ingest(case_file, DAY)
    service.run_monitor(case_file, DAY + dt.timedelta(days=70))  # no Prefect anywhere


def test_an_alert_raised_without_a_server_waits_and_is_claimed_once(case_file):
    _overdue_start_letter(case_file)
    try:
        with case_file.transaction() as session:
            assert [a["type"] for a in alerts.claim_unannounced(session, 10, NOW)] == ["start_letter_overdue"]
            raise RuntimeError("the Prefect server did not answer")
    except RuntimeError:
        pass
    with case_file.transaction() as session:  # rolled back: it still waits
        (alert,) = alerts.claim_unannounced(session, 10, NOW)
    assert (alert["case"], alert["process"], alert["raised_on"]) == ("case-1", "intake", "2026-03-16")
    assert alert["due_by"] == "2026-03-02" and "123456782" not in str(alert)
    with case_file.transaction() as session:
        assert alerts.claim_unannounced(session, 10, NOW) == []  # told once


def test_the_alert_event_carries_case_ids_only():
    from tasks.events import alert_event

    alert = {"journal_id": 7, "case": "case-3", "process": "intake", "type": "start_letter_overdue",
             "raised_on": "2026-03-16", "due_by": "2026-03-02", "days_late": 14, "waiting_for": "x"}
    event = alert_event(alert)
    assert event.event == "inburgering.alert.start_letter_overdue"
    assert event.resource.id == "inburgering.case.3" and event.payload["days_late"] == "14"
    assert "waiting_for" not in event.payload  # dates and counts only
    assert event.payload["raised_on"] == "2026-03-16" and event.payload["case"] == "case-3"
