"""Running scenarios from tests: from a shared file or built from a list of events."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from inburgering.scenario.loader import Scenario, load_scenario, parse_scenario
from inburgering.scenario.runner import embedded_driver, every_day_driver, prepare, run_scenario

PEOPLE = {
    "p1": {"bsn": "123456782", "name": "Amina Yusuf", "email": "amina@example.org", "born": "1990-05-01"},
    "p2": {"bsn": "111222333", "name": "Karim Haddad", "email": "karim@example.org", "born": "1985-11-23"},
}


def make_scenario(events: list[dict], *, start: str, until: str, policy: dict | None = None,
                  people: dict | None = None, holds: list | None = None) -> Scenario:
    doc = {"scenario": "test", "from": start, "until": until, "people": people or {"p1": PEOPLE["p1"]},
           "events": events}
    if policy:
        doc["policy"] = policy
    if holds:
        doc["holds"] = holds
    return parse_scenario(doc)


def replay(scenario: Scenario | Path | str, database_url: str | None = None, engine: str = "embedded") -> dict:
    if isinstance(scenario, (str, Path)):
        scenario = load_scenario(scenario)
    if engine == "prefect":
        from flows.replay.flow import prefect_driver

        return run_scenario(scenario, driver=prefect_driver, database_url=database_url)
    result = run_scenario(scenario, database_url=database_url)
    if os.environ.get("INBURGERING_CHECK_SKIPPING") and database_url is None:
        # Every test's scenario walked day by day too: skipping empty days must change nothing
        # (engine/driver.py). Off by default: walking every day is what skipping saves.
        assert run_scenario(scenario, driver=every_day_driver) == result, "skipping empty days changed the timeline"
    return result


def replay_into(case_file, path: Path) -> Scenario:  # noqa: ANN001
    """A shared scenario replayed into a given case file, every day from its start to its end."""
    scenario = load_scenario(path)
    prepare(case_file, scenario)
    embedded_driver(case_file, [scenario.start + dt.timedelta(days=i)
                                for i in range((scenario.until - scenario.start).days + 1)])
    return scenario


def entries(result: dict, kind: str | None = None, type: str | None = None, person: str | None = None) -> list[dict]:
    return [e for e in result["timeline"]
            if (kind is None or e["kind"] == kind) and (type is None or e["type"] == type)
            and (person is None or e["person"] == person)]
