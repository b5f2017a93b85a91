"""A process owner in Chromium on the real stack (issue 16): a Prefect server with its UI, every
deployment served by `python -m deployments.serve`, the local gateway and a case file with a
late invoice. The owner finds the late case on the Runs page by its tag, opens it, answers its
form wrongly and reads the rule's sentence, answers it rightly and sees the case move on; then
letters are held and released through the staff deployments and the held letter goes out the
same day, as the board shows; a refused staff action says Refused; the case page is found by the
sender's reference and the numbers of the month are read (issue 24). A policy maker reads a
what-if's report, and staff open the correction run it made, with its totals and list (issue 26).

Playwright drives Debian's chromium (bin/test installs it). Every wait is for a condition, with
generous timeouts: it passes on a loaded machine. With INBURGERING_SCREENSHOTS=docs it writes
the README's screenshots (docs/*.png).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings
from sqlalchemy import select

from inburgering.domain.calendar import today_in_amsterdam
from inburgering.engine import service
from inburgering.gateway.server import LocalGateway
from inburgering.store.db import CaseFile
from inburgering.store.models import Case, JournalEntry
from tests.browser_stack import CHROMIUM, CHROMIUM_ARGS, ROOT, Stack, wait_until
from tests.test_cockpit import _late_invoice
from tests.test_whatif_flow import KEREN, mixed_case_file

pytestmark = pytest.mark.browser

MINUTE = 60_000  # Playwright's timeouts are in milliseconds
BSN_NEW = "100000009"


@pytest.fixture
def stack(tmp_path, monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: bin/test installs Debian's chromium package (apt-get install chromium)")
    url = f"sqlite:///{tmp_path / 'case.db'}"
    case_file = CaseFile(url)
    today = today_in_amsterdam()
    late = _late_invoice(case_file, today)
    _late_invoice(case_file, today, ref="p2", bsn="111222333", number="LZ-77", days=60)  # stays late
    with case_file.transaction() as session:  # someone whose start letter comes once the municipality is known
        service.register_person(session, ref="p-new", bsn=BSN_NEW, name="Nour Al-Sayed")
        for event in ({"type": "residence_permit_granted",
                       "obligation_start": (today - dt.timedelta(days=100)).isoformat()},
                      {"type": "bsn_registered"}):
            service.receive(session, {**event, "person": "p-new", "date": today.isoformat()}, source="test",
                            received_on=today)
    service.ingest(case_file, today)
    with LocalGateway(token="t") as gateway:
        try:
            with started(Stack(tmp_path, url, gateway.url, "t"), monkeypatch, serve=True) as running:
                running.case_file, running.late_case, running.today = case_file, late, today
                yield running
        finally:
            case_file.dispose()


@contextmanager
def started(running: Stack, monkeypatch, *, serve: bool):  # noqa: ANN001, ANN201
    """The stack's Prefect server (and, with `serve`, every deployment served), this test pointed at it."""
    for key, value in running.env.items():
        if key.startswith(("PREFECT_", "INBURGERING_")):
            monkeypatch.setenv(key, value)
    try:
        running.start_server()
        if serve:
            running.serve()
        # Prefect read its settings when it was imported: the test's own client is pointed here
        with temporary_settings(updates={PREFECT_API_URL: running.api, PREFECT_UI_URL: running.ui}):
            try:
                yield running
            finally:  # the logs and events of flows run here go to this server before it stops (else a
                # later test's drain of Prefect's workers retries the stopped server: the session hung)
                from prefect.events.worker import EventsWorker
                from prefect.logging.handlers import APILogWorker

                APILogWorker.drain_all(timeout=60)
                EventsWorker.drain_all(timeout=60)
    except BaseException:
        print(running.log("serve"), running.log("prefect-server"))
        raise
    finally:
        running.stop()


def screenshots(home: Path) -> Path:
    """Where the screenshots go: INBURGERING_SCREENSHOTS (docs: the README's), else the test's home."""
    shots = Path(os.environ.get("INBURGERING_SCREENSHOTS") or home)
    if not shots.is_absolute():
        shots = ROOT / shots
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def open_artifact(page, ui: str, key: str, heading: str) -> None:  # noqa: ANN001
    """An artifact's newest version: its page lists its versions, newest first."""
    from playwright.sync_api import expect

    page.goto(f"{ui}/artifacts/key/{key}")
    page.get_by_role("link", name=re.compile(r"^[0-9a-f]{8}$")).first.click()
    expect(page.get_by_text(heading).first).to_be_visible()


