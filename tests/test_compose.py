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


def test_every_service_has_a_healthcheck_or_is_a_one_shot_and_waits_for_health():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {
        "postgres",
        "api",
        "webapp",
        "dagster-webserver",
        "dagster-daemon",
        "airflow",
        "grafana",
    } <= set(services)
    for name, service in services.items():
        if name not in ("migrate", "dagster-daemon"):
            assert "healthcheck" in service, name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services
            assert condition["condition"] in ("service_healthy", "service_completed_successfully")


def test_mounted_and_copied_paths_exist():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (PROJECT_ROOT / source).exists(), source
    for line in (PROJECT_ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (PROJECT_ROOT / source).exists(), source


def test_no_secret_is_written_in_compose():
    text = COMPOSE.read_text()
    assert "${POSTGRES_PASSWORD" in text and "changeme" not in text
