"""The user's path in the Airflow UI, in headless Chromium (Debian's `chromium`, driven by Playwright):
find article_ingest, open its trigger form, read the params, trigger with sources, see the run succeed.

Screenshots of each step go to test-artifacts/browser/ (and a trace of a failed run, for `playwright
show-trace`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest
from playwright.sync_api import Locator, Page, expect, sync_playwright

from tests.e2e.airflow_server import skip_requested

pytestmark = pytest.mark.slow

DAG_ID = "article_ingest"
UI_TIMEOUT_MS = 30_000
# Each param as the trigger form shows it: its title, and a phrase of its description.
PARAM_FIELDS = {
    "sources": ("Sources", "Files, folders or URLs to ingest, one per line"),
    "sources_file": ("Sources file", "A TOML or plain-text list of sources"),
    "db": ("Database", "DuckDB file to load into."),
    "since": ("Since", "Only articles published on or after this date (YYYY-MM-DD)"),
    "max_items_per_source": ("Max items per source", "Read at most this many documents from each source"),
    "dry_run": ("Dry run", "Do everything but publish"),
    "allow_private_network": ("Allow private network", "Let URLs reach loopback and private addresses"),
    "data_docs": ("Write the quality report", "Write the run's validation report"),
}


def system_chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def require_chromium() -> str:
    """The system Chromium. Missing is a failure, not a skip: `make test` installs it."""
    path = system_chromium()
    if path is None:
        pytest.fail(
            "No system Chromium (`chromium` not on PATH, no /usr/bin/chromium). `make test` installs it "
            "when missing (apt-get install chromium); or install it by hand: apt-get install -y chromium"
        )
    return path


@contextlib.contextmanager
def browser_page(chromium: str, artifacts: Path) -> Iterator[Page]:
    """A page in headless system Chromium; on an error, a screenshot and a Playwright trace in artifacts."""
    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True)
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        context.set_default_timeout(UI_TIMEOUT_MS)
        context.tracing.start(screenshots=True, snapshots=True)
        page = context.new_page()
        try:
            yield page
        except BaseException:
            with contextlib.suppress(Exception):  # the page may be gone; the trace still helps
                page.screenshot(path=artifacts / "failure.png", full_page=True)
            context.tracing.stop(path=artifacts / "trace.zip")  # `playwright show-trace trace.zip`
            raise
        else:
            context.tracing.stop()
        finally:
            context.close()
            browser.close()


def test_trigger_form_runs_article_ingest(request, browser_artifacts, seeds_copy, tmp_path):
    if skip_requested():
        pytest.skip("SKIP_AIRFLOW_E2E=1: the browser test against a real Airflow is skipped")
    chromium = require_chromium()  # before Airflow starts: fail fast
    airflow = request.getfixturevalue("airflow")
    with browser_page(chromium, browser_artifacts) as page:
        _trigger_through_the_form(page, airflow, browser_artifacts, seeds_copy, tmp_path / "browser.duckdb")


def _trigger_through_the_form(page: Page, airflow, browser_artifacts: Path, seeds_copy: Path, db: Path):
    def shot(name: str) -> None:
        page.screenshot(path=browser_artifacts / f"{name}.png", full_page=True)

    # 1. The UI's home page: no login, every visitor is an admin.
    page.goto(airflow.base_url + "/")
    page.get_by_role("link", name="Dags", exact=True).first.wait_for()
    shot("01-home")

    # 2. The Dags list, searched for article_ingest.
    page.get_by_role("link", name="Dags", exact=True).first.click()
    search = page.get_by_placeholder("Search Dags")
    search.fill(DAG_ID)
    dag_link = page.get_by_role("link", name=DAG_ID, exact=True)
    dag_link.wait_for()
    expect(page.get_by_text(re.compile(r"^1 Dags?$"))).to_be_visible()  # the list is filtered to it
    shot("02-dags-list")

    # 3. The Dag's page.
    dag_link.click()
    page.wait_for_url(f"**/dags/{DAG_ID}**")
    trigger_button = page.get_by_role("button", name="Trigger")
    trigger_button.first.wait_for()
    shot("03-dag-page")

    # 4. The trigger form: every param, its title and its description. The UI re-renders the Dag's page when its
    # data refreshes (seen on fresh clones, whose Dag the processor had just parsed), closing an open dialog: the
    # form is opened once the page is idle, and opened again (at most 3 times) if it closed before all was seen.
    dialog = page.get_by_role("dialog")
    sources = dialog.locator("#element_sources")
    for attempt in range(3):
        page.wait_for_load_state("networkidle")
        if not dialog.is_visible():
            trigger_button.first.click()
        dialog.wait_for()
        sources.wait_for()
        try:
            _check_form_rows(dialog)
            break
        except AssertionError:
            if attempt == 2 or dialog.is_visible():
                raise  # a row is wrong in a form that stayed open: a real failure
    # The array param is a multi-line text box, one item per line.
    expect(sources).to_have_attribute("placeholder", "Enter each string on a new line")
    assert sources.evaluate("el => el.tagName") == "TEXTAREA"
    shot("04-trigger-form")
    submit = dialog.get_by_role("button", name="Trigger").last
    submit.scroll_into_view_if_needed()  # the rest of the form: max items, the switches, the Trigger button
    shot("04b-trigger-form-end")

    # 5. Fill in sources (one per line), the database, no sources file; submit.
    sources.fill(str(seeds_copy))
    dialog.locator("#element_db").fill(str(db))
    dialog.locator("#element_sources_file").fill("")
    shot("05-trigger-form-filled")
    before = airflow.run_ids(DAG_ID)
    t0 = time.monotonic()
    submit.click()
    page.get_by_text("Dag Run Triggered").first.wait_for()
    shot("06-triggered")

    # 6. The run the form started, with the values typed in; then the run's page at success.
    run_id = _new_run_id(airflow, before)
    run = airflow.get_run(DAG_ID, run_id)
    assert run["conf"]["sources"] == [str(seeds_copy)], run["conf"]
    assert run["conf"]["db"] == str(db), run["conf"]
    assert run["run_type"] == "manual"
    run = airflow.wait_for_run(DAG_ID, run_id)
    elapsed = time.monotonic() - t0
    assert run["state"] == "success", (
        f"run {run_id} ended {run['state']!r}\n{airflow.run_report(DAG_ID, run_id)}\n{airflow.log_tail()}"
    )
    print(f"\n[e2e] article_ingest via the UI's trigger form: submitted -> success in {elapsed:.1f} s")

    page.goto(f"{airflow.base_url}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}")
    page.get_by_text(run_id).first.wait_for()
    page.get_by_text("Success", exact=True).first.wait_for()  # the run's state badge
    shot("07-run-success")

    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (5,)
        assert con.execute("SELECT trigger, status FROM runs").fetchall() == [("manual", "success")]
    finally:
        con.close()


def _check_form_rows(dialog: Locator) -> None:
    """Each param's row: one, with its title, its description and its control."""
    for name, (title, phrase) in PARAM_FIELDS.items():
        row = param_row(dialog, title)
        expect(row, f"one form row titled {title!r}").to_have_count(1)
        expect(row.get_by_text(phrase), f"description of {name!r}").to_be_visible()
        # The row's control: the input itself, or the number-input / switch wrapping it.
        expect(row.locator(f"[id='element_{name}'], [id$=':element_{name}']"), name).to_be_visible()


def param_row(dialog: Locator, title: str) -> Locator:
    """A param's row in the trigger form: the field group whose label is the title (a required param's
    label ends with a `*`)."""
    label = dialog.page.locator("label").filter(has_text=re.compile(rf"^{re.escape(title)}\s*\*?$"))
    return dialog.get_by_role("group").filter(has=label)


def _new_run_id(airflow, before: set[str], timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        new = airflow.run_ids(DAG_ID) - before
        if new:
            assert len(new) == 1, f"the form started more than one run: {new}"
            return new.pop()
        assert time.monotonic() < deadline, "no new article_ingest run after submitting the trigger form"
        time.sleep(0.5)
