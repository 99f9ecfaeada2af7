"""Models from before the registry (folders under models/) are imported once, renamed."""

from __future__ import annotations

import hashlib
import json

import joblib
from sqlalchemy import select

from creditops.db import predictions, promotions
from creditops.lifecycle.legacy import import_legacy_models
from creditops.lifecycle.registry import CHAMPION
from creditops.predictions import PredictionRequest, score_and_store

from ..conftest import DATASET


def write_legacy(models, name: str, artifact, trained_at: str) -> None:
    """The layout the first releases wrote: model.joblib, metadata.json, baseline.json."""
    folder = models / name
    folder.mkdir(parents=True)
    joblib.dump(artifact.pipeline[-1], folder / "model.joblib")
    digest = hashlib.sha256((folder / "model.joblib").read_bytes()).hexdigest()
    metadata = {
        **artifact.metadata,
        "trained_at": trained_at,
        "dataset_sha256": "d" * 64,
        "model_sha256": digest,
    }
    (folder / "metadata.json").write_text(json.dumps(metadata))
    (folder / "baseline.json").write_text(json.dumps(artifact.baseline))


def test_legacy_versions_are_registered_renamed_and_the_served_one_is_champion(
    tmp_path, engine, registry, recorded_model, frozen_sets
):
    models = tmp_path / "models"
    write_legacy(models, "v20261101T000000000000Z", recorded_model, "2026-11-01T00:00:00+00:00")
    write_legacy(models, "v20261102T000000000000Z", recorded_model, "2026-11-02T00:00:00+00:00")
    (models / "CURRENT").write_text("v20261101T000000000000Z\n")
    rows = frozen_sets[1].drop(columns="Status").head(3).astype(object)
    rows = rows.where(rows.notna(), None).to_dict("records")
    old = type(recorded_model)(
        "v20261101T000000000000Z",
        recorded_model.pipeline,
        recorded_model.metadata,
        recorded_model.baseline,
    )
    score_and_store(engine, old, [PredictionRequest(rows, "scheduled", "old.csv")])

    renamed = import_legacy_models(models, DATASET, engine, registry)

    assert list(renamed) == ["v20261101T000000000000Z", "v20261102T000000000000Z"]
    first = renamed["v20261101T000000000000Z"]
    assert registry.alias_version(CHAMPION) == first
    tags = {v["version"]: v["tags"] for v in registry.versions()}
    assert tags[first]["legacy_version"] == "v20261101T000000000000Z"
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    scores = registry.load(first).score(columns)[1]
    assert scores.tolist() == recorded_model.score(columns)[1].tolist()
    with engine.connect() as conn:
        versions = conn.execute(select(predictions.c.model_version)).scalars().all()
        promoted = conn.execute(select(promotions)).mappings().one()
    assert versions == [first] * 3
    assert (promoted["version"], promoted["promoted_by"]) == (first, "import")
    assert not models.exists() and (tmp_path / "models.imported" / "CURRENT").is_file()
    assert import_legacy_models(models, DATASET, engine, registry) == {}  # once only
