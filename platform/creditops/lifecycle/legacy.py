"""Models trained before the registry (folders under <data_root>/models), imported once.

Each folder becomes a registry version, oldest first, tagged with its old name;
predictions and drift metrics that named the old version are renamed to the new
number, the version `models/CURRENT` named becomes champion, and the folder is
renamed `models.imported/` so that the import never runs twice.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import joblib
from sqlalchemy import update
from sqlalchemy.engine import Engine

from ..db import drift_metrics, predictions, promotions
from ..errors import ModelUnavailable
from ..features import FEATURE_NAMES
from ..model import ModelArtifact, build_pipeline
from ..training import load_dataset
from .registry import CHAMPION, Registry


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _legacy_artifact(folder: Path) -> ModelArtifact:
    metadata = json.loads((folder / "metadata.json").read_text())
    baseline = json.loads((folder / "baseline.json").read_text())
    model_file = folder / "model.joblib"
    if _sha256(model_file) != metadata.get("model_sha256"):
        raise ModelUnavailable(f"{model_file} does not match its checksum: not imported")
    pipeline = build_pipeline(int(metadata.get("seed", 0)))
    pipeline.steps[-1] = ("trees", joblib.load(model_file))
    return ModelArtifact(None, pipeline, metadata, baseline)


def import_legacy_models(models_dir: Path, dataset: Path, engine: Engine, registry: Registry):
    """Old name -> registry version of every imported model ({} when there was nothing)."""
    pointer = models_dir / "CURRENT"
    if not pointer.is_file():
        return {}
    folders = sorted(
        (f for f in models_dir.iterdir() if (f / "metadata.json").is_file()),
        key=lambda f: json.loads((f / "metadata.json").read_text())["trained_at"],
    )
    example = load_dataset(dataset)[list(FEATURE_NAMES)].head(5)
    renamed = {}
    for folder in folders:
        artifact = _legacy_artifact(folder)
        artifact.pipeline[0].fit(example)
        meta = artifact.metadata
        version = registry.register(
            artifact,
            training={
                "fingerprint": meta["dataset_sha256"],
                "rows": meta["n_train"],
                "dataset_rows": meta["n_train"],
                "outcome_rows": 0,
            },
            example=example,
            tags={"legacy_version": folder.name, "reason": "imported"},
        )
        renamed[folder.name] = version
        with engine.begin() as conn:
            for table in (predictions, drift_metrics):
                conn.execute(
                    update(table)
                    .where(table.c.model_version == folder.name)
                    .values(model_version=version)
                )
    current = renamed[pointer.read_text().strip()]
    with engine.begin() as conn:
        conn.execute(
            promotions.insert().values(
                version=current, promoted_by="import", note="served before the registry"
            )
        )
    registry.set_alias(CHAMPION, current)
    models_dir.rename(models_dir.with_name("models.imported"))
    return renamed
