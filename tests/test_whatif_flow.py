"""The `policy-what-if` deployment's flows on a real (temporary) Prefect server: the report as
artifacts and files, a partitioned what-if adding up to the whole, no BSN in Prefect."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from bench.generate import generate
from flows.whatif.flow import policy_what_if, policy_what_if_partition
from inburgering.whatif.proposal import parse_proposal
from inburgering.whatif.run import report_of, run_whatif
from tasks.partitions import report_rows, sum_reports
from tasks.whatif import EMPTY
from tests.test_prefect_flows import _prefect_contents, artifacts
from tests.test_whatif import replayed

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_server")]

PROPOSAL = 'invoice_quarter_cap:\n  - {from: 2024-01-01, value: "1500.00"}\n'


@pytest.fixture
def journeys_file(tmp_path, monkeypatch):
    journeys = generate(12, years=3, seed=5)
    url = f"sqlite:///{tmp_path / 'case.db'}"
    replayed(url, journeys).dispose()
    monkeypatch.setenv("INBURGERING_DATABASE_URL", url)
    monkeypatch.setenv("INBURGERING_HOME", str(tmp_path / "home"))
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield url, journeys


def test_the_what_if_flow_publishes_its_report_and_files(journeys_file, tmp_path):
    url, journeys = journeys_file
    state = policy_what_if(proposal=PROPOSAL, until=journeys.until, return_state=True)
    result = state.result()
    expected = run_whatif(url, parse_proposal({"invoice_quarter_cap": [{"from": "2024-01-01", "value": "1500.00"}]}),
                          None, journeys.until)
    assert result["whatif"] == expected["whatif"] and result["totals"] == expected["totals"]
    assert result["cases_changed"] == expected["cases_changed"] > 0
    written = json.loads((tmp_path / "home" / "whatif" / f"{expected['whatif']}.json").read_text(encoding="utf-8"))
    assert written == expected
    assert (tmp_path / "home" / "whatif" / f"{expected['whatif']}-cases.csv").is_file()
    published = artifacts(state.state_details.flow_run_id, expect=("policy-what-if", "policy-what-if-cases"))
    report = published["policy-what-if"]
    assert f"# Policy what-if {expected['whatif']}" in report and "## Money per month, baseline against proposed" in report
    assert "█" in report and expected["cases"][0]["case"] in report
    cases = published["policy-what-if-cases"]
    cases = json.loads(cases) if isinstance(cases, str) else cases
    assert [row["case"] for row in cases] == [case["case"] for case in expected["cases"]]
    for person in journeys.people.values():
        assert person["bsn"] not in _prefect_contents()


def test_partitions_add_up_to_the_whole(journeys_file):
    url, journeys = journeys_file
    whole = run_whatif(url, parse_proposal({"invoice_quarter_cap": "900.00"}), None, journeys.until)
    shares = [policy_what_if_partition(proposal="invoice_quarter_cap: \"900.00\"", until=journeys.until, mark=10**9,
                                       whatif=whole["whatif"], part=part, parts=2) for part in (1, 2)]
    assert 0 < shares[0]["journeys"] < whole["journeys"]
    summed = sum_reports(EMPTY, [report_rows(share) for share in shares])  # as the parent reads them back
    from inburgering.whatif.run import Plan

    plan = Plan(whole["whatif"], parse_proposal({"invoice_quarter_cap": "900.00"}), None, journeys.until, 10**9)
    assert report_of(plan, [summed]) == whole


def test_a_bad_proposal_ends_the_run_refused_with_its_sentence(journeys_file):
    state = policy_what_if(proposal="invoice_quarter_cap: lots\n", return_state=True)
    assert state.is_completed() and state.name == "Refused"  # an answer, not a failed run (issue 24)
    assert "policy invoice_quarter_cap: 'lots' is not valid" in state.message


def _run(run_id):  # noqa: ANN001, ANN202
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def _answer(run_id, run_input: dict) -> dict:  # noqa: ANN001
    """Staff press Resume with this input; a worker then runs the run (here: this process)."""
    from prefect.flow_engine import run_flow
    from prefect.flow_runs import resume_flow_run

    from flows.whatif.correction import policy_correction

    resume_flow_run(run_id, run_input=run_input)
    run = _run(run_id)
    return run_flow(policy_correction, flow_run=run, parameters=run.parameters)


KEREN = "asylum_sanctions_exceptional_from: 2023-09-01\n"  # the Keren switch moved back: corrections


def mixed_case_file(tmp_path):  # noqa: ANN001, ANN201
    """A case file of 24 journeys of every category (a third asylum status holders), up to today,
    in which the Keren switch moved back finds fines to annul and loans to forgive.
    Returns (its URL, the journeys, today)."""
    from inburgering.domain.calendar import today_in_amsterdam
    from inburgering.engine import service
    from tests.test_whatif import CATEGORIES

    journeys = generate(24, years=3, seed=26)
    for event in journeys.events:
        if event["type"] == "residence_permit_granted":
            event["category"] = CATEGORIES[int(event["person"][1:]) % 3]
    url = f"sqlite:///{tmp_path / 'case.db'}"
    case_file = replayed(url, journeys)
    today = today_in_amsterdam()
    service.run_monitor(case_file, today)  # the case file up to date: a correction is applied today
    case_file.dispose()
    return url, journeys, today


def test_corrections_wait_for_staff_and_an_approval_corrects_once(tmp_path, monkeypatch):
    from prefect.input.actions import read_flow_run_input

    from flows.whatif.correction import policy_correction
    from tests.test_whatif import journal_of

    url, journeys, today = mixed_case_file(tmp_path)
    monkeypatch.setenv("INBURGERING_DATABASE_URL", url)
    monkeypatch.setenv("INBURGERING_HOME", str(tmp_path / "home"))
    policy_correction.to_deployment(name="policy-correction").apply()
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        result = policy_what_if(proposal=KEREN, until=today, corrections=True)
        assert result["corrections"] >= 2
        run = _run(result["correction_run"])
        assert run.state.name == "Suspended" and "staff-decision" in run.tags
        description = read_flow_run_input(run.state.state_details.run_input_keyset["description"], flow_run_id=run.id)
        assert f"Corrections from the policy what-if {result['whatif']}" in description
        assert "annul the fine of" in description
        before = journal_of(url)

        outcome = _answer(run.id, {"decision": "approve", "reason": "Keren: CJEU C-158/23, RvS 9 July 2025"})
        assert outcome["decision"] == "approved" and len(outcome["applied"]) == result["corrections"], outcome["skipped"]
        assert _run(run.id).state.is_completed()
        corrected = journal_of(url)
        sent = Counter(t for (_, _, t, _, _) in (corrected - before).elements())
        assert sent["fine_annulled"] >= 1 and sent["fine_annulled"] + sent["loan_forgiven"] == result["corrections"]

        # A what-if after it lists nothing more to correct; the run again changes nothing.
        again = policy_what_if(proposal=KEREN, until=today, corrections=True)
        assert again["whatif"] != result["whatif"] and again["corrections"] == 0 and again["correction_run"] is None
        from prefect.flow_engine import run_flow

        assert run_flow(policy_correction, flow_run=_run(run.id), parameters=run.parameters) == outcome
        assert journal_of(url) == corrected

        # Refused: nothing is entered.
        other = policy_what_if(proposal="asylum_sanctions_exceptional_from: 2023-01-01\n", until=journeys.until,
                               corrections=True)
        assert other["correction_run"] != result["correction_run"]
        refused = _answer(_run(other["correction_run"]).id, {"decision": "refuse", "reason": "not adopted"})
        assert refused["decision"] == "refused" and journal_of(url) == corrected
    for person in journeys.people.values():
        assert person["bsn"] not in _prefect_contents()
