"""The benchmark's journeys, replayed all at once through the batch engine, give every
person the same timeline as replaying that person's journey alone. A correctness check
of the batch engine (set-based loading, batches of many people, bulk receiving), not a
timing test."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter, defaultdict

import pytest

from bench.generate import generate, generate_chunks
from inburgering.engine import service
from inburgering.engine.driver import skip_days
from inburgering.scenario.loader import parse_scenario
from inburgering.scenario.runner import run_scenario
from inburgering.store.db import CaseFile

JOURNEYS = 300


def busy_days_driver(case_file: CaseFile, days: list[dt.date]) -> None:
    """The production path (a fresh ingest and monitor, each loading afresh) on the days with
    something due: one person's three years take a few dozen days, not 1,096."""

    def ingest_and_monitor(day: dt.date) -> None:
        service.ingest(case_file, day)
        service.run_monitor(case_file, day)

    skip_days(case_file, days[0], days[-1], ingest_and_monitor)


@pytest.fixture(scope="module")
def journeys():
    return generate(JOURNEYS, years=3, seed=7)


def test_generation_is_deterministic_and_a_prefix_of_larger_runs(journeys):
    again = generate(JOURNEYS, years=3, seed=7)
    assert again.events == journeys.events
    larger = generate(JOURNEYS + 50, years=3, seed=7)
    assert [e for e in larger.events if int(e["person"][1:]) <= JOURNEYS] == journeys.events
    assert generate(JOURNEYS, years=3, seed=8).events != journeys.events


def test_journeys_received_in_chunks_are_applied_in_the_order_of_the_merged_stream(journeys):
    """The benchmark receives journeys a chunk at a time; a day's events are applied in
    inbox order, so the chunks' order, sorted by date alone, must be the merged order."""
    received = [e for chunk in generate_chunks(JOURNEYS, years=3, seed=7, chunk=70) for e in chunk.events]
    assert sorted(received, key=lambda e: e["date"]) == journeys.events


def test_the_mix_is_realistic(journeys):
    types = Counter(e["type"] for e in journeys.events)
    assert types["residence_permit_granted"] == types["bsn_registered"] == JOURNEYS
    assert types["invoice_submitted"] > 5 * JOURNEYS and types["invoice_refused"] > 0
    assert {e["channel"] for e in journeys.events if e["type"] == "exam_registered"} == {"online", "school", "form"}
    assert {e["route"] for e in journeys.events if e["type"] == "agi_application_received"} == {"course", "alfa"}
    results = Counter(e["passed"] for e in journeys.events if e["type"] == "exam_result")
    assert results[True] > 0 and results[False] > 0


def test_all_together_gives_each_person_the_timeline_of_their_journey_alone(journeys, tmp_path):
    together = run_scenario(parse_scenario(journeys.scenario_doc()))
    by_person = defaultdict(list)
    for entry in together["timeline"]:
        by_person[entry["person"]].append(entry)
    refused = defaultdict(list)
    for r in together["rejected"]:
        refused[r["person"]].append((r["date"], r["reason"]))
    kinds = Counter((e["kind"], e["type"]) for e in together["timeline"])
    # The run exercised every process: letters, e-mails, payments, deferrals, alerts, AGI.
    for expected in [("letter", "start_letter"), ("letter", "exam_invitation"), ("letter", "diploma"),
                     ("email", "invoice_waiting"), ("email", "invoice_reminder"), ("payment", "school_paid"),
                     ("payment", "payment_deferred"), ("notice", "invoice_refused_to_school"),
                     ("alert", "invoice_waiting_long"), ("letter", "agi_decision"),
                     ("letter", "alfa_test_invitation")]:
        assert kinds[expected] > 0, expected

    # Each person alone, on a copy of an empty, migrated case file.
    template = tmp_path / "empty.db"
    CaseFile(f"sqlite:///{template}").dispose()
    doc = journeys.scenario_doc()
    mismatches = []
    for ref, person in journeys.people.items():
        db = tmp_path / f"{ref}.db"
        shutil.copy(template, db)
        alone = run_scenario(
            parse_scenario({**doc, "people": {ref: person}, "events": [e for e in doc["events"] if e["person"] == ref]}),
            driver=busy_days_driver, database_url=f"sqlite:///{db}")
        db.unlink()
        if alone["timeline"] != by_person[ref] or [(r["date"], r["reason"]) for r in alone["rejected"]] != refused[ref]:
            mismatches.append(ref)
    assert not mismatches, f"{len(mismatches)} journeys differ when replayed alone, e.g. {mismatches[:5]}"


def test_the_bench_command_prints_the_figures_of_the_journeys_it_replayed(capsys):
    from bench.cli import main

    main(journeys=20, years=1, seed=1, as_json=True, compare=False)
    figures = json.loads(capsys.readouterr().out)
    expected = generate(20, years=1, seed=1)
    assert figures["journeys"] == 20 and figures["simulated_days"] == (expected.until - expected.start).days + 1
    assert figures["events"] == len(expected.events) > 0
    assert figures["applied"] + figures["rejected"] == figures["events"]  # every event received was taken
    assert figures["letters"] > 0 and figures["journal_entries"] > 0
    assert figures["events_per_second"] == pytest.approx(figures["events"] / figures["wall_seconds"], rel=0.01)
    assert figures["wall_seconds"] >= figures["replay_seconds"] > 0
