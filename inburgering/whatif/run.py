"""A what-if: every journey of the case file under the policy in force and under a proposal.

`compare_share` does one partition of the people (one process, one snapshot of the case file);
`run_whatif` does them all, in this process or in `workers` processes side by side (the
Prefect deployment `policy-what-if` runs the partitions as flow runs instead). The case file
is only read: a snapshot, never written (tests/test_whatif.py compares every table).
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from inburgering.engine.errors import InputError
from inburgering.engine.service import ALL, Partition
from inburgering.store.db import CaseFile, is_up_to_date, load_policy
from inburgering.whatif.proposal import Proposal, whatif_id
from inburgering.whatif.replay import inbox_mark, read_journeys, replay, snapshot
from inburgering.whatif.report import Tally, Window, finish, merge


@dataclass(frozen=True)
class Plan:
    """What every partition of one what-if replays: the same proposal, window and inbox."""

    id: str
    proposal: Proposal
    start: dt.date | None
    until: dt.date
    mark: int  # the inbox's newest event when the what-if began


def check_window(start: dt.date | None, until: dt.date) -> None:
    if start is not None and start > until:
        raise InputError(f"--from {start} is after --until {until}: the report window would be empty")


def plan(case_file: CaseFile, proposal: Proposal, start: dt.date | None, until: dt.date) -> Plan:
    check_window(start, until)
    with snapshot(case_file) as session:
        mark = inbox_mark(session)
        baseline = load_policy(session)
        proposal.applied_to(baseline)  # a proposal that cannot be combined fails here, before any work
    return Plan(whatif_id(proposal, start, until, baseline, mark), proposal, start, until, mark)


def compare_share(case_file: CaseFile, the_plan: Plan, partition: Partition = ALL) -> dict:
    """Replay the journeys of one share of the people on both sides; their differences as
    plain data (report.Tally.result) that adds up across shares."""
    tally = Tally(Window(the_plan.start, the_plan.until))
    with snapshot(case_file) as session:
        baseline = load_policy(session)
        proposed = the_plan.proposal.applied_to(baseline)
        for journey in read_journeys(session, the_plan.mark, the_plan.until, partition):
            tally.add(journey, replay(journey, baseline, the_plan.until), replay(journey, proposed, the_plan.until))
    return tally.result()


def report_of(the_plan: Plan, results: list[dict]) -> dict:
    return finish(merge(results), whatif=the_plan.id, proposal=the_plan.proposal.describe(), start=the_plan.start,
                  until=the_plan.until)


def open_case_file(url: str) -> CaseFile:
    """The case file to read, as it is: never created, never migrated."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        raise InputError(f"no case file at {parsed.database or 'an in-memory database'}: set "
                         "INBURGERING_DATABASE_URL to the case file to replay")
    case_file = CaseFile(url, create=False)
    try:
        current = is_up_to_date(case_file.engine)
    except DBAPIError as exc:
        case_file.dispose()
        raise InputError(f"the case file cannot be read ({type(exc.orig).__name__}): is INBURGERING_DATABASE_URL "
                         "right?") from None
    if not current:
        case_file.dispose()
        raise InputError("the case file is older than this version (its schema or the policy values this version "
                         "reads): run `inburgering migrate` on it first; a what-if only reads")
    return case_file


def run_whatif(url: str, proposal: Proposal, start: dt.date | None, until: dt.date, *, workers: int = 1) -> dict:
    """The what-if's report; with `workers` > 1 the people are split over as many processes."""
    if workers < 1:
        raise InputError(f"--workers: {workers} is not a number of processes; use 1 or more")
    case_file = open_case_file(url)
    try:
        the_plan = plan(case_file, proposal, start, until)
        if workers == 1:
            results = [compare_share(case_file, the_plan)]
        else:
            with ProcessPoolExecutor(workers) as pool:
                results = list(pool.map(_share_in_process, [(url, the_plan, Partition(i, workers))
                                                            for i in range(workers)]))
    finally:
        case_file.dispose()
    return report_of(the_plan, results)


def _share_in_process(job: tuple[str, Plan, Partition]) -> dict:
    url, the_plan, partition = job
    case_file = open_case_file(url)
    try:
        return compare_share(case_file, the_plan, partition)
    finally:
        case_file.dispose()
