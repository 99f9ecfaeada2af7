"""deploy/dagster: Dagster's instance on Kubernetes (a pod per run), as Dagster reads it."""

from __future__ import annotations

import shutil

import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.instance.ref import InstanceRef
from dagster._serdes.config_class import class_from_code_pointer

from creditops.settings import PROJECT_ROOT, Settings
from creditops.stack import dagster_yaml

INSTANCE = PROJECT_ROOT / "deploy" / "dagster" / "dagster-k8s.yaml"
MANIFESTS = PROJECT_ROOT / "deploy" / "kubernetes" / "base"


def test_the_kubernetes_instance_is_the_one_the_stack_writes():
    assert INSTANCE.read_text() == dagster_yaml(Settings.model_construct(), kubernetes=True)


def test_dagster_reads_it_and_its_run_pods_get_the_manifests_config(monkeypatch, tmp_path):
    monkeypatch.setenv("CREDITOPS_DAGSTER_STORAGE_URL", "postgresql://creditops@postgres/dagster")
    monkeypatch.setenv("DAGSTER_K8S_JOB_NAMESPACE", "creditops")
    shutil.copy(INSTANCE, tmp_path / "dagster.yaml")
    instance = InstanceRef.from_dir(str(tmp_path))
    coordinator = instance.run_coordinator_data.rehydrate()
    assert coordinator.get_run_queue_config().max_concurrent_runs == 4
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
