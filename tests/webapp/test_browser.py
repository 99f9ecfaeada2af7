"""The webapp in a real browser (Debian's Chromium via Playwright) against a running API."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pandas as pd
import pytest

from creditops.data_errors import inject
from creditops.pipeline import ingest_one_file
from creditops.splitting import write_atomically
from creditops.stack import webapp_command

from ..conftest import DATASET

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed"),
]


@pytest.fixture
def webapp(model_service, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        webapp_command(port),
        env={**os.environ, "CREDITOPS_API_URL": model_service},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    yield url
    process.terminate()
    process.wait(15)


@pytest.fixture
def browser_page(tmp_path):
    """A Chromium page that may only reach 127.0.0.1: anything else is refused and
    recorded in `page.left_the_machine`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.left_the_machine = []

        def only_local(route):
            if urlsplit(route.request.url).hostname == "127.0.0.1":
                route.continue_()
            else:
                page.left_the_machine.append(route.request.url)
                route.abort()

        page.route("**/*", only_local)
        yield page
        browser.close()


def screenshots_dir(tmp_path: Path) -> Path:
    """CREDITOPS_SCREENSHOTS keeps them (the README's come from here); else a temp folder."""
    folder = Path(os.environ.get("CREDITOPS_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def twelve_hours_of_outcomes(api: str, engine) -> None:
    """A batch an hour with its outcomes: six of ordinary applicants, then six drifted
    ones whose loans end by another rule (as `creditops simulate` sends them)."""
    from sqlalchemy import text

    from creditops.simulation import simulated_applicants

    for hour in range(12):
        mode = "normal" if hour < 6 else "drifted"
        applicants, statuses = simulated_applicants(DATASET, mode, 150, seed=hour)
        body = {"source": "scheduled", "applicants": applicants}
        httpx.post(f"{api}/predict", json=body, timeout=30).raise_for_status()
        ids = [a["application_id"] for a in applicants]
        outcomes = [
            {"application_id": i, "status": s, "decided_at": "2026-11-24T00:00:00Z"}
            for i, s in zip(ids, statuses, strict=True)
        ]
        httpx.post(f"{api}/outcomes", json={"outcomes": outcomes}, timeout=30).raise_for_status()
        with engine.begin() as conn:  # as if scored that many hours ago
            conn.execute(
                text(
                    "UPDATE predictions SET predicted_at = predicted_at - :ago * interval '1 hour'"
                    " WHERE application_id = ANY(:ids)"
                ),
                {"ago": 11 - hour, "ids": ids},
            )


def test_predict_by_form_and_upload_then_find_them_in_past_predictions(
    webapp, model_service, browser_page, tmp_path, engine
):
    from playwright.sync_api import expect

    page, shots = browser_page, screenshots_dir(tmp_path)
    page.goto(webapp)
    page.get_by_role("button", name="Predict", exact=True).click()
    expect(page.get_by_text("1 prediction(s) made")).to_be_visible(timeout=30_000)

    csv = tmp_path / "applicants.csv"
    pd.read_csv(DATASET).drop(columns="Status").head(25).to_csv(csv, index=False)
    page.get_by_role("tab", name="Upload a CSV").click()
    page.locator("input[type=file]").set_input_files(str(csv))
    page.get_by_role("button", name="Predict the file").click()
    expect(page.get_by_text("25 prediction(s) made")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    page.screenshot(path=str(shots / "predict.png"), full_page=True)

    page.get_by_role("link", name="Past predictions").click()
    expect(page.get_by_text("Page 1, 50 per page")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("26")  # predictions made
    expect(page.locator("[data-testid=stVegaLiteChart] svg.marks").first).to_be_visible()
    page.screenshot(path=str(shots / "past_predictions.png"), full_page=True)

    page.get_by_role("link", name="Monitoring").click()
    expect(page.get_by_text("Drift and prediction issues")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Share predicted bad, %")).to_be_visible()
    expect(page.locator("[data-testid=stVegaLiteChart] svg.marks").first).to_be_visible()
    page.screenshot(path=str(shots / "monitoring.png"), full_page=True)

    twelve_hours_of_outcomes(model_service, engine)
    page.get_by_role("link", name="Model").click()
    expect(page.get_by_text("ROC AUC").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Live performance")).to_be_visible()
    expect(page.get_by_text("1,800", exact=True)).to_be_visible()  # labelled
    page.set_viewport_size({"width": 1400, "height": 1300})  # Streamlit scrolls inside
    expect(page.locator("[data-testid=stVegaLiteChart] svg.marks").first).to_be_visible()
    page.screenshot(path=str(shots / "model.png"), full_page=True)
    assert page.left_the_machine == []


def computed(page, selector: str, css_property: str) -> str:
    return page.eval_on_selector(
        selector, f"e => getComputedStyle(e).getPropertyValue('{css_property}')"
    )


def test_the_report_an_alert_links_is_styled_and_loads_nothing_from_outside(
    ingest_settings, teams, browser_page, tmp_path
):
    from playwright.sync_api import expect

    frame = pd.read_csv(DATASET).drop(columns="Status").head(80)
    raw = ingest_settings.raw_data_dir / "branch 12.csv"
    raw.parent.mkdir(parents=True)
    write_atomically(raw, inject(frame, ["out_of_range", "missing_value"], seed=4))
    ingest_one_file(ingest_settings)
    (message,) = teams.received
    (action,) = message["attachments"][0]["content"]["actions"]

    page, failed = browser_page, []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    page.goto(action["url"], wait_until="networkidle")
    # Bootstrap's stylesheet applied (its navbar is a flexbox, its danger alert pink),
    # the scripts ran (jQuery, vega), Font Awesome's font loaded: not only 200s.
    assert computed(page, "nav.navbar", "display") == "flex"
    summary = page.locator(".alert-danger").first
    expect(summary).to_contain_text("out_of_range")
    expect(summary).to_contain_text("missing_value")
    assert computed(page, ".alert-danger", "background-color") == "rgb(248, 215, 218)"
    assert page.evaluate("typeof window.jQuery === 'function' && typeof window.vega === 'object'")
    font = "document.fonts.load('900 16px \"Font Awesome 6 Free\"').then(f => f.length)"
    assert page.evaluate(font) > 0
    assert (
        page.evaluate("document.querySelector('img[alt=\"Great Expectations\"]').naturalWidth") > 0
    )
    page.screenshot(path=str(screenshots_dir(tmp_path) / "data_docs_report.png"))

    page.goto(f"{ingest_settings.reports_base_url}/data-docs/index.html", wait_until="networkidle")
    expect(page.get_by_role("link", name="branch 12.csv")).to_be_visible()
    assert computed(page, "table", "border-collapse") == "collapse"
    assert computed(page, "body", "font-family").startswith("-apple-system")  # bootstrap's
    assert page.left_the_machine == [] and failed == []
