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


def test_prefect_yaml_puts_staff_flows_on_their_queue_and_limits_what_must_not_overlap():
    from deployments.catalogue import CONCURRENCY, HEARTBEAT_SECONDS, QUEUES, queue

    declared = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    for spec in CATALOGUE:
        deployment = declared[spec.name]
        assert deployment["work_pool"]["work_queue_name"] == queue(spec), spec.name
        assert deployment["work_pool"]["job_variables"]["env"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == \
            str(HEARTBEAT_SECONDS)
        assert deployment["work_pool"]["job_variables"]["stream_output"] is False  # a run outlives its worker
        limit = deployment.get("concurrency_limit")
        if spec.name in CONCURRENCY:
            assert (limit["limit"], limit["collision_strategy"]) == CONCURRENCY[spec.name]
        else:
            assert limit is None, spec.name
    assert {queue(s) for s in CATALOGUE} == set(QUEUES) and QUEUES["staff"] < QUEUES["default"]
    assert queue(next(s for s in CATALOGUE if s.name == "paper-municipality-registered")) == "staff"


def test_runs_start_in_the_checkout_of_the_worker_that_runs_them(tmp_path, monkeypatch):
    """prefect.yaml names no path of the deploying machine: its pull step finds the checkout the
    worker's venv was installed from, on the worker, when the run starts."""
    from deployments.steps import enter_checkout

    text = (ROOT / "prefect.yaml").read_text()
    assert "{{ $" not in text  # an environment variable would be read on the deploying machine
    assert yaml.safe_load(text)["pull"] == [{"deployments.steps.enter_checkout": {}}]
    monkeypatch.chdir(tmp_path)
    assert enter_checkout() == {"directory": str(ROOT)}
    assert Path.cwd() == ROOT
    assert (Path.cwd() / "flows/monitor/flow.py").exists()


def test_serve_gives_the_deployments_the_same_concurrency_limits():
    from deployments.catalogue import CONCURRENCY
    from deployments.serve import runner_deployments

    limited = {d.name: (d.concurrency_limit, d.concurrency_options.collision_strategy.value)
               for d in runner_deployments() if d.concurrency_limit}
    assert limited == CONCURRENCY


def test_each_process_has_its_wait_flow_named_after_it():
    from flows.waiting.cases import DEPLOYMENTS, TITLES, deployment_name

    for process, title in TITLES.items():
        spec = next(s for s in CATALOGUE if s.name == DEPLOYMENTS[process])
        assert load_flow(spec.entrypoint).name == title
        assert deployment_name(process) == f"{title}/{spec.name}"


def test_business_processes_and_machinery_are_apart_in_tags_and_descriptions():
    """The UI's filters separate them (issue 24): each deployment has one kind tag, its description
    says the kind first, and prefect.yaml says the same as the catalogue."""
    from deployments.catalogue import DEMO, KINDS

    declared = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    starts = {"business-process": "Business process: ", "machinery": "Machinery", "report": "Report: ",
              "staff": ("Staff: ", "Process owner: ")}
    for spec in (*CATALOGUE, DEMO):
        [kind] = [tag for tag in spec.tags if tag in KINDS]
        assert spec.description.startswith(starts[kind]), spec.name
        if spec is not DEMO:
            assert (declared[spec.name]["description"], declared[spec.name]["tags"]) == (
                spec.description, list(spec.tags)), spec.name
    waits = {spec.name for spec in CATALOGUE if "business-process" in spec.tags}
    assert waits == {"intake", "invoice-acceptance", "agi-exemption", "exams", "integration-term", "form-exemption",
                     "objection"}
