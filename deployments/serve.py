"""The embedded default: every deployment served from one process, with its schedule.

    python -m deployments.serve [--demo]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib

from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.schedules import Cron, Interval

from deployments.catalogue import CATALOGUE, CONCURRENCY, DEMO, TIMEZONE, DeploymentSpec


def load_flow(entrypoint: str):  # noqa: ANN201
    path, function = entrypoint.split(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return getattr(module, function)


def schedules(spec: DeploymentSpec) -> list:
    if spec.cron:
        return [Cron(spec.cron, timezone=TIMEZONE)]
    if spec.interval_seconds:
        return [Interval(dt.timedelta(seconds=spec.interval_seconds), timezone=TIMEZONE)]
    return []


def concurrency_limit(spec: DeploymentSpec) -> ConcurrencyLimitConfig | None:
    if spec.name not in CONCURRENCY:
        return None
    limit, strategy = CONCURRENCY[spec.name]
    return ConcurrencyLimitConfig(limit=limit, collision_strategy=ConcurrencyLimitStrategy(strategy))


def runner_deployments(include_demo: bool = False) -> list:
    specs = list(CATALOGUE) + ([DEMO] if include_demo else [])
    return [load_flow(s.entrypoint).to_deployment(name=s.name, description=s.description, tags=list(s.tags),
                                                  schedules=schedules(s), concurrency_limit=concurrency_limit(s))
            for s in specs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="also serve the demo feed of example journeys")
    args = parser.parse_args()
    serve(*runner_deployments(args.demo), limit=10)


if __name__ == "__main__":
    main()
