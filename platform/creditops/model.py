"""The model: its scikit-learn pipeline, versioned artifacts on disk, and scoring.

An artifact is a folder `models/<version>/` holding `model.joblib`,
`metadata.json` (metrics, checksum, threshold) and `baseline.json` (training
distributions for drift). `models/CURRENT` names the version served.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from .db import model_versions
from .errors import ModelUnavailable
from .features import CATEGORICAL_FEATURES, CLASSES, FEATURES, POSITIVE_CLASS, CategoricalFeature

ALGORITHM = "HistGradientBoostingClassifier"
CURRENT_POINTER = "CURRENT"


def encode(columns: Mapping[str, Iterable[Any]]) -> np.ndarray:
    """The model's input matrix: one column per feature, in spec order.

    Categories become their index in the spec's declared order, so no encoder
    is fitted or stored; missing or unknown values become NaN, which the trees
    route natively. Takes a DataFrame or any mapping of feature name to values.
    """
    encoded = []
    for feature in FEATURES:
        values = columns[feature.name]
        if isinstance(feature, CategoricalFeature):
            codes = _CATEGORY_CODES[feature.name]
            encoded.append(np.array([codes.get(v, np.nan) for v in values], dtype=float))
        else:
            encoded.append(np.array(list(values), dtype=float))
    return np.column_stack(encoded)


_CATEGORY_CODES = {
    f.name: {c: float(i) for i, c in enumerate(f.categories)} for f in CATEGORICAL_FEATURES
}


def build_classifier(seed: int) -> HistGradientBoostingClassifier:
    """Gradient-boosted trees on the encoded matrix.

    100 trees score as well as 300 here. Category codes are split on as ordered
    numbers: declaring them categorical gains 0.003 ROC AUC (5 splits) but makes
    sklearn re-encode them on every call, 4x slower on small batches.
    """
    return HistGradientBoostingClassifier(
        learning_rate=0.1,
        max_iter=100,
        max_leaf_nodes=15,
        min_samples_leaf=30,
        l2_regularization=1.0,
        random_state=seed,
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class ModelArtifact:
    version: str
    classifier: HistGradientBoostingClassifier
    metadata: dict[str, Any]
    baseline: dict[str, Any]

    @property
    def threshold(self) -> float:
        return float(self.metadata["threshold"])

    def score(self, applicants: Mapping[str, Iterable[Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Predicted classes and probabilities of `bad` (see `encode` for the input)."""
        proba = self.classifier.predict_proba(encode(applicants))
        probability_bad = proba[:, list(self.classifier.classes_).index(POSITIVE_CLASS)]
        good, bad = CLASSES
        predicted = np.where(probability_bad >= self.threshold, bad, good)
        return predicted, probability_bad


def save_artifact(models_dir: Path, artifact: ModelArtifact) -> Path:
    """Write the artifact's folder, then point CURRENT at it (atomically)."""
    folder = models_dir / artifact.version
    folder.mkdir(parents=True, exist_ok=False)
    joblib.dump(artifact.classifier, folder / "model.joblib")
    metadata = {**artifact.metadata, "model_sha256": sha256_of(folder / "model.joblib")}
    artifact.metadata = metadata
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2))
    (folder / "baseline.json").write_text(json.dumps(artifact.baseline))
    pointer = models_dir / f".{CURRENT_POINTER}.tmp"
    pointer.write_text(artifact.version + "\n")
    os.replace(pointer, models_dir / CURRENT_POINTER)
    return folder


def current_version(models_dir: Path) -> str | None:
    pointer = models_dir / CURRENT_POINTER
    return pointer.read_text().strip() if pointer.is_file() else None


def load_artifact(models_dir: Path, version: str | None = None) -> ModelArtifact:
    """Load a version (default: CURRENT), checking the model file against its checksum."""
    version = version or current_version(models_dir)
    if version is None:
        raise ModelUnavailable(f"no trained model in {models_dir}: run `creditops train`")
    folder = models_dir / version
    try:
        metadata = json.loads((folder / "metadata.json").read_text())
        baseline = json.loads((folder / "baseline.json").read_text())
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(
            f"model {version} in {folder} has unreadable metadata ({exc.__class__.__name__}): "
            "retrain with `creditops train --force`"
        ) from exc
    model_file = folder / "model.joblib"
    if not model_file.is_file() or sha256_of(model_file) != metadata.get("model_sha256"):
        raise ModelUnavailable(
            f"model file {model_file} is missing or corrupt (checksum mismatch): "
            "retrain with `creditops train --force`"
        )
    if metadata.get("features") != spec_fingerprint():
        raise ModelUnavailable(
            f"model {version} was trained on other features than the feature spec declares: "
            "retrain with `creditops train --force`"
        )
    return ModelArtifact(version, joblib.load(model_file), metadata, baseline)


def spec_fingerprint() -> list:
    """What an artifact must agree with: feature order and declared categories."""
    return [
        [f.name, list(f.categories) if isinstance(f, CategoricalFeature) else f.kind]
        for f in FEATURES
    ]


def record_model_version(engine: Engine, artifact: ModelArtifact, models_dir: Path) -> None:
    """Insert the version's row unless it is there already."""
    meta = artifact.metadata
    with engine.begin() as conn:
        known = conn.execute(
            select(model_versions.c.version).where(model_versions.c.version == artifact.version)
        ).first()
        if known:
            return
        conn.execute(
            insert(model_versions).values(
                version=artifact.version,
                trained_at=datetime.fromisoformat(meta["trained_at"]),
                algorithm=meta["algorithm"],
                roc_auc=meta["metrics"]["roc_auc"],
                metrics=meta["metrics"],
                n_train=meta["n_train"],
                n_test=meta["n_test"],
                dataset_sha256=meta["dataset_sha256"],
                artifact_path=str(models_dir / artifact.version),
            )
        )
