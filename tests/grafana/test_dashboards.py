"""Grafana provisioning: in sync with the panel specs, valid JSON, every query runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import yaml

from creditops.grafana import provisioning_files
from creditops.monitoring import (
    ALERT_RULES,
    DASHBOARDS,
    LIVE_AUC_WINDOW,
    PANELS,
    SQL_PANELS,
    expand_macros,
    run_panel,
)
from creditops.outcomes import upsert_outcomes
from creditops.pipeline import ingest_one_file
from creditops.predictions import PredictionRequest, score_and_store
from creditops.schemas import Outcome
from creditops.settings import PROJECT_ROOT, Settings
from creditops.splitting import split_dataset

from ..conftest import DATASET

SCHEMAS = PROJECT_ROOT.parent / "shared" / "grafana-schema"


def test_the_committed_files_are_what_the_panel_specs_generate():
    for relative, content in provisioning_files().items():
        assert (PROJECT_ROOT / "grafana" / relative).read_text() == content, (
            f"grafana/{relative} is stale: run `creditops grafana`"
        )


@pytest.mark.skipif(not SCHEMAS.is_dir(), reason="../shared/grafana-schema is not here")
@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_dashboards_validate_against_grafanas_schemas(dashboard):
    import jsonschema

    document = json.loads(
        (PROJECT_ROOT / "grafana" / "dashboards" / f"{dashboard.uid}.json").read_text()
    )
    jsonschema.validate(document, json.loads((SCHEMAS / "dashboard.jsonschema.json").read_text()))
    for panel in document["panels"]:
        schema = json.loads((SCHEMAS / f"{panel['type']}.jsonschema.json").read_text())
        definitions = schema["definitions"]
        jsonschema.validate(
            panel["options"], {**definitions["Options"], "definitions": definitions}
        )
        if "custom" in panel["fieldConfig"]["defaults"]:
            jsonschema.validate(
                panel["fieldConfig"]["defaults"]["custom"],
                {**definitions["FieldConfig"], "definitions": definitions},
            )
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps[0]["value"] is None and [s["color"] for s in steps] in (
            ["green", "orange", "red"],
            ["red", "orange", "green"],
        )
        (target,) = panel["targets"]
        if panel["datasource"]["type"] == "prometheus":
            assert target["expr"] and panel["datasource"]["uid"] == "creditops-prometheus"
        else:
            assert "$__timeFilter(" in target["rawSql"]
            assert panel["datasource"]["uid"] == "creditops-postgres"
    assert document["refresh"] == "5s"


def test_alert_rules_are_provisioned_with_a_threshold_expression():
    rules = yaml.safe_load((PROJECT_ROOT / "grafana/provisioning/alerting/rules.yaml").read_text())
    (group,) = rules["groups"]
    assert len(group["rules"]) == len(ALERT_RULES) >= 3
    for rule in group["rules"]:
        query, condition = rule["data"]
        assert query["datasourceUid"] == "creditops-postgres"
        assert condition["datasourceUid"] == "__expr__" and rule["condition"] == "B"


def test_the_prometheus_datasource_has_its_pinned_uid():
    (source,) = yaml.safe_load(
        (PROJECT_ROOT / "grafana/provisioning/datasources/prometheus.yaml").read_text()
    )["datasources"]
    assert source["type"] == "prometheus" and source["uid"] == "creditops-prometheus"
    assert source["url"] == "${CREDITOPS_GRAFANA_PROMETHEUS_URL}"


def test_the_datasource_keeps_its_password_secure():
    source = yaml.safe_load(
        (PROJECT_ROOT / "grafana/provisioning/datasources/postgres.yaml").read_text()
    )["datasources"][0]
    assert source["type"] == "grafana-postgresql-datasource" and source["uid"]
    assert "password" in source["secureJsonData"] and "password" not in source
    assert "database" in source["jsonData"]


@pytest.fixture
def realistic_data(tmp_path, database_url, engine, recorded_model):
    """A few ingested files (real validation) and predictions from both sources."""
    settings = Settings(
        data_root=tmp_path / "data",
        dataset_path=DATASET,
        database_url=database_url,
        raw_file_settle_seconds=0,
    )
    split_dataset(DATASET, settings.raw_data_dir, 40, error_share=0.5, seed=3)
    # Files are claimed at random: at least four, and on until one had problems.
    ingested = [ingest_one_file(settings, "dagster") for _ in range(4)]
    while not any(run["report"]["invalid_rows"] or run["report"]["file_error"] for run in ingested):
        ingested.append(ingest_one_file(settings, "dagster"))
    frame = pd.read_csv(DATASET).drop(columns="Status").head(300)
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    batches = score_and_store(
        engine,
        recorded_model,
        [
            PredictionRequest(rows[:200], "scheduled", "a.csv"),
            PredictionRequest(rows[200:], "webapp"),
        ],
    )
    labels = pd.read_csv(DATASET)["Status"].head(300)
    ids = [i for batch in batches for i in batch.application_ids]
    with engine.begin() as conn:  # 250 of the 300 loans' outcomes came back
        upsert_outcomes(
            conn,
            [
                Outcome(application_id=i, status=s, decided_at=datetime.now(UTC))
                for i, s in zip(ids[:250], labels, strict=False)
            ],
            "file",
        )
    from creditops.drift import record_drift

    record_drift(engine, recorded_model, timedelta(minutes=30), min_samples=50)
    return engine


def test_every_panel_and_alert_query_returns_rows_of_the_right_shape(realistic_data):
    from sqlalchemy import text

    now = datetime.now(UTC)
    for key, panel in SQL_PANELS.items():  # the PromQL ones: tests/prometheus
        rows = run_panel(
            realistic_data, panel, now - timedelta(hours=1), now + timedelta(minutes=1)
        )
        assert rows, f"{key} returned nothing"
        assert panel.value_column in rows[0], key
        if panel.format == "time_series":
            assert "time" in rows[0], key
        if panel.kind == "stat":
            assert len(rows) == 1, key
        if panel.kind == "bargauge":
            assert "metric" in rows[0], key
    for rule in ALERT_RULES:
        sql, parameters = expand_macros(rule.sql)
        assert parameters == []
        with realistic_data.connect() as conn:
            rows = conn.execute(text(sql)).mappings().all()
        assert len(rows) == 1 and list(rows[0]) == ["value"], rule.uid


def test_live_roc_auc_panel_and_alert_equal_scikit_learn(realistic_data):
    from sklearn.metrics import roc_auc_score
    from sqlalchemy import text

    with realistic_data.begin() as conn:  # one order of prediction time: a row per microsecond
        conn.execute(
            text("UPDATE predictions SET predicted_at = predicted_at - id * interval '1 us'")
        )
        joined = pd.DataFrame(
            conn.execute(
                text(
                    """SELECT p.probability_bad, o.status = 'bad' AS bad
                       FROM predictions p JOIN outcomes o USING (application_id)
                       ORDER BY p.predicted_at DESC"""
                )
            )
            .mappings()
            .all()
        )
        (alert,) = [r for r in ALERT_RULES if r.uid == "creditops-live-roc-auc"]
        value = conn.execute(text(alert.sql)).scalar_one()
    recent = joined.head(LIVE_AUC_WINDOW)
    assert alert.fires_below and len(joined) == 250
    assert float(value) == pytest.approx(roc_auc_score(recent["bad"], recent["probability_bad"]))
    now = datetime.now(UTC)
    (bucket,) = run_panel(realistic_data, PANELS["live_roc_auc"], now - timedelta(hours=1), now)
    expected = roc_auc_score(joined["bad"], joined["probability_bad"])
    assert float(bucket["value"]) == pytest.approx(expected)
    (waiting,) = run_panel(
        realistic_data, PANELS["awaiting_outcome"], now - timedelta(hours=1), now
    )
    assert float(waiting["value"]) == pytest.approx(100 * 50 / 300)