def run_and_wait(name: str, parameters: dict | None = None) -> object:
    """Run a served deployment (as its Run button does) and wait for the run to finish."""
    from prefect.client.orchestration import get_client

    last_error: list[str] = []

    def deployed():  # noqa: ANN202
        try:
            with get_client(sync_client=True) as client:
                return client.read_deployment_by_name(name)
        except Exception as exc:  # not served yet  # noqa: BLE001
            last_error[:] = [f"{type(exc).__name__}: {exc}"]
            return None

    try:
        deployment = wait_until(deployed, f"the deployment {name} is served", seconds=300)
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; last answer: {last_error}") from None
    with get_client(sync_client=True) as client:  # (the sync client: Playwright's loop runs in this thread)
        run = client.create_flow_run_from_deployment(deployment.id, parameters=parameters or {})

    def finished():  # noqa: ANN202
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(run.id).state
        return state if state.is_final() else None

    state = wait_until(finished, f"a run of {name} finishes", seconds=300)
    assert state.is_completed(), f"{name}: {state.name}: {state.message}"
    return state


def test_a_process_owner_answers_a_late_case_in_the_browser_and_a_held_letter_goes_out_the_same_day(stack):
    from playwright.sync_api import expect, sync_playwright

    shots = screenshots(stack.home)
    run_and_wait("ingest-events/ingest-events")  # the sync shows the late case as a wait run
    case_id = stack.late_case

    expect.set_options(timeout=2 * MINUTE)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(2 * MINUTE)

        # The Runs page filtered by the tag `late` (the board links here): the late case, days late in its name
        page.goto(f"{stack.ui}/runs?tag=late&type=span&seconds=-31622400")
        late_run = page.get_by_text(re.compile(rf"case-{case_id} · \d+ days late · waits for the person"))
        expect(late_run.first).to_be_visible()
        page.screenshot(path=shots / "runs-late.png")
        late_run.first.click()

        def open_form():  # noqa: ANN202
            expect(page.get_by_text("Suspended").first).to_be_visible()
            page.get_by_role("button", name="Resume").click()
            dialog = page.get_by_role("dialog")
            expect(dialog.get_by_text("Factuur is openstaand")).to_be_visible()
            return dialog

        def answer(dialog, invoice_number: str) -> None:  # noqa: ANN001
            dialog.locator("textarea, input[type=text]").first.fill(invoice_number)
            dialog.locator(".p-select-button__control").first.focus()
            page.keyboard.press("ArrowDown")  # opens the decision's list
            page.get_by_role("option", name="accept").click()
            dialog.get_by_role("button", name="Submit").click()
            try:
                expect(dialog).to_be_hidden(timeout=20_000)
            except AssertionError:
                page.screenshot(path=shots / "failed-submit.png")
                raise

        # A wrong invoice number: the case refuses it, the run suspends again with the rule's sentence
        dialog = open_form()
        expect(dialog.get_by_text("days late")).to_be_visible()
        expect(dialog.locator("textarea, input[type=text]").first).to_have_value("TN-9")  # pre-filled
        answer(dialog, "TN-99")
        page.reload()
        dialog = open_form()
        expect(dialog.get_by_text("there is no invoice TN-99 for this person")).to_be_visible()
        page.screenshot(path=shots / "resume-form.png")

        # The right one: the case moves on (the school is paid) and the run completes
        answer(dialog, "TN-9")

        def status() -> str | None:
            with stack.case_file.transaction() as session:
                return session.get(Case, case_id).status == "Factuur is vrijgegeven"

        wait_until(status, "the answered case moves on", seconds=300)
        page.reload()
        expect(page.get_by_text("Suspended")).to_have_count(0)
        expect(page.get_by_role("button", name="Resume")).to_have_count(0)
        # The answered run follows the case: no "days late" left in its name, and no `late` tag
        expect(page.get_by_text(f"case-{case_id} · answered").first).to_be_visible()
        page.goto(f"{stack.ui}/runs?tag=late&type=span&seconds=-31622400")
        expect(page.get_by_text(re.compile(r"case-\d+ · \d+ days late")).first).to_be_visible()  # the other one
        expect(page.get_by_text(re.compile(rf"case-{case_id} · \d+ days late"))).to_have_count(0)

        def open_board() -> None:
            open_artifact(page, stack.ui, "case-board", "Case board,")

        # A refused staff action: a run that says Refused with the sentence, not a failed run
        refused = run_and_wait("open-case/open-case", {"case_id": "case-99999"})
        assert refused.name == "Refused" and refused.message == "refused: case: there is no case-99999"

        # Hold start letters; the municipality comes on paper: the letter waits in the hold
        run_and_wait("hold-letters/hold-letters", {"letter_type": "start_letter", "reason": "print house moves"})
        with stack.case_file.transaction() as session:
            new_case = session.scalars(select(Case).where(Case.process == "intake")).one()
        run_and_wait("record-paper-event/paper-municipality-registered", {
            "case_id": f"case-{new_case.id}", "event": {"date": stack.today.isoformat(), "municipality": "Den Haag"}})
        with stack.case_file.transaction() as session:
            assert session.get(Case, new_case.id).waiting_for == "PIP from the municipality — on hold: start_letter"
        run_and_wait("ingest-events/ingest-events")
        open_board()
        expect(page.get_by_text("print house moves").first).to_be_visible()

        # Released: the held letter goes out the same day, and the board says so
        run_and_wait("release-letters/release-letters", {"letter_type": "start_letter"})
        run_and_wait("ingest-events/ingest-events")
        with stack.case_file.transaction() as session:
            sent = session.scalars(select(JournalEntry).where(JournalEntry.case_id == new_case.id,
                                                              JournalEntry.type == "start_letter")).one()
            assert sent.on_date == stack.today
        open_board()
        expect(page.get_by_text("no letters on hold").first).to_be_visible()
        expect(page.get_by_text("letter/start_letter").first).to_be_visible()
        page.screenshot(path=shots / "board.png", full_page=True)

        # The case page: found by the sender's reference (never a BSN), the letter sent, the history
        run_and_wait("find-case/find-case", {"lookup": "p-new"})
        open_artifact(page, stack.ui, f"case-{new_case.id}", f"case-{new_case.id} · intake and start letter")
        expect(page.get_by_text("start_letter").first).to_be_visible()
        expect(page.get_by_text("Status history").first).to_be_visible()
        page.screenshot(path=shots / "case-page.png", full_page=True)

        # The numbers of the month: per process and week against the service levels
        run_and_wait("numbers-of-the-month/numbers-of-the-month")
        open_artifact(page, stack.ui, "numbers-of-the-month", "The numbers of")
        expect(page.get_by_text("start letters sent").first).to_be_visible()
        page.screenshot(path=shots / "numbers.png", full_page=True)
        browser.close()


