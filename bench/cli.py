"""`inburgering bench`: run the benchmark, show a progress bar on a terminal, print the figures."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from bench.run import run_bench


def main(*, journeys: int, years: int, seed: int, as_json: bool, compare: bool) -> None:
    console = Console(stderr=True)
    if as_json or not console.is_terminal:
        result = run_bench(journeys, years=years, seed=seed)
    else:
        with Progress(TextColumn("simulated day {task.completed}/{task.total}"), BarColumn(), TimeElapsedColumn(),
                      TimeRemainingColumn(), console=console, transient=True) as bar:
            task = bar.add_task("days", total=None)
            result = run_bench(journeys, years=years, seed=seed,
                               progress=lambda n, total: bar.update(task, completed=n, total=total))
    figures = result.as_dict()
    if compare:
        from bench.compare import compare_peers

        figures["peers"] = compare_peers(seed=seed, ours_events_per_second=result.events_per_second)
    if as_json:
        json.dump(figures, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    table = Table(title=f"bench: {journeys} journeys over {years} years (seed {seed})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        if key != "peers":
            table.add_row(key, str(value))
    for key, value in figures.get("peers", {}).items():
        table.add_row(f"peer: {key}", str(value))
    Console().print(table)
