"""deploy/kubernetes: every resource valid against the Kubernetes API's schemas (offline),
and every image, port, probe path, setting and secret it names one the code has."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from api.main import app
from creditops.grafana import provisioning_files
from creditops.settings import PROJECT_ROOT, Settings

KUBERNETES = PROJECT_ROOT / "deploy" / "kubernetes"
GRAFANA = PROJECT_ROOT / "grafana"
API_VERSION = "1.33.0"  # the oldest Kubernetes the manifests are checked against
SECRETS_EXAMPLE = KUBERNETES / "overlays" / "local" / "secrets.env.example"
# Each workload's container port, as the code (or the image) has it.
PORTS = {
    "api": Settings().api_port,
    "webapp": Settings().webapp_port,
    "reports": Settings().reports_port,
    "mlflow": Settings().mlflow_port,
    "grafana": 3000,
}
SECRET_WORDS = ("PASSWORD", "KEY", "SECRET", "DATABASE_URL", "STORE_URI")


def _resources() -> list[tuple[Path, dict]]:
    found = []
    for path in sorted(KUBERNETES.rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            found += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


RESOURCES = _resources()
WORKLOADS = {
    doc["metadata"]["name"]: doc for _, doc in RESOURCES if doc["kind"] in ("Deployment", "Job")
}


def _containers(workload: dict) -> list[dict]:
    return workload["spec"]["template"]["spec"]["containers"]


def _env(workload: dict) -> list[dict]:
    return [variable for c in _containers(workload) for variable in c.get("env", [])]


@pytest.mark.parametrize(
    ("path", "resource"),
    RESOURCES,
    ids=[f"{p.relative_to(KUBERNETES)}:{d['kind']}/{d['metadata']['name']}" for p, d in RESOURCES],
)
def test_every_resource_is_valid_for_the_kubernetes_api(path, resource):
    kubernetes_validate.validate(resource, API_VERSION, strict=True)


def test_every_kustomization_names_files_that_exist():
    kustomizations = [*KUBERNETES.rglob("kustomization.yaml"), GRAFANA / "kustomization.yaml"]
    for kustomization in kustomizations:
        spec = yaml.safe_load(kustomization.read_text())
        folder = kustomization.parent
        for resource in spec.get("resources", []):
            target = folder / resource
            assert target.is_file() or (target / "kustomization.yaml").is_file(), target
        for generated in spec.get("configMapGenerator", []):
            assert all((folder / name).is_file() for name in generated["files"]), generated
        for generated in spec.get("secretGenerator", []):  # the real file is never committed
            assert all((folder / f"{env}.example").is_file() for env in generated["envs"])


def test_grafana_gets_every_provisioning_file_and_dashboard():
    spec = yaml.safe_load((GRAFANA / "kustomization.yaml").read_text())
    listed = {name for generated in spec["configMapGenerator"] for name in generated["files"]}
    dashboards = {f"dashboards/{p.name}" for p in (GRAFANA / "dashboards").glob("*.json")}
    assert listed == set(provisioning_files()) | dashboards
    mounted = {
        volume["configMap"]["name"]
        for volume in WORKLOADS["grafana"]["spec"]["template"]["spec"]["volumes"]
    }
    assert mounted == {generated["name"] for generated in spec["configMapGenerator"]}


def test_images_are_the_ones_compose_builds_and_pulls():
    compose = yaml.safe_load((PROJECT_ROOT / "compose.yaml").read_text())["services"]
    for name, workload in WORKLOADS.items():
        (container,) = _containers(workload)
        expected = compose["grafana" if name == "grafana" else "api"]["image"]
        assert container["image"] == expected, name


def test_ports_probes_and_services_match_the_code():
    routes = {route.path for route in app.routes}
    services = {doc["metadata"]["name"]: doc for _, doc in RESOURCES if doc["kind"] == "Service"}
    for name, port in PORTS.items():
        (container,) = _containers(WORKLOADS[name])
        assert container["ports"] == [{"name": "http", "containerPort": port}], name
        assert services[name]["spec"]["ports"][0] == {
            "name": "http",
            "port": port,
            "targetPort": "http",
        }
        assert container["readinessProbe"]["httpGet"]["port"] == "http"
    (api,) = _containers(WORKLOADS["api"])
    assert api["readinessProbe"]["httpGet"]["path"] == "/health"
    assert {
        api["readinessProbe"]["httpGet"]["path"],
        api["livenessProbe"]["httpGet"]["path"],
    } <= routes
    assert f"--port {PORTS['api']}" in " ".join(api["command"])


def _config() -> dict[str, str]:
    (config,) = [doc for _, doc in RESOURCES if doc["kind"] == "ConfigMap"]
    return config["data"]


def test_the_services_find_each_other_at_the_addresses_the_settings_give():
    settings = Settings(
        database_url="postgresql+psycopg://creditops@postgres/creditops",  # from the Secret
        **{
            name.removeprefix("CREDITOPS_").lower(): value
            for name, value in _config().items()
            if name.startswith("CREDITOPS_")
        },
    )
    assert settings.model_service_url == f"http://api:{PORTS['api']}"
    assert settings.tracking_uri == f"http://mlflow:{PORTS['mlflow']}"
    assert settings.reports_base_url == f"http://reports:{PORTS['reports']}"


def test_settings_are_settings_and_secrets_come_from_secrets():
    known = {f"CREDITOPS_{name.upper()}" for name in Settings.model_fields} | {"DATABASE_URL"}
    ours = [name for name in _config() if name.startswith("CREDITOPS_")]
    for workload in WORKLOADS.values():
        ours += [v["name"] for v in _env(workload) if v["name"].startswith("CREDITOPS_")]
    grafanas = {name for name in ours if name.startswith("CREDITOPS_GRAFANA_")}  # its files'
    assert set(ours) - grafanas <= known
    assert not [doc for _, doc in RESOURCES if doc["kind"] == "Secret"]
    example = {
        line.split("=", 1)[0]
        for line in SECRETS_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    }
    for name, workload in WORKLOADS.items():
        for variable in _env(workload):
            if any(word in variable["name"] for word in SECRET_WORDS):
                assert "value" not in variable, (name, variable["name"])
            reference = variable.get("valueFrom", {}).get("secretKeyRef")
            if reference:
                assert reference["name"] == "creditops-secrets"
                assert reference["key"] in example, (name, reference["key"])
