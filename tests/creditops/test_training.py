"""Training: quality on the held-out split, artifacts, and the model's behaviour."""

import mlflow
import pandas as pd
import pytest

from creditops.errors import ConfigurationError, ModelUnavailable
from creditops.features import CATEGORICAL_FEATURES, FEATURE_NAMES, NUMERIC_FEATURES
from creditops.lifecycle.registry import MODEL_NAME, Registry
from creditops.training import load_dataset

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


def test_the_registered_version_round_trips(recorded_model, registry, applicants):
    loaded = registry.load_alias()
    assert loaded.version == recorded_model.version
    classes, probability = loaded.score(applicants.head(50))
    expected_classes, expected_probability = recorded_model.score(applicants.head(50))
    assert list(classes) == list(expected_classes)
    assert probability.tolist() == expected_probability.tolist()
    assert loaded.baseline == recorded_model.baseline


def test_anyone_can_load_the_champion_from_mlflow_and_score_raw_features(
    recorded_model, registry, applicants
):
    """The logged model takes the features as they come, and its signature says which."""
    mlflow.set_tracking_uri(registry.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    assert model.metadata.get_input_schema().input_names() == list(FEATURE_NAMES)
    rows = applicants.head(20).astype({f.name: float for f in NUMERIC_FEATURES})
    assert list(model.predict(rows)) == list(recorded_model.score(applicants.head(20))[0])


def test_every_training_logs_its_parameters_metrics_and_training_set(recorded_model, registry):
    (version,) = [v for v in registry.versions() if v["version"] == recorded_model.version]
    assert version["params"]["algorithm"] == "HistGradientBoostingClassifier"
    assert version["params"]["training_set.fingerprint"] == "first"
    assert int(version["params"]["training_set.rows"]) == recorded_model.metadata["n_train"]
    assert version["metrics"]["holdout.roc_auc"] == recorded_model.metadata["metrics"]["roc_auc"]
    assert version["aliases"] == ["champion"]


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


def test_a_version_of_another_feature_spec_is_refused(recorded_model, settings, frozen_sets):
    train, _ = frozen_sets
    registry = Registry(settings.tracking_uri)
    other = type(recorded_model)(
        None,
        recorded_model.pipeline,
        {**recorded_model.metadata, "features": recorded_model.metadata["features"][:-1]},
        recorded_model.baseline,
    )
    version = registry.register(other, {"fingerprint": "x"}, example=train.head(5), tags={})
    with pytest.raises(ModelUnavailable, match="other features"):
        registry.load(version)


def test_an_unknown_version_and_an_unreachable_registry_are_one_clear_line(registry):
    with pytest.raises(ModelUnavailable, match="version 999 cannot be loaded"):
        registry.load("999")
    with pytest.raises(ModelUnavailable, match=r"does not answer.*make run"):
        Registry("http://127.0.0.1:9").check()


def test_a_missing_or_unlabelled_dataset_is_one_clear_line(tmp_path):
    with pytest.raises(ConfigurationError, match="dataset not found"):
        load_dataset(tmp_path / "nope.csv")
    unlabelled = tmp_path / "unlabelled.csv"
    pd.read_csv(DATASET).drop(columns="Status").to_csv(unlabelled, index=False)
    with pytest.raises(ConfigurationError, match="lacks the columns Status"):
        load_dataset(unlabelled)
