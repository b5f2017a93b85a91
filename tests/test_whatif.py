"""The policy what-if (issue 26): every journey of a case file replayed under the policy in
force and under a proposal, in memory, from a read-only snapshot; the report of what changes.

The what-if's answers are checked against the real engine: the same journeys replayed into a
second case file with the proposed policy in its policy table must differ from the first in
exactly the people, the outputs and the sums the what-if reports."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from sqlalchemy import MetaData, delete, select
from typer.testing import CliRunner

from bench.generate import generate
from inburgering.cli import app
from inburgering.engine.timeline import timeline
from inburgering.scenario.loader import parse_scenario
from inburgering.scenario.runner import embedded_driver, prepare
from inburgering.store.db import CaseFile, _json_value
from inburgering.store.models import Case, Person, PolicyValue
from inburgering.whatif.proposal import ProposalError, parse_proposal
from inburgering.whatif.report import MONEY_FIELDS
from inburgering.whatif.run import run_whatif

JOURNEYS = 60


def replayed(url: str, journeys, policy: dict | None = None) -> CaseFile:
    """A case file with the journeys applied by the real engine (as production would have),
    with `policy` ({key: [(from, value)]}) added to its policy table first."""
    scenario = parse_scenario(journeys.scenario_doc())
    case_file = CaseFile(url)
    prepare(case_file, scenario)
    with case_file.transaction() as session:
        for key, entries in (policy or {}).items():  # from its first date, the key's entries are these
            session.execute(delete(PolicyValue).where(PolicyValue.key == key, PolicyValue.valid_from >= entries[0][0]))
            session.add_all(PolicyValue(key=key, valid_from=valid_from, value=_json_value(value), note="test")
                            for valid_from, value in entries)
    embedded_driver(case_file, [scenario.start + dt.timedelta(days=i)
                                for i in range((scenario.until - scenario.start).days + 1)])
    return case_file


@pytest.fixture(scope="module")
def journeys():
    return generate(JOURNEYS, years=3, seed=11)


@pytest.fixture(scope="module")
def baseline_file(journeys, tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('whatif') / 'baseline.db'}"
    case_file = replayed(url, journeys)
    yield url
    case_file.dispose()


def every_table(url: str) -> dict[str, list[tuple]]:
    case_file = CaseFile(url, create=False)
    try:
        with case_file.reading() as session:
            tables = MetaData()
            tables.reflect(session.connection())
            return {name: sorted(map(repr, session.execute(select(table)).all()))
                    for name, table in tables.tables.items()}
    finally:
        case_file.dispose()


def test_no_change_reports_no_difference_on_random_journeys(journeys, baseline_file):
    until = journeys.until
    for proposal in ({}, {"invoice_quarter_cap": [{"from": "2021-01-01", "value": "2000.00"}]},
                     {"term_reminder_months": [3, 12]}):
        report = run_whatif(baseline_file, parse_proposal(proposal), None, until)
        assert report["journeys"] == JOURNEYS and report["events"] == len(journeys.events)
        assert report["journeys_changed"] == 0 and report["cases"] == []
        assert report["totals"]["letters"] == {"added": 0, "dropped": 0, "changed": 0}
        assert report["totals"]["terms_moved"] == 0 and report["terms_moved_by_month"] == []
        assert all(cell["difference_euros"] == "0.00" and cell["baseline_count"] == cell["proposed_count"]
                   for cell in report["totals"]["money"].values())
    # The replay really ran: the baseline's money is the case file's own, to the cent.
    with CaseFile(baseline_file, create=False).reading() as session:
        sent = timeline(session)
    for type_, field in MONEY_FIELDS.items():
        entries = [e for e in sent if e["type"] == type_]
        cell = report["totals"]["money"].get(type_, {"baseline_count": 0, "baseline_euros": "0.00"})
        assert cell["baseline_count"] == len(entries), type_
        assert Decimal(cell["baseline_euros"]) == sum((Decimal(e["data"][field]) for e in entries), Decimal(0))
    assert report["totals"]["money"]["school_paid"]["baseline_count"] > 0


@pytest.mark.parametrize("proposal, policy", [
    ({"invoice_quarter_cap": [{"from": "2024-01-01", "value": "1500.00"}]},
     {"invoice_quarter_cap": [(dt.date(2024, 1, 1), "1500.00")]}),
    ({"term_reminder_months": [12, 6, 3]}, {"term_reminder_months": [(dt.date(1900, 1, 1), "12,6,3")]}),
], ids=["quarter_cap_from_2024", "term_reminder_months"])
def test_a_real_change_lists_exactly_the_cases_it_changes(journeys, baseline_file, tmp_path, proposal, policy):
    report = run_whatif(baseline_file, parse_proposal(proposal), None, journeys.until)
    # The same journeys through the real engine, the proposal in the policy table.
    oracle = replayed(f"sqlite:///{tmp_path / 'proposed.db'}", journeys, policy)
    with CaseFile(baseline_file, create=False).reading() as session:
        before = timeline(session)
        person_of_case = dict(session.execute(select(Case.id, Person.ref).join(Person, Person.id == Case.person_id)).all())
    with oracle.reading() as session:
        after = timeline(session)
    oracle.dispose()

    def by_person(entries):
        grouped = defaultdict(Counter)
        for e in entries:
            grouped[e["person"]][json.dumps(e, sort_keys=True)] += 1
        return grouped

    old, new = by_person(before), by_person(after)
    changed_people = {ref for ref in set(old) | set(new) if old[ref] != new[ref]}
    assert changed_people, "the proposal must change something in these journeys"
    listed = {person_of_case[int((case["case"] or case["person"]).split("-")[1])] for case in report["cases"]}
    assert listed == changed_people
    assert report["journeys_changed"] == len(changed_people)
    # Per type, what the proposal adds less what it drops is what the real engine sends more.
    net = Counter()
    for row in report["letters_by_month"]:
        net[row["type"]] += row["added"] - row["dropped"]
    expected = Counter(e["type"] for e in after)
    expected.subtract(Counter(e["type"] for e in before))
    assert {t: n for t, n in net.items() if n} == {t: n for t, n in expected.items() if n}
    # The money under the proposal is the real engine's under it, to the cent.
    for type_, cell in report["totals"]["money"].items():
        entries = [e for e in after if e["type"] == type_]
        assert cell["proposed_count"] == len(entries), type_
        assert Decimal(cell["proposed_euros"]) == sum((Decimal(e["data"][MONEY_FIELDS[type_]]) for e in entries),
                                                      Decimal(0)), type_


def test_a_what_if_leaves_the_case_file_unchanged(database_url):
    journeys = generate(8, years=3, seed=3)
    case_file = replayed(database_url, journeys)
    case_file.dispose()
    before = every_table(database_url)
    report = run_whatif(database_url, parse_proposal({"invoice_quarter_cap": "500.00"}), None,
                        journeys.until + dt.timedelta(days=400), workers=1)
    assert report["journeys"] == 8 and report["cases_changed"] > 0
    assert every_table(database_url) == before


def test_two_workers_give_the_report_of_one(journeys, baseline_file):
    proposal = parse_proposal({"invoice_quarter_cap": [{"from": "2024-01-01", "value": "1500.00"}]})
    one = run_whatif(baseline_file, proposal, dt.date(2024, 1, 1), journeys.until)
    two = run_whatif(baseline_file, proposal, dt.date(2024, 1, 1), journeys.until, workers=2)
    assert one == two and one["cases_changed"] > 0


def test_the_report_window_counts_only_what_is_dated_in_it(journeys, baseline_file):
    proposal = parse_proposal({"invoice_quarter_cap": [{"from": "2024-01-01", "value": "1500.00"}]})
    everything = run_whatif(baseline_file, proposal, None, journeys.until)
    window = run_whatif(baseline_file, proposal, dt.date(2025, 1, 1), dt.date(2025, 3, 31))
    assert {row["month"] for row in window["letters_by_month"] + window["money_by_month"]} <= \
        {"2025-01", "2025-02", "2025-03"}
    assert 0 < window["totals"]["letters"]["changed"] + window["totals"]["letters"]["added"] < \
        everything["totals"]["letters"]["changed"] + everything["totals"]["letters"]["added"]
    assert all("2025-01-01" <= change["date"] <= "2025-03-31" for case in window["cases"]
               for change in case["changes"])


@pytest.mark.parametrize("doc, message", [
    (None, "the file is empty"),
    (["invoice_quarter_cap"], "must be a mapping of policy keys"),
    ({"invoice_quarter_kap": "1500.00"}, "unknown policy key 'invoice_quarter_kap'"),
    ({"invoice_quarter_cap": "-5.00"}, "policy invoice_quarter_cap: '-5.00' is not valid: must be at least 0.00"),
    ({"invoice_quarter_cap": [{"from": "2024-02-30", "value": "1.00"}]},
     "invoice_quarter_cap[0].from: '2024-02-30' is not a real calendar date"),
    ({"invoice_quarter_cap": [{"from": "2024-01-01"}]}, "invoice_quarter_cap[0].value: is required but missing"),
    ({"invoice_quarter_cap": [{"from": "2024-01-01", "value": "1.00", "until": "2025-01-01"}]},
     "unknown field(s) until"),
    ({"invoice_quarter_cap": [{"from": "2025-01-01", "value": "1.00"}, {"from": "2024-01-01", "value": "2.00"}]},
     "2024-01-01 is not after the entry before it (2025-01-01)"),
    ({"term_reminder_months": [{"from": "2024-01-01", "value": [0]}]},
     "policy term_reminder_months: a list is not valid: must be at least 1 month"),
])
def test_a_bad_proposal_is_refused_with_a_sentence(doc, message):
    with pytest.raises(ProposalError) as refused:
        parse_proposal(doc)
    assert message in str(refused.value)


def test_the_command_refuses_bad_input_with_exit_2(tmp_path, baseline_file, monkeypatch):
    runner = CliRunner()
    proposal = tmp_path / "proposal.yaml"
    proposal.write_text("invoice_quarter_cap:\n  - {from: 2024-01-01, value: \"1500.00\"}\n"
                        "invoice_quarter_cap: []\n", encoding="utf-8")
    monkeypatch.setenv("INBURGERING_DATABASE_URL", baseline_file)
    result = runner.invoke(app, ["whatif", "--policy", str(proposal)])
    assert result.exit_code == 2 and "line 3: invoice_quarter_cap: is given twice (first on line 1)" in result.output
    proposal.write_text("invoice_quarter_cap: [{from: 2024-01-01, value: \"1500.00\"}]\n", encoding="utf-8")
    result = runner.invoke(app, ["whatif", "--policy", str(proposal), "--from", "2025-01-01", "--until", "2024-12-31"])
    assert result.exit_code == 2 and "--from 2025-01-01 is after --until 2024-12-31" in result.output
    result = runner.invoke(app, ["whatif", "--policy", str(proposal), "--until", "2025-13-01"])
    assert result.exit_code == 2 and "--until: '2025-13-01' is not a real calendar date" in result.output
    monkeypatch.setenv("INBURGERING_DATABASE_URL", f"sqlite:///{tmp_path / 'nothing.db'}")
    result = runner.invoke(app, ["whatif", "--policy", str(proposal)])
    assert result.exit_code == 2 and "no case file at" in result.output
    assert not (tmp_path / "nothing.db").exists()
    assert "Traceback" not in result.output


def test_the_command_writes_json_and_csv(tmp_path, baseline_file, monkeypatch, journeys):
    proposal = tmp_path / "proposal.yaml"
    proposal.write_text("invoice_quarter_cap:\n  - {from: 2024-01-01, value: \"1500.00\"}\n", encoding="utf-8")
    monkeypatch.setenv("INBURGERING_DATABASE_URL", baseline_file)
    result = CliRunner().invoke(app, ["whatif", "--policy", str(proposal), "--until", journeys.until.isoformat(),
                                      "--json", "--csv", str(tmp_path / "report.csv")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["whatif"].startswith("whatif-") and report["cases_changed"] > 0
    assert report["proposal"] == ["invoice_quarter_cap: 1500.00 from 2024-01-01"]
    months = (tmp_path / "report.csv").read_text(encoding="utf-8").splitlines()
    cases = (tmp_path / "report-cases.csv").read_text(encoding="utf-8").splitlines()
    assert months[0].startswith("process,month,kind,type,added,dropped,changed")
    assert len(cases) - 1 == sum(len(case["changes"]) for case in report["cases"])
    assert all(line.split(",")[0].startswith("case-") for line in cases[1:])


def test_a_case_file_older_than_the_code_is_refused_not_migrated(tmp_path):
    from inburgering.engine.errors import InputError

    url = f"sqlite:///{tmp_path / 'old.db'}"
    case_file = CaseFile(url)
    with case_file.transaction() as session:  # as if made before this version shipped the key
        session.execute(delete(PolicyValue).where(PolicyValue.key == "fine_response_days"))
    case_file.dispose()
    with pytest.raises(InputError, match="run `inburgering migrate` on it first; a what-if only reads"):
        run_whatif(url, parse_proposal({}), None, dt.date(2026, 1, 1))
    with CaseFile(url, create=False).reading() as session:
        assert session.scalar(select(PolicyValue.id).where(PolicyValue.key == "fine_response_days")) is None


# ---- the Keren switch (issue 21's rule, moved to a date in the past) -------------------------------------------

CATEGORIES = ("asylum", "family", "other")
KEREN_FROM = dt.date(2023, 9, 1)  # proposed: the Keren rule from this day (in force: 2025-02-04)


@pytest.fixture(scope="module")
def mixed_journeys():
    """Random journeys of every category: every third person an asylum status holder, every third a
    family migrant, the rest other."""
    journeys = generate(JOURNEYS, years=3, seed=26)  # a seed with someone asked to repay after a fine
    for event in journeys.events:
        if event["type"] == "residence_permit_granted":
            event["category"] = CATEGORIES[int(event["person"][1:]) % 3]
    return journeys


def test_the_keren_switch_moved_back_lists_exactly_the_asylum_status_holders_fined_or_asked_to_repay(
        mixed_journeys, tmp_path):
    journeys = mixed_journeys
    url = f"sqlite:///{tmp_path / 'mixed.db'}"
    replayed(url, journeys).dispose()
    proposal = parse_proposal({"asylum_sanctions_exceptional_from": [{"from": "2013-01-01",
                                                                       "value": KEREN_FROM.isoformat()}]})
    report = run_whatif(url, proposal, None, journeys.until)
    with CaseFile(url, create=False).reading() as session:
        sent = timeline(session)
        person_of_case = dict(session.execute(select(Case.id, Person.ref).join(Person, Person.id == Case.person_id)
                                              ).all())
    category = {e["person"]: e["category"] for e in journeys.events if e["type"] == "residence_permit_granted"}

    # Who the case file fined or asked to repay after a term that passed on or after the new date:
    # asylum status holders under the Wi2013, from their first pre-announcement of such a term on.
    wi2013 = {e["person"] for e in sent if e["type"] == "start_letter" and e["data"]["regime"] == "wi2013"}
    expected: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for ref in wi2013:
        if category[ref] != "asylum":
            continue
        mine = [e for e in sent if e["person"] == ref]
        passed = [e["date"] for e in mine if e["type"] == "term_pre_announcement"
                  and e["data"]["term_end"] >= KEREN_FROM.isoformat()]
        if not passed:
            continue
        for e in mine:
            if e["date"] >= passed[0] and e["type"] in ("fine", "repayment_notice"):
                expected[ref][e["type"]] += Decimal(e["data"][MONEY_FIELDS[e["type"]]])
    expected = {ref: dict(sums) for ref, sums in expected.items() if sums}
    assert len(expected) >= 3, "the journeys must hold asylum status holders fined after the date"
    assert any("repayment_notice" in sums for sums in expected.values()), "and one asked to repay"

    # What the what-if says the proposal takes back: the fines and repayment notices dropped.
    dropped: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    changed_people = set()
    for case in report["cases"]:
        ref = person_of_case[int((case["case"] or case["person"]).split("-")[1])]
        changed_people.add(ref)
        for change in case["changes"]:
            if change["type"] in ("fine", "repayment_notice") and change["change"] == "dropped":
                dropped[ref][change["type"]] += Decimal(change["amount"])
    assert {ref: dict(sums) for ref, sums in dropped.items()} == expected
    assert all(category[ref] == "asylum" and ref in wi2013 for ref in changed_people)  # nobody else changes
    totals = report["totals"]["money"]
    for type_ in ("fine", "repayment_notice"):
        cell = totals.get(type_, {"baseline_euros": "0.00", "proposed_euros": "0.00"})
        taken_back = Decimal(cell["baseline_euros"]) - Decimal(cell["proposed_euros"])
        assert taken_back == sum((sums.get(type_, Decimal(0)) for sums in expected.values()), Decimal(0))
    # Instead: each goes to staff (fine_review: added, or earlier than a later cycle's), and loans are
    # forgiven, not recovered.
    reviewed = {person_of_case[int((case["case"] or case["person"]).split("-")[1])] for case in report["cases"]
                for change in case["changes"] if change["type"] == "fine_review" and change["change"] != "dropped"}
    assert set(expected) <= reviewed
    assert any(change["type"] == "loan_forgiven" and change["change"] == "added"
               for case in report["cases"] for change in case["changes"])


# ---- correction: from a what-if's list, once staff approved -------------------------------------------------


def journal_of(url: str) -> Counter:
    with CaseFile(url, create=False).reading() as session:
        return Counter((e["person"], e["kind"], e["type"], e["date"], json.dumps(e["data"], sort_keys=True))
                       for e in timeline(session))


def test_a_correction_run_applied_twice_corrects_once(mixed_journeys, tmp_path):
    from inburgering.engine import service
    from inburgering.whatif.correct import corrections_of, enter_corrections
    from inburgering.whatif.replay import inbox_mark, read_journeys, replay, snapshot
    from inburgering.store.db import load_policy

    journeys = mixed_journeys
    url = f"sqlite:///{tmp_path / 'mixed.db'}"
    case_file = replayed(url, journeys)
    today = journeys.until
    proposal = parse_proposal({"asylum_sanctions_exceptional_from": KEREN_FROM.isoformat()})
    report = run_whatif(url, proposal, None, today)
    corrections = corrections_of(report, today)
    fines = [c for c in corrections if c["what"] == "annul_fine"]
    loans = [c for c in corrections if c["what"] == "forgive_loan"]
    assert len(fines) >= 3 and loans
    # One of them paid the fine meanwhile: it is refunded.
    with case_file.transaction() as session:
        paid_ref = session.scalar(select(Person.ref).join(Case, Case.person_id == Person.id)
                                  .where(Case.id == fines[0]["case"]))
        outcome = service.apply_now(session, {"type": "fine_paid", "date": today.isoformat(), "person": paid_ref,
                                              "amount": fines[0]["amount"]}, source="test", received_on=today)
    assert outcome["status"] == "applied"
    before = journal_of(url)

    first = enter_corrections(case_file, report["whatif"], corrections, "Keren (CJEU C-158/23)", today)
    assert len(first["applied"]) == len(corrections) and first["skipped"] == first["entered_before"] == []
    added = journal_of(url) - before
    assert sorted(t for (_, _, t, _, _) in added.elements()) == sorted(
        ["fine_annulled"] * len(fines) + ["loan_forgiven"] * len(loans) + ["fine_refunded"])
    annulled = {json.loads(d)["fine_on"]: json.loads(d) for (_, _, t, _, d) in added if t == "fine_annulled"}
    assert {f["decision_date"]: f["amount"] for f in fines} == {on: a["amount"] for on, a in annulled.items()}
    assert all(a["whatif"] == report["whatif"] for a in annulled.values())
    [(refund_data)] = [json.loads(d) for (_, _, t, _, d) in added if t == "fine_refunded"]
    assert refund_data == {"amount": fines[0]["amount"], "fine_on": fines[0]["decision_date"]}
    assert all(json.loads(d)["reason"] == "correction" for (_, _, t, _, d) in added if t == "loan_forgiven")

    # A what-if of the corrected case file lists nothing more to correct.
    assert corrections_of(run_whatif(url, proposal, None, today), today) == []
    # Approved again: nothing is entered or sent again.
    corrected = journal_of(url)
    again = enter_corrections(case_file, report["whatif"], corrections, "approved twice", today)
    assert again["applied"] == again["skipped"] == [] and len(again["entered_before"]) == len(corrections)
    assert journal_of(url) == corrected
    # Another what-if listing the same: the case file already differs, so each is skipped with its reason.
    other = enter_corrections(case_file, "whatif-0123456789ab", corrections, "a second what-if", today)
    assert other["applied"] == [] and len(other["skipped"]) == len(corrections)
    assert {s["reason"].split(":")[0] for s in other["skipped"]} == {
        f"the fine of {f['decision_date']} was already annulled on {today}" for f in fines} | {
        f"the loan was already forgiven on {today}"}
    assert journal_of(url) == corrected

    # The corrections are in the inbox: a replay of the case file gives what it holds.
    with snapshot(case_file) as session:
        policy, mark = load_policy(session), inbox_mark(session)
        replayed_now = Counter()
        refs = dict(session.execute(select(Person.id, Person.ref)).all())
        for journey in read_journeys(session, mark, today):
            for out in replay(journey, policy, today).outputs:
                replayed_now[(refs[journey.person_id], out.kind, out.type, out.on.isoformat(),
                              json.dumps(out.data, sort_keys=True))] += 1
    case_file.dispose()
    assert replayed_now == corrected
