"""Prometheus: configuration and rules checked by promtool, the rules' own unit tests,
and a real server scraping the model service, read back through its API."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from creditops.features import EXAMPLE_APPLICANT
from creditops.monitoring import (
    ERRORS_ALERT_5M,
    P99_ALERT_SECONDS,
    PANELS,
    RESTARTS_ALERT_15M,
    SERVICE_HEALTH,
)
from creditops.prometheus import CONFIG, server_command, write_local_config
from creditops.settings import Settings
from creditops.supervision import Service, http_answers

from ..conftest import free_port, serving, wait_for

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="run `make system-deps`")
RULES = CONFIG.parent / "rules" / "creditops.yml"


def promtool(*arguments: str) -> None:
    result = subprocess.run([PROMTOOL, *arguments], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_configuration_compose_runs_and_the_local_one(tmp_path):
    promtool("check", "config", str(CONFIG))
    local = write_local_config(Settings(data_root=tmp_path, api_port=8123))
    promtool("check", "config", local)
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"]
        for job in yaml.safe_load(Path(local).read_text())["scrape_configs"]
    }
    assert jobs["model-service"] == ["127.0.0.1:8123"]
    assert jobs["supervisor"] == ["127.0.0.1:9101"]


def test_promtool_checks_the_rules_and_runs_their_unit_tests():
    promtool("check", "rules", str(RULES))
    promtool("test", "rules", str(CONFIG.parent / "tests" / "creditops.yml"))


def test_the_alerts_fire_where_their_panels_turn_red():
    alerts = {
        rule["alert"]: rule["expr"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert alerts["CreditopsHighLatency"].endswith(f"> {P99_ALERT_SECONDS}")
    assert alerts["CreditopsServerErrors"].endswith(f">= {ERRORS_ALERT_5M}")
    assert alerts["CreditopsServiceRestarting"].endswith(f">= {RESTARTS_ALERT_15M}")
    assert PANELS["p99_latency"].threshold.red == P99_ALERT_SECONDS * 1000
    assert PANELS["server_errors"].threshold.red == ERRORS_ALERT_5M
    assert PANELS["restarts"].threshold.red == RESTARTS_ALERT_15M


@pytest.fixture
def scraped_service(tmp_path, settings, recorded_model) -> Iterator[tuple[str, str]]:
    """The model service and a real Prometheus scraping it every second; both URLs."""
    port = free_port()
    with serving(settings.model_copy(update={"prometheus_port": port})) as api:
        local = Settings(
            data_root=tmp_path,
            api_url=api,
            prometheus_port=port,
            prometheus_scrape_seconds=1,
            supervisor_metrics_port=free_port(),  # no supervisor here: a target down
        )
        server = Service("prometheus", server_command(local), url=local.prometheus_base_url)
        server.start(tmp_path)
        try:
            prometheus = local.prometheus_base_url
            wait_for(lambda: http_answers(f"{prometheus}/-/ready", timeout=2), 60)
            yield api, prometheus
        finally:
            server.process.terminate()
            server.process.wait(30)


def test_prometheus_scrapes_the_model_service_and_the_webapp_reads_it_through_it(
    scraped_service,
):
    api, prometheus = scraped_service

    def target_health() -> dict[str, str]:
        targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]
        return {t["labels"]["job"]: t["health"] for t in targets["activeTargets"]}

    assert wait_for(lambda: target_health().get("model-service") == "up", 60)

    def service_panel(key: str) -> list[dict]:
        response = httpx.get(f"{api}/monitoring/panels/{key}", params={"minutes": 5}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def busy() -> list[dict] | None:
        for _ in range(5):
            body = {"source": "webapp", "applicants": [EXAMPLE_APPLICANT] * 3}
            assert httpx.post(f"{api}/predict", json=body, timeout=10).status_code == 200
        rows = service_panel("requests_per_minute")
        return rows if rows and (rows[0]["value"] or 0) > 0 else None

    (requests,) = wait_for(busy, 60, interval=1)
    assert requests["value"] > 0
    (p99,) = service_panel("p99_latency")
    assert 0 < p99["value"] < 1000
    assert service_panel("server_errors") == [{"value": 0.0}]
    series = wait_for(lambda: service_panel("predictions_by_source"), 60)
    assert {row["metric"] for row in series} == {"webapp"}
    assert all({"time", "metric", "value"} <= set(row) for row in series)
    dashboards = httpx.get(f"{api}/monitoring/dashboards", timeout=5).json()
    (service,) = [d for d in dashboards if d["uid"] == SERVICE_HEALTH.uid]
    assert [p["key"] for p in service["panels"] if p["in_webapp"]] == [
        "requests_per_minute",
        "p99_latency",
        "server_errors",
        "restarts",
    ]


def test_a_service_panel_says_when_prometheus_does_not_answer(settings, recorded_model):
    silent = settings.model_copy(update={"prometheus_url": f"http://127.0.0.1:{free_port()}"})
    with serving(silent) as api:
        response = httpx.get(f"{api}/monitoring/panels/requests_per_minute", timeout=10)
    assert response.status_code == 503
    assert "Prometheus at http://127.0.0.1:" in response.json()["detail"]
    assert "does not answer" in response.json()["detail"]
