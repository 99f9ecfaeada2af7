"""The webapp in a real browser (Debian's Chromium via Playwright) against a running API."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

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
        yield page
        browser.close()


def screenshots_dir(tmp_path: Path) -> Path:
    """CREDITOPS_SCREENSHOTS keeps them (the README's come from here); else a temp folder."""
    folder = Path(os.environ.get("CREDITOPS_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_predict_by_form_and_upload_then_find_them_in_past_predictions(
    webapp, browser_page, tmp_path, engine
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
