"""Health, model description, metrics, and behaviour when parts are missing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.main import create_app


def test_health_is_ok_when_database_and_model_are(client, recorded_model):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "model": "ok",
        "model_version": recorded_model.version,
    }


def test_without_a_registry_health_is_503_and_predict_says_why(settings, engine, applicant):
    app = create_app(settings.model_copy(update={"mlflow_tracking_uri": "http://127.0.0.1:9"}))
    with TestClient(app) as client:
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["model"].startswith("the MLflow registry at http://127.0.0.1:9 failed")
        response = client.post("/predict", json={"source": "webapp", "applicants": [applicant]})
        assert response.status_code == 503
        assert "MLflow registry" in response.json()["detail"]


def test_without_a_champion_health_says_how_to_train_one(
    settings, engine, registry, recorded_model
):
    registry.drop_alias("champion")
    with TestClient(create_app(settings)) as client:
        health = client.get("/health")
    assert health.status_code == 503
    assert "has no champion model: run `creditops train`" in health.json()["model"]


def test_an_unreachable_database_gives_503_not_a_crash(settings, applicant):
    broken = settings.model_copy(
        update={"database_url": "postgresql+psycopg://u:p@127.0.0.1:1/none"}
    )
    with TestClient(create_app(broken)) as client:
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["database"].startswith("cannot reach the database")
        body = {"source": "webapp", "applicants": [applicant]}
        assert client.post("/predict", json=body).status_code == 503


def test_the_model_route_describes_the_served_version(client, recorded_model):
    body = client.get("/model").json()
    assert body["version"] == recorded_model.version
    assert body["metrics"]["roc_auc"] >= 0.8 and body["served"] is True
    history = client.get("/models").json()  # the session's registry: other tests add versions
    (served,) = [m for m in history if m["served"]]
    assert served["version"] == recorded_model.version and served["aliases"] == ["champion"]
    assert (
        served["reason"] == "first" and served["metrics"]["roc_auc"] == body["metrics"]["roc_auc"]
    )
    versions = [int(m["version"]) for m in history]
    assert versions == sorted(versions, reverse=True)


def test_metrics_count_requests_and_predictions_by_class_and_source(client, applicant):
    client.post("/predict", json={"source": "webapp", "applicants": [applicant] * 3})
    client.get("/past-predictions", params={"source": "nope"})
    text = client.get("/metrics").text
    assert 'creditops_http_requests_total{method="POST",route="/predict",status="200"} 1.0' in text
    assert 'route="/past-predictions",status="422"' in text
    assert 'creditops_http_request_duration_seconds_bucket{le="0.001",method="POST"' in text
    predicted = [
        line for line in text.splitlines() if line.startswith("creditops_predictions_total{")
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in predicted) == 3
    assert all('source="webapp"' in line for line in predicted)


def test_the_openapi_page_and_schema_are_served(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/predict", "/past-predictions", "/health", "/model"} <= schema["paths"].keys()
    applicant = schema["components"]["schemas"]["Applicant"]
    assert applicant["additionalProperties"] is False


def test_a_retraining_asked_by_a_name_holding_nul_is_refused(client):
    response = client.post("/model/retrain", json={"requested_by": "ops\u0000bot"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "requested_by"
