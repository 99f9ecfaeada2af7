"""The MLflow registry: the one list of model versions, and which one is champion.

Every training is a run of the experiment `creditops` (parameters, metrics, the
training set's fingerprint and size, `metadata.json` and `baseline.json`) with
the model logged by its flavour and signature, and registered as a version of
the model `creditops`. The alias `champion` is the version served; `challenger`
the one being judged. The gate's verdict is kept as tags of the version.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import pandas as pd
import sklearn
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from ..errors import ModelUnavailable
from ..features import FEATURE_NAMES, NUMERIC_FEATURES
from ..model import ModelArtifact, spec_fingerprint

logging.getLogger("mlflow").setLevel(logging.WARNING)
# Without pip in the environment it warns on every model logged; the requirements we
# give are complete.
logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)

MODEL_NAME = EXPERIMENT = "creditops"
DESCRIPTION = (
    "Credit risk: the probability that a loan ends `bad`, from the applicant's 13 features. "
    "The alias `champion` is the version the model service serves; `challenger` the one the "
    "gate judges. Each version's tags say why it was trained and the gate's verdict."
)
CHAMPION, CHALLENGER = "champion", "challenger"
FAIRNESS_REPORT = "fairness.json"
# skops, MLflow's safe format, loads only the types it is told to trust: ours.
TRUSTED_TYPES = [
    "creditops.model.encode",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]


def _flat_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    return {f"{prefix}{k}": float(v) for k, v in metrics.items() if isinstance(v, int | float)}


@dataclass
class Registry:
    """The registry at `tracking_uri` (an MLflow server, or any URI MLflow takes)."""

    tracking_uri: str

    def __post_init__(self) -> None:
        self.client = MlflowClient(self.tracking_uri, registry_uri=self.tracking_uri)
        self._runs: dict[str, Any] = {}  # run id -> its data; runs do not change once logged
        self._fairness: dict[str, dict[str, Any]] = {}  # version -> its held-out report

    def check(self) -> None:
        """Fail with one clear line when the tracking server does not answer."""
        if not self.tracking_uri.startswith("http"):
            return
        import httpx

        try:
            httpx.get(f"{self.tracking_uri}/health", timeout=5).raise_for_status()
        except httpx.HTTPError as exc:
            raise ModelUnavailable(
                f"the MLflow registry at {self.tracking_uri} does not answer ({exc}): start the "
                "platform (`make run`), or set CREDITOPS_MLFLOW_TRACKING_URI"
            ) from exc

    def register(
        self,
        artifact: ModelArtifact,
        training: dict[str, Any],
        example: pd.DataFrame,
        tags: dict[str, str],
    ) -> str:
        """Log a training run with its model, register the model; the new version number.

        `example`: a few training rows, from which MLflow infers the signature.
        """
        mlflow.set_tracking_uri(self.tracking_uri)  # the fluent API's, process-wide
        mlflow.set_experiment(EXPERIMENT)
        meta = artifact.metadata
        with mlflow.start_run(tags=tags) as run:
            mlflow.log_params(
                {
                    "algorithm": meta["algorithm"],
                    "seed": meta["seed"],
                    "threshold": meta["threshold"],
                    **{f"trees.{k}": v for k, v in _tree_params(artifact).items()},
                    **{f"training_set.{k}": v for k, v in training.items()},
                }
            )
            mlflow.log_metrics(_flat_metrics(meta["metrics"], "holdout."))
            mlflow.log_dict(meta, "metadata.json")
            mlflow.log_dict(artifact.baseline, "baseline.json")
            # Nullable integer features arrive as floats: declare them so.
            example = example.astype({f.name: float for f in NUMERIC_FEATURES})
            info = mlflow.sklearn.log_model(
                artifact.pipeline,
                name="model",
                signature=infer_signature(
                    example[list(FEATURE_NAMES)], artifact.pipeline.predict(example)
                ),
                pip_requirements=[f"scikit-learn=={sklearn.__version__}", "creditops"],
                skops_trusted_types=TRUSTED_TYPES,
                registered_model_name=MODEL_NAME,
            )
        version = str(info.registered_model_version)
        artifact.version = version
        self.client.update_registered_model(MODEL_NAME, description=DESCRIPTION)
        self.tag(version, {**tags, "run_id": run.info.run_id})
        return version

    def alias_version(self, alias: str) -> str | None:
        try:
            return self.client.get_model_version_by_alias(MODEL_NAME, alias).version
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: Exception) -> ModelUnavailable:
        first = str(exc).splitlines()[0] if str(exc) else repr(exc)
        return ModelUnavailable(f"the MLflow registry at {self.tracking_uri} failed: {first}")

    def set_alias(self, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(MODEL_NAME, alias, version)

    def drop_alias(self, alias: str) -> None:
        if self.alias_version(alias) is not None:
            self.client.delete_registered_model_alias(MODEL_NAME, alias)

    def tag(self, version: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(MODEL_NAME, version, key, value)

    def log_fairness(self, version: str, report: dict[str, Any]) -> None:
        """Keep a version's fairness report on the held-out set with its run, its worst
        ratio as a metric and as a tag (tags are read fresh, run data is cached)."""
        run_id = self.client.get_model_version(MODEL_NAME, version).run_id
        self.client.log_dict(run_id, report, FAIRNESS_REPORT)
        if report["worst_ratio"] is not None:
            self.client.log_metric(run_id, "holdout.fairness_worst_ratio", report["worst_ratio"])
            self.tag(version, {"fairness_worst_ratio": f"{report['worst_ratio']:.4f}"})

    def fairness(self, version: str) -> dict[str, Any] | None:
        """The version's fairness report on the held-out set; None if it was judged before
        fairness reports existed (or is being judged). Once found it never changes."""
        if version in self._fairness:
            return self._fairness[version]
        try:
            run_id = self.client.get_model_version(MODEL_NAME, version).run_id
            with tempfile.TemporaryDirectory() as tmp:
                path = self.client.download_artifacts(run_id, FAIRNESS_REPORT, tmp)
                report = json.loads(Path(path).read_text())
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise self._unreachable(exc) from exc
        except OSError:
            return None  # no such artifact
        self._fairness[version] = report
        return report

    def load(self, version: str) -> ModelArtifact:
        """A registered version, checked against the feature spec."""
        try:
            model_version = self.client.get_model_version(MODEL_NAME, version)
            with tempfile.TemporaryDirectory() as tmp:
                for name in ("metadata.json", "baseline.json"):
                    self.client.download_artifacts(model_version.run_id, name, tmp)
                metadata = json.loads((Path(tmp) / "metadata.json").read_text())
                baseline = json.loads((Path(tmp) / "baseline.json").read_text())
            mlflow.set_tracking_uri(self.tracking_uri)
            pipeline = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/{version}")
        except (MlflowException, OSError, ValueError) as exc:
            raise ModelUnavailable(
                f"model {MODEL_NAME} version {version} cannot be loaded from the registry at "
                f"{self.tracking_uri}: {str(exc).splitlines()[0] if str(exc) else exc!r}"
            ) from exc
        if metadata.get("features") != spec_fingerprint():
            raise ModelUnavailable(
                f"model version {version} was trained on other features than the feature spec "
                "declares: retrain with `creditops retrain`"
            )
        return ModelArtifact(version, pipeline, metadata, baseline)

    def load_alias(self, alias: str = CHAMPION) -> ModelArtifact:
        version = self.alias_version(alias)
        if version is None:
            raise ModelUnavailable(
                f"the registry at {self.tracking_uri} has no {alias} model: run `creditops train`"
            )
        return self.load(version)

    def versions(self) -> list[dict[str, Any]]:
        """Every version, newest first: number, aliases, tags, and its run's metrics."""
        try:
            aliases = self.client.get_registered_model(MODEL_NAME).aliases
            found = self.client.search_model_versions(
                f"name = '{MODEL_NAME}'", order_by=["version_number DESC"]
            )
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return []
            raise self._unreachable(exc) from exc
        described = []
        for mv in found:
            if mv.run_id not in self._runs:
                self._runs[mv.run_id] = self.client.get_run(mv.run_id).data
            run = self._runs[mv.run_id]
            described.append(
                {
                    "version": mv.version,
                    "created_at": mv.creation_timestamp,
                    "aliases": sorted(a for a, v in aliases.items() if str(v) == mv.version),
                    "tags": dict(mv.tags),
                    "run_id": mv.run_id,
                    "params": dict(run.params),
                    "metrics": dict(run.metrics),
                }
            )
        return described


def _tree_params(artifact: ModelArtifact) -> dict[str, Any]:
    params = artifact.pipeline[-1].get_params()
    keep = ("learning_rate", "max_iter", "max_leaf_nodes", "min_samples_leaf", "l2_regularization")
    return {k: params[k] for k in keep}
