"""deploy/helm: values for the official Dagster and Airflow charts. The charts are not
here (no registry but PyPI), so the checks are ours: the pieces that are Kubernetes
objects validate against the API's schemas; image, code location, DAG folder, run
queue, executor, volume and config names are the ones the code and the manifests use;
no secret is in them."""

from __future__ import annotations

import re
from importlib.metadata import version

import kubernetes_validate
import yaml

from creditops.settings import PROJECT_ROOT, Settings
from creditops.stack import AIRFLOW_EXECUTORS, DATABASES, dagster_yaml

from .test_kubernetes import API_VERSION, RESOURCES

HELM = PROJECT_ROOT / "deploy" / "helm"
DAGSTER = yaml.safe_load((HELM / "dagster-values.yaml").read_text())
AIRFLOW = yaml.safe_load((HELM / "airflow-values.yaml").read_text())
IMAGE = yaml.safe_load((PROJECT_ROOT / "compose.yaml").read_text())["services"]["api"]["image"]
NAMED = {(doc["kind"], doc["metadata"]["name"]) for _, doc in RESOURCES}
DATA_ROOT = next(doc for _, doc in RESOURCES if doc["kind"] == "ConfigMap")["data"][
    "CREDITOPS_DATA_ROOT"
]
(USER_CODE,) = DAGSTER["dagster-user-deployments"]["deployments"]
LAUNCHER = DAGSTER["runLauncher"]["config"]["k8sRunLauncher"]
WORKERS = AIRFLOW["workers"]["celery"]


def pod(name: str, container: dict, **spec) -> dict:
    """A Pod holding the values' Kubernetes pieces, to validate them as the API would."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": name, "image": IMAGE, **container}], **spec},
    }


def assert_mounts_the_data_volume(volumes: list[dict], mounts: list[dict]) -> None:
    (volume,) = volumes
    assert ("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]) in NAMED
    assert mounts == [{"name": volume["name"], "mountPath": DATA_ROOT}]


def test_the_values_kubernetes_objects_are_valid():
    user_code = pod(
        "user-code",
        {
            "envFrom": [
                *({"configMapRef": ref} for ref in USER_CODE["envConfigMaps"]),
                *({"secretRef": ref} for ref in USER_CODE["envSecrets"]),
            ],
            "volumeMounts": USER_CODE["volumeMounts"],
            "resources": USER_CODE["resources"],
        },
        volumes=USER_CODE["volumes"],
        securityContext=USER_CODE["podSecurityContext"],
    )
    run = pod("run", LAUNCHER["runK8sConfig"]["containerConfig"])
    worker = pod(
        "worker",
        {
            "envFrom": yaml.safe_load(AIRFLOW["extraEnvFrom"]),
            "volumeMounts": WORKERS["extraVolumeMounts"],
        },
        volumes=WORKERS["extraVolumes"],
    )
    for resource in (user_code, run, worker):
        kubernetes_validate.validate(resource, API_VERSION, strict=True)


def test_dagster_loads_our_code_location_with_the_manifests_config_and_data():
    image = USER_CODE["image"]
    assert f"{image['repository']}:{image['tag']}" == IMAGE
    workspace = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text())
    (location,) = workspace["load_from"]
    assert USER_CODE["dagsterApiGrpcArgs"] == [
        "--module-name",
        location["python_module"]["module_name"],
    ]
    for values in (USER_CODE, LAUNCHER):  # the code server and each run's pod
        assert {("ConfigMap", ref["name"]) for ref in values["envConfigMaps"]} <= NAMED
        assert [ref["name"] for ref in values["envSecrets"]] == ["creditops-secrets"]
    assert USER_CODE["includeConfigInLaunchedRuns"]["enabled"]  # runs get the data volume
    assert_mounts_the_data_volume(USER_CODE["volumes"], USER_CODE["volumeMounts"])
    assert DAGSTER["postgresql"]["postgresqlDatabase"] in DATABASES
    assert not DAGSTER["postgresql"]["enabled"] and not DAGSTER["generatePostgresqlPasswordSecret"]


def test_dagsters_run_queue_and_monitoring_are_the_ones_creditops_run_writes():
    instance = yaml.safe_load(dagster_yaml(Settings.model_construct()))
    queue = instance["run_coordinator"]["config"]
    coordinator = DAGSTER["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] == instance["run_coordinator"]["class"]
    assert coordinator["config"]["queuedRunCoordinator"] == {
        "maxConcurrentRuns": queue["max_concurrent_runs"],
        "dequeueIntervalSeconds": queue["dequeue_interval_seconds"],
        "tagConcurrencyLimits": queue["tag_concurrency_limits"],
    }
    monitoring = DAGSTER["dagsterDaemon"]["runMonitoring"]
    assert monitoring == {
        "enabled": True,
        "maxRuntimeSeconds": instance["run_monitoring"]["max_runtime_seconds"],
        "pollIntervalSeconds": instance["run_monitoring"]["poll_interval_seconds"],
    }


def test_airflow_runs_our_dags_on_celery_as_creditops_run_does():
    defaults = Settings.model_construct()
    assert AIRFLOW["airflowVersion"] == version("apache-airflow")
    for image in (
        AIRFLOW["images"]["airflow"],
        {"repository": AIRFLOW["defaultAirflowRepository"], "tag": AIRFLOW["defaultAirflowTag"]},
    ):
        assert f"{image['repository']}:{image['tag']}" == IMAGE
    assert AIRFLOW["executor"] == AIRFLOW_EXECUTORS["celery"]
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    workdir = re.findall(r"^WORKDIR (\S+)$", dockerfile, re.MULTILINE)[-1]  # the final stage's
    assert "COPY airflow_dags ./airflow_dags" in dockerfile
    assert AIRFLOW["config"]["core"]["dags_folder"] == f"{workdir}/airflow_dags"
    assert AIRFLOW["config"]["celery"]["worker_concurrency"] == defaults.airflow_worker_concurrency
    assert WORKERS["replicas"] == defaults.airflow_celery_workers
    sources = yaml.safe_load(AIRFLOW["extraEnvFrom"])
    assert [next(iter(ref.values()))["name"] for ref in sources] == [
        "creditops-config",
        "creditops-secrets",
    ]
    assert_mounts_the_data_volume(WORKERS["extraVolumes"], WORKERS["extraVolumeMounts"])
    assert not AIRFLOW["postgresql"]["enabled"]


def test_no_secret_is_written_in_the_values():
    def leaves(node, path=()):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from leaves(value, (*path, str(key)))
        elif isinstance(node, list):
            for item in node:
                yield from leaves(item, path)
        else:
            yield path, node

    for values in (DAGSTER, AIRFLOW):
        for path, value in leaves(values):
            key = path[-1].lower()
            if re.search("password|secret|connection|token|fernetkey", key):
                assert key.endswith("secretname") or isinstance(value, bool), path
