"""Training: quality on the held-out split, artifacts, and the model's behaviour."""

import json

import pandas as pd
import pytest
from sqlalchemy import select

from creditops.db import model_versions
from creditops.errors import ConfigurationError, ModelUnavailable
from creditops.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from creditops.model import current_version, load_artifact
from creditops.training import load_dataset, train_model

from ..conftest import DATASET


@pytest.fixture(scope="module")
def applicants() -> pd.DataFrame:
    return pd.read_csv(DATASET).drop(columns="Status")


def test_the_model_reaches_the_required_roc_auc_on_held_out_data(trained_model):
    metrics = trained_model.metadata["metrics"]
    assert metrics["roc_auc"] >= 0.80
    matrix = metrics["confusion_matrix"]["matrix"]
    assert sum(map(sum, matrix)) == trained_model.metadata["n_test"]
    assert 0 < metrics["precision_bad"] <= 1 and 0 < metrics["recall_bad"] <= 1


def test_the_artifact_round_trips_and_is_the_current_version(trained_model, settings, applicants):
    assert current_version(settings.models_dir) == trained_model.version
    loaded = load_artifact(settings.models_dir)
    classes, probability = loaded.score(applicants.head(50))
    expected_classes, expected_probability = trained_model.score(applicants.head(50))
    assert list(classes) == list(expected_classes)
    assert probability.tolist() == expected_probability.tolist()


def test_the_baseline_describes_every_feature(trained_model):
    features = trained_model.baseline["features"]
    for feature in NUMERIC_FEATURES:
        assert features[feature.name]["bin_edges"] == sorted(features[feature.name]["bin_edges"])
        assert len(features[feature.name]["sample"]) > 100
    for feature in CATEGORICAL_FEATURES:
        assert sum(features[feature.name]["shares"].values()) == pytest.approx(1)


def test_past_due_records_raise_the_risk(trained_model, applicants):
    """Directional: the same applicants with records are riskier on average."""
    without = applicants.assign(Records="no")
    with_records = applicants.assign(Records="yes")
    assert trained_model.score(with_records)[1].mean() > trained_model.score(without)[1].mean()


def test_a_larger_loan_for_the_same_good_does_not_lower_the_risk(trained_model, applicants):
    """Directional: borrowing the whole price is no safer than borrowing half of it."""
    half = applicants.assign(Amount=(applicants["Price"] * 0.5).round())
    whole = applicants.assign(Amount=applicants["Price"])
    assert trained_model.score(whole)[1].mean() >= trained_model.score(half)[1].mean()


def test_missing_optional_values_still_score(trained_model, applicants):
    """Minimum functionality: nullable features may all be missing."""
    nulls = {f.name: None for f in (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES) if f.nullable}
    classes, probability = trained_model.score(applicants.head(20).assign(**nulls))
    assert len(classes) == 20 and ((probability >= 0) & (probability <= 1)).all()


def test_the_version_is_recorded_once(recorded_model, engine, settings):
    from creditops.model import record_model_version

    record_model_version(engine, recorded_model, settings.models_dir)
    with engine.connect() as conn:
        rows = conn.execute(select(model_versions)).mappings().all()
    assert [r["version"] for r in rows] == [recorded_model.version]
    assert rows[0]["roc_auc"] == recorded_model.metadata["metrics"]["roc_auc"]


def test_a_corrupt_model_file_is_refused_with_the_way_out(trained_model, tmp_path):
    models = tmp_path / "models"
    artifact = train_model(DATASET, models, seed=1, test_size=0.2)
    (models / artifact.version / "model.joblib").write_bytes(b"not a model")
    with pytest.raises(ModelUnavailable, match=r"corrupt.*creditops train --force"):
        load_artifact(models)


def test_an_artifact_of_another_feature_spec_is_refused(tmp_path):
    models = tmp_path / "models"
    artifact = train_model(DATASET, models, seed=1, test_size=0.2)
    metadata_file = models / artifact.version / "metadata.json"
    metadata = json.loads(metadata_file.read_text())
    metadata["features"] = metadata["features"][:-1]
    metadata_file.write_text(json.dumps(metadata))
    with pytest.raises(ModelUnavailable, match="other features"):
        load_artifact(models)


def test_no_model_says_how_to_train(tmp_path):
    with pytest.raises(ModelUnavailable, match="creditops train"):
        load_artifact(tmp_path)


def test_a_missing_or_unlabelled_dataset_is_one_clear_line(tmp_path):
    with pytest.raises(ConfigurationError, match="dataset not found"):
        load_dataset(tmp_path / "nope.csv")
    unlabelled = tmp_path / "unlabelled.csv"
    pd.read_csv(DATASET).drop(columns="Status").to_csv(unlabelled, index=False)
    with pytest.raises(ConfigurationError, match="lacks the columns Status"):
        load_dataset(unlabelled)
