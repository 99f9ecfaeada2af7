"""compose.yaml: valid against the Compose specification; what it names exists here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from creditops.settings import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "compose.yaml"


def test_compose_validates_against_the_compose_specification():
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


ONE_SHOTS = {"migrate", "airflow-migrate"}


def test_every_service_restarts_and_has_a_healthcheck_one_shots_apart():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {
        "postgres",
        "api",
        "webapp",
        "reports",
        "dagster-webserver",
        "dagster-daemon",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "grafana",
        "mlflow",
        "prometheus",
    } <= set(services)
    for name, service in services.items():
        if name in ONE_SHOTS:
            assert service["restart"] == "no", name
        else:
            assert service["restart"] == "unless-stopped", name
            assert "healthcheck" in service, name


def test_services_wait_for_what_they_need_to_be_healthy():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services
            expected = (
                "service_completed_successfully" if dependency in ONE_SHOTS else "service_healthy"
            )
            assert condition["condition"] == expected, (name, dependency)


def test_mounted_and_copied_paths_exist():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (PROJECT_ROOT / source).exists(), source
    for line in (PROJECT_ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:  # not a build stage's output
            for source in line.split()[1:-1]:
                assert (PROJECT_ROOT / source).exists(), source


def test_no_secret_is_written_in_compose():
    text = COMPOSE.read_text()
    assert "${POSTGRES_PASSWORD" in text and "changeme" not in text
