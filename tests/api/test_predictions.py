"""POST /predict and GET /past-predictions over HTTP with a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select

from api.schemas import PredictResponse
from creditops.db import predictions
from creditops.features import FEATURE_NAMES, column_name

from ..conftest import DATASET


def stored_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(predictions)).scalar_one()


def dataset_applicants(n: int) -> list[dict]:
    frame = pd.read_csv(DATASET).drop(columns="Status").head(n)
    frame = frame.astype(object).where(frame.notna(), None)
    return [
        {
            k: (int(v) if isinstance(v, float) and k not in ("Income", "Assets", "Debt") else v)
            for k, v in row.items()
        }
        for row in frame.to_dict("records")
    ]


def test_one_applicant_is_scored_and_stored_with_its_features(client, engine, applicant):
    response = client.post("/predict", json={"source": "webapp", "applicants": [applicant]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 1 and body["source"] == "webapp"
    (result,) = body["predictions"]
    assert result["prediction"] in ("good", "bad")
    assert 0 <= result["probability_bad"] <= 1
    assert "features" not in result  # the caller has them
    assert result["model_version"] == body["model_version"]
    PredictResponse.model_validate(body)  # built without FastAPI's validation
    with engine.connect() as conn:
        row = conn.execute(select(predictions)).mappings().one()
    assert row["source"] == "webapp" and row["age"] == applicant["Age"]
    assert row["probability_bad"] == pytest.approx(result["probability_bad"])
    assert str(row["batch_id"]) == body["batch_id"]


def test_a_batch_keeps_its_order_and_stores_every_row_once(client, engine, recorded_model):
    applicants = dataset_applicants(500)
    response = client.post(
        "/predict",
        json={"source": "scheduled", "source_file": "batch-001.csv", "applicants": applicants},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    PredictResponse.model_validate(body)
    _, expected = recorded_model.score({n: [a[n] for a in applicants] for n in FEATURE_NAMES})
    got = [p["probability_bad"] for p in body["predictions"]]
    assert got == pytest.approx(expected.tolist())
    assert stored_count(engine) == 500
    with engine.connect() as conn:
        files = conn.execute(select(predictions.c.source_file).distinct()).scalars().all()
        stored = conn.execute(select(predictions).order_by("id")).mappings().all()
    assert files == ["batch-001.csv"]
    assert [[row[column_name(n)] for n in FEATURE_NAMES] for row in stored] == [
        [a[n] for n in FEATURE_NAMES] for a in applicants
    ]


def test_nullable_features_may_be_missing_or_null(client, applicant):
    del applicant["Income"]
    response = client.post(
        "/predict", json={"source": "webapp", "applicants": [{**applicant, "Home": None}]}
    )
    assert response.status_code == 200, response.text
    (item,) = client.get("/past-predictions").json()["items"]
    assert item["features"]["Income"] is None and item["features"]["Home"] is None


@pytest.mark.parametrize(
    ("change", "row", "field"),
    [
        ({"Age": -12}, 1, "Age"),
        ({"Age": "thirty"}, 1, "Age"),
        ({"Home": "castle"}, 1, "Home"),
        ({"Records": None}, 1, "Records"),
        ({"Colour": "blue"}, 1, "Colour"),
        ({"Amount": 1.5}, 1, "Amount"),
    ],
)
def test_a_bad_row_is_refused_naming_row_and_field_and_nothing_is_stored(
    client, engine, applicant, change, row, field
):
    batch = [applicant, {**applicant, **change}, applicant]
    response = client.post("/predict", json={"source": "webapp", "applicants": batch})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {(e["row"], e["field"]) for e in errors} == {(row, field)}
    assert f"row {row}, field {field}" in response.json()["detail"]
    assert stored_count(engine) == 0


def test_a_missing_required_feature_is_named(client, applicant):
    del applicant["Age"]
    response = client.post("/predict", json={"source": "webapp", "applicants": [applicant]})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"row": 0, "field": "Age", "message": "Field required"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source": "email", "applicants": [{}]}, "source"),
        ({"source": "webapp", "applicants": []}, "applicants"),
        ({"source": "webapp"}, "applicants"),
        ({"source": "webapp", "source_file": "x.csv", "applicants": None}, "applicants"),
        # PostgreSQL's text cannot hold NUL: refused here, not a failed COPY
        ({"source": "scheduled", "source_file": "a\u0000b.csv", "applicants": [{}]}, "source_file"),
    ],
)
def test_a_bad_envelope_is_refused(client, body, field):
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}


def test_a_body_that_is_not_json_is_refused_clearly(client):
    response = client.post(
        "/predict", content=b"Age,Home\n30,rent", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]


def test_too_many_applicants_is_413_and_nothing_is_stored(make_client, engine, applicant):
    client = make_client(max_batch_rows=10)
    response = client.post("/predict", json={"source": "webapp", "applicants": [applicant] * 11})
    assert response.status_code == 413
    assert "at most 10" in response.json()["detail"]
    assert stored_count(engine) == 0


def test_too_large_a_body_is_413_before_it_is_read(make_client, applicant):
    client = make_client(max_body_bytes=2_000)
    response = client.post("/predict", json={"source": "webapp", "applicants": [applicant] * 20})
    assert response.status_code == 413
    assert "larger than 2000 bytes" in response.json()["detail"]


def test_an_api_key_guards_writes_when_set(make_client, applicant):
    client = make_client(api_key="s3cret")
    body = {"source": "webapp", "applicants": [applicant]}
    assert client.post("/predict", json=body).status_code == 401
    assert client.post("/predict", json=body, headers={"X-API-Key": "nope"}).status_code == 401
    assert client.post("/predict", json=body, headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.get("/past-predictions").status_code == 200  # reads stay open


def make_history(client, applicant) -> None:
    """Three webapp batches of one and one scheduled batch of four."""
    for age in (20, 30, 40):
        body = {"source": "webapp", "applicants": [{**applicant, "Age": age}]}
        assert client.post("/predict", json=body).status_code == 200
    body = {"source": "scheduled", "source_file": "f.csv", "applicants": [applicant] * 4}
    assert client.post("/predict", json=body).status_code == 200


@pytest.mark.parametrize(("source", "count"), [("all", 7), ("webapp", 3), ("scheduled", 4)])
def test_past_predictions_filter_by_source(client, applicant, source, count):
    make_history(client, applicant)
    response = client.get("/past-predictions", params={"source": source})
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == count
    assert source == "all" or {i["source"] for i in items} == {source}
    stamps = [(i["predicted_at"], i["id"]) for i in items]
    assert stamps == sorted(stamps, reverse=True)
    assert items[0]["features"].keys() == set(FEATURE_NAMES)


def test_past_predictions_filter_by_time_range(client, applicant):
    make_history(client, applicant)
    now = datetime.now(UTC)
    future = {
        "start": (now + timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(hours=2)).isoformat(),
    }
    assert client.get("/past-predictions", params=future).json()["items"] == []
    window = {
        "start": (now - timedelta(minutes=5)).isoformat(),
        "end": (now + timedelta(minutes=1)).isoformat(),
    }
    assert len(client.get("/past-predictions", params=window).json()["items"]) == 7


def test_paging_walks_every_prediction_once_newest_first(client, applicant):
    make_history(client, applicant)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/past-predictions", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen, reverse=True) == seen and len(set(seen)) == 7


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"source": "email"}, "source"),
        ({"limit": 0}, "limit"),
        ({"limit": 5000}, "limit"),
        ({"start": "yesterday"}, "start"),
        ({"start": "1700000000"}, "start"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
    ],
)
def test_bad_past_prediction_queries_are_refused(client, params, field):
    response = client.get("/past-predictions", params=params)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}


def test_a_window_at_the_beginning_of_time_is_not_an_error(client):
    response = client.get("/past-predictions", params={"end": "0001-01-01T00:00:00Z"})
    assert response.status_code == 200 and response.json()["items"] == []


def test_start_after_end_is_refused(client):
    params = {"start": "2026-01-02T00:00:00", "end": "2026-01-01T00:00:00"}
    response = client.get("/past-predictions", params=params)
    assert response.status_code == 422 and "start must not be after end" in response.text


def test_application_ids_are_kept_or_made_returned_and_stored(client, engine, applicant):
    body = {
        "source": "scheduled",
        "applicants": [{"application_id": "branch7:0042", **applicant}, applicant],
    }
    response = client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    given, made = response.json()["predictions"]
    assert given["application_id"] == "branch7:0042"
    assert made["application_id"].startswith("app-") and len(made["application_id"]) == 20
    with engine.connect() as conn:
        stored = conn.execute(select(predictions.c.application_id).order_by("id")).scalars().all()
    assert stored == ["branch7:0042", made["application_id"]]
    page = client.get("/past-predictions").json()["items"]
    assert sorted(item["application_id"] for item in page) == sorted(stored)
    assert all(item["features"] == applicant for item in page)  # the id is no feature


def test_a_bad_application_id_is_named_with_its_row(client, engine, applicant):
    body = {"source": "webapp", "applicants": [applicant, {"application_id": "a b", **applicant}]}
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["row"] == 1 and error["field"] == "application_id"
    assert stored_count(engine) == 0


def test_rows_stored_before_application_ids_still_page(client, engine, applicant):
    client.post("/predict", json={"source": "webapp", "applicants": [applicant]})
    with engine.begin() as conn:  # as the migration leaves rows stored before it
        conn.execute(predictions.update().values(application_id=None))
    (item,) = client.get("/past-predictions").json()["items"]
    assert item["application_id"] is None and item["features"] == applicant


def test_reasons_are_returned_stored_and_read_back_for_both_sources(client, applicant):
    scheduled = dataset_applicants(50)
    posted = {
        source: client.post("/predict", json={"source": source, "applicants": rows}).json()
        for source, rows in (("webapp", [applicant]), ("scheduled", scheduled))
    }
    for source, body in posted.items():
        page = client.get("/past-predictions", params={"source": source, "limit": 100}).json()
        stored = {item["application_id"]: item["reasons"] for item in page["items"]}
        for prediction in body["predictions"]:
            assert prediction["reasons"] == stored[prediction["application_id"]]
            for reason in prediction["reasons"]:
                assert reason["contribution"] > 0 and reason["text"]
    bad = [p for p in posted["scheduled"]["predictions"] if p["prediction"] == "bad"]
    assert bad and all(1 <= len(p["reasons"]) <= 3 for p in bad)


def test_predictions_stored_before_reasons_still_page(client, engine, applicant):
    client.post("/predict", json={"source": "webapp", "applicants": [applicant] * 3})
    with engine.begin() as conn:  # as rows scored before reasons existed are
        conn.execute(predictions.update().values(reasons=None))
    page = client.get("/past-predictions", params={"limit": 2}).json()
    assert [item["reasons"] for item in page["items"]] == [None, None]
    rest = client.get("/past-predictions", params={"cursor": page["next_cursor"]}).json()
    assert [item["reasons"] for item in rest["items"]] == [None]
