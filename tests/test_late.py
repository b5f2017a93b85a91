"""Late is a fact that stays true until the case is no longer late, for every process that has
a rule for lateness (exams have none: a missed exam is the person's, not a term of DUO's).

Each test replays a journey into a case file up to a day and reads the case's `late_since`:
late once its term passed, still late after something that does not end it, no longer late
once it ends."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from inburgering.store.db import CaseFile
from inburgering.store.models import Case
from tests.scenario_helpers import entries, make_scenario, replay


def _case(events: list[dict], *, start: str, until: str, process: str, tmp_path, policy=None, holds=None,  # noqa: ANN001, ANN202
          key: str | None = None):
    """The process's case on `until` (the events up to that day), and the replay's result."""
    url = f"sqlite:///{tmp_path / f'late-{until}.db'}"
    events = [e for e in events if e["date"] <= until]
    result = replay(make_scenario(events, start=start, until=until, policy=policy, holds=holds), database_url=url)
    case_file = CaseFile(url, create=False)
    try:
        with case_file.transaction() as session:
            query = select(Case).where(Case.process == process)
            (case,) = session.scalars(query.where(Case.key == key) if key is not None else query)
            session.expunge(case)
            return case, result
    finally:
        case_file.dispose()


def ev(date: str, type_: str, **fields) -> dict:
    return {"date": date, "type": type_, "person": "p1", **fields}


def intake(on: str, obligation_start: str | None = None) -> list[dict]:
    return [ev(on, "residence_permit_granted", **({"obligation_start": obligation_start} if obligation_start else {})),
            ev(on, "bsn_registered"), ev(on, "municipality_registered", municipality="Utrecht")]


def test_intake_a_held_start_letter_keeps_the_case_late_when_the_pip_comes_and_until_it_goes(tmp_path):
    # Wi2021: the start letter is held past its day; the PIP comes while it is still held (the
    # demo's case-5, where entering the PIP cleared "late" though the letter was 10 days overdue).
    events = intake("2022-03-02", "2022-03-02") + [ev("2022-05-10", "pip_established", route="b1")]
    hold = [{"letters": "start_letter", "from": "2022-03-01", "until": "2022-05-31"}]
    case, result = _case(events, start="2022-03-01", until="2022-05-09", process="intake", tmp_path=tmp_path,
                         holds=hold)
    (alert,) = entries(result, "alert", "start_letter_overdue")
    late = dt.date.fromisoformat(alert["date"])
    assert case.late_since == late
    case, _ = _case(events, start="2022-03-01", until="2022-05-20", process="intake", tmp_path=tmp_path, holds=hold)
    assert case.status == "started" and case.late_since == late  # the PIP is in; the start letter is not
    case, result = _case(events, start="2022-03-01", until="2022-06-10", process="intake", tmp_path=tmp_path,
                         holds=hold)
    assert entries(result, "letter", "start_letter")[0]["date"] == "2022-06-01"
    assert case.late_since is None


def test_exemption_a_staff_decision_past_its_term_is_late_until_it_is_made(tmp_path):
    from tests.test_exemption import application, declaration, intake as agi_intake, staff

    events = agi_intake(on="2022-01-03") + [application("2022-02-20"), declaration("2022-03-02"),
                                            staff("2022-05-20", "granted")]
    policy = {"agi_staff_review": True}
    case, _ = _case(events, start="2022-01-03", until="2022-05-19", process="exemption", tmp_path=tmp_path,
                    policy=policy)
    assert case.late_since == dt.date(2022, 4, 29)  # the term ended 2022-04-28 (suspended 10 days; Atw)
    case, _ = _case(events, start="2022-01-03", until="2022-05-21", process="exemption", tmp_path=tmp_path,
                    policy=policy)
    assert case.closed_on is not None and case.late_since is None


def test_invoicing_an_invoice_waiting_long_is_late_through_its_reminders_until_it_is_answered(tmp_path):
    from inburgering.domain.invoicing import invoice_key
    from tests.test_invoicing import LOAN, accept, invoice

    INVOICE = invoice_key("Taalhuis Noord", "F-1")  # noqa: N806

    events = [LOAN, invoice("2022-04-04", "F-1", "250.00"), accept("2022-06-01", "F-1")]
    case, result = _case(events, start="2022-04-01", until="2022-05-31", process="invoicing", tmp_path=tmp_path,
                         key=INVOICE)
    (alert,) = entries(result, "alert", "invoice_waiting_long")
    assert case.late_since == dt.date.fromisoformat(alert["date"])  # 2022-05-16, and still on 2022-05-31
    case, _ = _case(events, start="2022-04-01", until="2022-06-02", process="invoicing", tmp_path=tmp_path,
                         key=INVOICE)
    assert case.late_since is None


def test_term_an_extension_under_review_past_its_term_is_late_until_staff_decide(tmp_path):
    events = intake("2019-02-11") + [ev("2021-09-01", "extension_requested", ground="death",
                                        evidence_date="2020-10-12"),
                                     ev("2021-11-10", "staff_decision", case="extension", decision="granted")]
    policy = {"extension_staff_review": True}
    case, _ = _case(events, start="2019-02-11", until="2021-11-09", process="term", tmp_path=tmp_path, policy=policy)
    assert (case.status, case.late_since) == ("extension_under_review", dt.date(2021, 10, 28))
    case, _ = _case(events, start="2019-02-11", until="2021-11-11", process="term", tmp_path=tmp_path, policy=policy)
    assert case.late_since is None