@pytest.fixture
def whatif_stack(tmp_path, monkeypatch):
    """A Prefect server with its UI (nothing served: the flows run in this test) and a case file of
    mixed journeys in which the Keren switch moved back finds corrections."""
    url, journeys, today = mixed_case_file(tmp_path)
    # No gateway: nothing is sent, the corrections are only proposed here (tests/test_whatif_flow.py approves)
    with started(Stack(tmp_path, url, "http://127.0.0.1:9", "unused"), monkeypatch, serve=False) as running:
        yield running, journeys, today


def test_a_policy_maker_reads_a_what_if_and_staff_open_the_corrections_it_proposes(whatif_stack):
    from playwright.sync_api import expect, sync_playwright

    from flows.whatif.correction import policy_correction
    from flows.whatif.flow import policy_what_if

    stack, journeys, today = whatif_stack
    shots = screenshots(stack.home)
    policy_correction.to_deployment(name="policy-correction").apply()
    result = policy_what_if(proposal=KEREN, until=today, corrections=True)
    assert result["corrections"] >= 2 and result["correction_run"], result

    expect.set_options(timeout=2 * MINUTE)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1400})  # wide enough for the bars
        page.set_default_timeout(2 * MINUTE)
        seen = []

        # The report: the summary, money per type, the money per month as bars (the cases changed below)
        open_artifact(page, stack.ui, "policy-what-if", f"Policy what-if {result['whatif']}")
        expect(page.get_by_text("Money per month, baseline against proposed").first).to_be_visible()
        page.screenshot(path=shots / "whatif-report.png")
        seen.append(page.content())

        # The correction run, suspended with its form: the totals and the list, approve or refuse
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.goto(f"{stack.ui}/runs/flow-run/{result['correction_run']}")
        expect(page.get_by_text("Suspended").first).to_be_visible()
        page.get_by_role("button", name="Resume").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text(f"{result['whatif']} (its report").first).to_be_visible()
        expect(dialog.get_by_text(re.compile(r"annul the fine of \d{4}-\d\d-\d\d")).first).to_be_visible()
        page.screenshot(path=shots / "whatif-correction.png", animations="disabled")  # the dialog faded in
        seen.append(page.content())
        browser.close()
    for person in journeys.people.values():
        assert not any(person["bsn"] in html for html in seen)
