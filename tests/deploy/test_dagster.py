"""Dagster's instance as Dagster reads it: the local run queue's per-job limits, and
deploy/dagster's instance on Kubernetes (a pod per run)."""

from __future__ import annotations

import shutil

import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.instance.ref import InstanceRef
from dagster._serdes.config_class import class_from_code_pointer

from creditops.settings import PROJECT_ROOT, Settings
from creditops.stack import QUEUE_TAG, dagster_yaml

INSTANCE = PROJECT_ROOT / "deploy" / "dagster" / "dagster-k8s.yaml"
MANIFESTS = PROJECT_ROOT / "deploy" / "kubernetes" / "base"


def run_queue(instance_yaml: str, folder):
    (folder / "dagster.yaml").write_text(instance_yaml)
    return InstanceRef.from_dir(str(folder)).run_coordinator_data.rehydrate().get_run_queue_config()


def test_the_run_queue_limits_each_job_as_its_setting_says(monkeypatch, tmp_path):
    from creditops.definitions import defs

    monkeypatch.setenv("CREDITOPS_DAGSTER_STORAGE_URL", "postgresql://creditops@localhost/dagster")
    settings = Settings.model_construct(ingestion_concurrency=3, prediction_concurrency=2)
    queue = run_queue(dagster_yaml(settings), tmp_path)
    limits = {limit["value"]: limit["limit"] for limit in queue.tag_concurrency_limits}
    assert limits == {"ingestion": 3, "prediction": 2, "outcome": 1, "retraining": 1, "drift": 1}
    assert {limit["key"] for limit in queue.tag_concurrency_limits} == {QUEUE_TAG}
    assert queue.max_concurrent_runs == sum(limits.values())
    # Every scheduled job's runs carry the tag of their own limit.
    jobs = ("ingestion", "prediction", "outcome", "retraining", "drift")
    assert {job: defs.resolve_job_def(f"{job}_job").tags[QUEUE_TAG] for job in jobs} == {
        job: job for job in jobs
    }


def test_the_kubernetes_instance_is_the_one_the_stack_writes():
    assert INSTANCE.read_text() == dagster_yaml(Settings.model_construct(), kubernetes=True)


def test_dagster_reads_it_and_its_run_pods_get_the_manifests_config(monkeypatch, tmp_path):
    monkeypatch.setenv("CREDITOPS_DAGSTER_STORAGE_URL", "postgresql://creditops@postgres/dagster")
    monkeypatch.setenv("DAGSTER_K8S_JOB_NAMESPACE", "creditops")
    shutil.copy(INSTANCE, tmp_path / "dagster.yaml")
    instance = InstanceRef.from_dir(str(tmp_path))
    coordinator = instance.run_coordinator_data.rehydrate()
    assert coordinator.get_run_queue_config().max_concurrent_runs == 6
    launcher = instance.run_launcher_data  # built only inside a cluster: its config checked
    launcher_class = class_from_code_pointer(launcher.module_name, launcher.class_name)
    checked = process_config(
        resolve_to_config_type(launcher_class.config_type()), launcher.config_dict
    )
    assert checked.success, checked.errors
    names = {
        (doc["kind"], doc["metadata"]["name"])
        for doc in yaml.safe_load_all((MANIFESTS / "config.yaml").read_text())
    }
    assert {("ConfigMap", name) for name in checked.value["env_config_maps"]} <= names
    assert checked.value["env_secrets"] == ["creditops-secrets"]
