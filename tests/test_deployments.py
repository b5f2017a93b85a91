"""The two ways of running the deployments stay in step."""

from __future__ import annotations

from pathlib import Path

import yaml

from deployments.catalogue import CATALOGUE, TIMEZONE
from deployments.serve import load_flow

ROOT = Path(__file__).resolve().parent.parent


def test_prefect_yaml_declares_the_catalogue_with_the_same_schedules():
    declared = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    assert set(declared) == {spec.name for spec in CATALOGUE}
    for spec in CATALOGUE:
        deployment = declared[spec.name]
        assert deployment["entrypoint"] == spec.entrypoint
        assert deployment["work_pool"]["name"] == "inburgering"
        schedules = deployment.get("schedules", [])
        if spec.cron:
            assert schedules == [{"cron": spec.cron, "timezone": TIMEZONE}]
        elif spec.interval_seconds:
            assert schedules == [{"interval": spec.interval_seconds, "timezone": TIMEZONE}]
        else:
            assert schedules == []


def test_every_entrypoint_loads_a_flow():
    for spec in CATALOGUE:
        flow = load_flow(spec.entrypoint)
        assert flow.name, spec.entrypoint


def test_the_monitor_runs_daily_in_amsterdam_time():
    monitor = next(s for s in CATALOGUE if s.name == "deadline-monitor")
    assert monitor.cron == "0 6 * * *"
    assert TIMEZONE == "Europe/Amsterdam"


def test_each_process_has_its_wait_flow_named_after_it():
    from inburgering.engine.waits import DEPLOYMENTS, TITLES, deployment_name

    for process, title in TITLES.items():
        spec = next(s for s in CATALOGUE if s.name == DEPLOYMENTS[process])
        assert load_flow(spec.entrypoint).name == title
        assert deployment_name(process) == f"{title}/{spec.name}"
