"""`inburgering loan`: the loan and invoice screens of Mijn Inburgering, in a terminal."""

from __future__ import annotations

import datetime as dt

from typer.testing import CliRunner

from inburgering.cli import app
from inburgering.engine.board import loan_overview
from inburgering.scenario.loader import load_scenario
from inburgering.scenario.runner import embedded_driver, prepare


def test_loan_after_the_quarter_cap_scenario(case_file, scenarios_dir, monkeypatch):
    scenario = load_scenario(scenarios_dir / "quarter_cap.yaml")
    prepare(case_file, scenario)
    embedded_driver(case_file, [scenario.start + dt.timedelta(days=i)
                                for i in range((scenario.until - scenario.start).days + 1)])
    with case_file.transaction() as session:
        overview = loan_overview(session, "p1")
        assert loan_overview(session, "nobody") is None
    # two schools in one quarter: B-7's 300.00 above the cap is not paid and not taken from the loan
    assert overview["loan"] == {"borrowed": "10000.00", "paid_out": "2000.00", "promised_later": "0.00",
                                "left": "8000.00"}
    assert [(i["invoice_number"], i["total"], i["paid"], i["not_paid"], i["status"])
            for i in overview["invoices"]] == [
        ("A-100", "1400.00", "1400.00", "0.00", "Factuur is vrijgegeven"),
        ("B-7", "900.00", "600.00", "300.00", "Factuur is vrijgegeven"),
    ]

    monkeypatch.setenv("INBURGERING_DATABASE_URL", case_file.engine.url.render_as_string(hide_password=False))
    shown = CliRunner().invoke(app, ["loan", "p1"])
    assert shown.exit_code == 0 and "8000.00" in shown.output and "B-7" in shown.output
    unknown = CliRunner().invoke(app, ["loan", "p9"])
    assert unknown.exit_code == 2 and "no person 'p9'" in unknown.output
