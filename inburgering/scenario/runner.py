"""Replay a scenario through the real engine on a fresh case file.

Both engines share everything but the driver of each day: `embedded` calls the
engine's service directly; `prefect` runs the same service inside Prefect flow runs.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy import delete

from inburgering.domain.policy import parse_value
from inburgering.engine import service
from inburgering.engine.driver import every_day, skip_days
from inburgering.engine.timeline import refused_events, timeline
from inburgering.scenario.loader import Scenario
from inburgering.store.db import POLICY_EPOCH, CaseFile, _json_value
from inburgering.store.models import LetterHold, PolicyValue


class DayDriver(Protocol):
    def __call__(self, case_file: CaseFile, days: list[dt.date]) -> None: ...


def embedded_driver(case_file: CaseFile, days: list[dt.date]) -> None:
    """Each day with something due in one transaction, by one worker that keeps what it loaded
    (one writer); days with nothing due are skipped (engine/driver.py)."""
    worker = service.Worker(case_file, keep_loaded=True)
    skip_days(case_file, days[0], days[-1], worker.day)


def every_day_driver(case_file: CaseFile, days: list[dt.date]) -> None:
    """Every day, empty or not: the timeline `embedded_driver` must give (tests/test_driver.py)."""
    worker = service.Worker(case_file, keep_loaded=True)
    every_day(days[0], days[-1], worker.day)


def prepare(case_file: CaseFile, scenario: Scenario) -> None:
    """Load the scenario's policy, people, holds and events into a fresh case file."""
    with case_file.transaction() as session:
        for key, raw in scenario.policy.items():
            session.execute(delete(PolicyValue).where(PolicyValue.key == key))
            session.add(PolicyValue(key=key, valid_from=POLICY_EPOCH, value=_json_value(parse_value(key, raw)),
                                    note=f"scenario override: {scenario.name}"))
        service.register_people(session, [{"ref": ref, "bsn": spec.bsn, "name": spec.name, "email": spec.email,
                                           "born": spec.born} for ref, spec in scenario.people.items()])
        for hold in scenario.holds:
            session.add(LetterHold(letter_type=hold.letters, held_from=hold.start, reason=hold.reason,
                                   released_on=hold.until + dt.timedelta(days=1) if hold.until else None))
        service.receive_many(session, [(item.event, f"scenario:{item.index}", item.event.date)
                                       for item in scenario.events])


def run_scenario(scenario: Scenario, *, driver: DayDriver = embedded_driver, database_url: str | None = None,
                 progress: Callable[[int, int], None] | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="scenario-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'scenario.db'}"
        case_file = CaseFile(url)
        try:
            prepare(case_file, scenario)
            days = [scenario.start + dt.timedelta(days=i) for i in range((scenario.until - scenario.start).days + 1)]
            driver(case_file, days)
            with case_file.transaction() as session:
                return {
                    "scenario": scenario.name,
                    "timeline": timeline(session),
                    "rejected": [
                        {"date": row.event_date.isoformat(), "person": ref, "event": int(row.source.split(":")[1]),
                         "reason": row.reason}
                        for row, ref in refused_events(session)
                    ],
                }
        finally:
            case_file.dispose()
