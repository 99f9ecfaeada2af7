"""The webapp's pages with Streamlit's AppTest, against a real model service and database."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from creditops.db import predictions
from creditops.lifecycle.fairness import fairness_report, scored_frame
from creditops.settings import PROJECT_ROOT, get_settings

from ..conftest import DATASET

VIEWS = PROJECT_ROOT / "webapp" / "views"


@pytest.fixture
def service_at(monkeypatch):
    def point_at(url: str) -> None:
        monkeypatch.setenv("CREDITOPS_API_URL", url)
        get_settings.cache_clear()

    yield point_at
    get_settings.cache_clear()


def page(name: str) -> AppTest:
    app = AppTest.from_file(str(VIEWS / name), default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    return app


def submit_form() -> AppTest:
    """The predict page with its form submitted as it opens (the example applicant)."""
    app = page("predict.py")
    app.button[0].click()
    app.run()
    return app


def webapp_predictions(engine) -> int:
    query = select(func.count()).where(predictions.c.source == "webapp")
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def upload(app: AppTest, name: str, content: bytes) -> AppTest:
    app.file_uploader[0].set_value((name, content, "text/csv"))
    app.run()
    next(b for b in app.button if b.label == "Predict the file").click()
    app.run()
    assert not app.exception, app.exception
    return app


def test_the_form_has_a_widget_per_feature_and_predicts(service_at, model_service, engine):
    service_at(model_service)
    app = page("predict.py")
    assert len(app.number_input) + len(app.selectbox) == 13
    app.number_input(key="form-Age").set_value(45)
    app.selectbox(key="form-Records").set_value("yes")
    app.button[0].click()
    app.run()
    assert not app.exception
    assert "1 prediction(s) made" in app.success[0].value
    table = app.dataframe[0].value
    assert table.loc[0, "Age"] == 45 and table.loc[0, "Records"] == "yes"
    assert webapp_predictions(engine) == 1
    # Past-due records push towards bad: named in words, and in the table's reasons.
    said = [m.value for m in app.markdown]
    assert any(line.startswith("- Records is yes, as for ") for line in said)
    assert "Records is yes" in table.loc[0, "reasons"]


def test_a_good_csv_is_scored_whole(service_at, model_service, engine, tmp_path):
    service_at(model_service)
    content = pd.read_csv(DATASET).drop(columns="Status").head(1500).to_csv(index=False)
    app = upload(page("predict.py"), "batch.csv", content.encode())
    assert "1500 prediction(s) made" in app.success[0].value
    assert len(app.dataframe[0].value) == 1500
    assert webapp_predictions(engine) == 1500


def bad_csv(kind: str) -> bytes:
    frame = pd.read_csv(DATASET).drop(columns="Status").head(20)
    if kind == "missing column":
        return frame.drop(columns="Age").to_csv(index=False).encode()
    if kind == "wrong type":
        frame["Age"] = frame["Age"].astype(object)
        frame.loc[3, "Age"] = "thirty"
    if kind == "unknown category":
        frame.loc[5, "Home"] = "castle"
    if kind == "empty":
        return b""
    if kind == "not a csv":
        return b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe"
    if kind == "too big":
        return pd.concat([frame] * 5001).to_csv(index=False).encode()
    return frame.to_csv(index=False).encode()


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing column", "missing column(s): Age"),
        ("wrong type", "line 5, column Age: 'thirty'"),
        ("unknown category", "line 7, column Home: 'castle'"),
        ("empty", "the file is empty"),
        ("not a csv", "not a readable CSV file"),
        ("too big", "100020 rows; at most 100000 per upload"),
    ],
)
def test_a_bad_csv_says_what_is_wrong_and_where(service_at, model_service, engine, kind, message):
    service_at(model_service)
    app = upload(page("predict.py"), f"{kind}.csv", bad_csv(kind))
    assert message in app.error[0].value
    assert webapp_predictions(engine) == 0


def test_the_service_down_is_a_clear_message_not_a_traceback(service_at):
    service_at("http://127.0.0.1:1")
    app = submit_form()
    assert not app.exception
    assert "is not reachable" in app.error[0].value


def test_past_predictions_filter_by_source(service_at, model_service, engine):
    service_at(model_service)
    submit_form()
    past = page("past_predictions.py")
    assert len(past.dataframe[0].value) == 1 and past.metric[0].value == "1"
    past.selectbox[0].set_value("scheduled predictions")
    past.run()
    assert "No predictions from scheduled predictions" in past.info[0].value
    past.selectbox[0].set_value("webapp")
    past.run()
    assert past.dataframe[0].value["source"].tolist() == ["webapp"]


def test_past_predictions_with_the_service_down(service_at):
    service_at("http://127.0.0.1:1")
    assert "is not reachable" in page("past_predictions.py").error[0].value


def test_the_model_page_shows_the_served_version_and_its_fairness(
    service_at, model_service, recorded_model, registry, frozen_sets
):
    _, holdout = frozen_sets
    report = fairness_report(scored_frame(recorded_model, holdout), 100)
    registry.log_fairness(recorded_model.version, report)
    service_at(model_service)
    app = page("model.py")
    assert recorded_model.version in app.subheader[0].value
    assert float(app.metric[0].value) >= 0.8
    infos = [i.value for i in app.info]
    assert infos[0].startswith("No challenger judged yet")
    assert "No outcome has come back yet" in infos[1]  # live fairness
    assert "waiting for their outcome" in infos[2] or "No prediction" in infos[2]
    worst = next(m for m in app.metric if m.label == "Worst approval-rate ratio")
    assert worst.value == f"{report['worst_ratio']:.2f}"
    groups = next(d.value for d in app.dataframe if "ratio" in d.value.columns)
    assert set(groups["group"]) >= {"18-24", "55+", "married", "single"}


def test_the_retrain_button_asks_once_and_a_verdict_shows_side_by_side(
    service_at, model_service, engine, settings, recorded_model
):
    from creditops.lifecycle import retraining

    service_at(model_service)
    app = page("model.py")
    app.button[0].click().run()
    assert app.success[0].value.startswith("Retraining 1 requested")
    app.button[0].click().run()
    assert "is requested: one at a time" in app.warning[0].value
    retraining.claim_retraining(engine, "cli")
    for step in (retraining.build_training_set_step, retraining.train_challenger_step):
        step(settings, 1)
    retraining.evaluate_challenger_step(settings, 1)
    app = page("model.py")
    side_by_side = app.dataframe[1].value
    champion = f"champion (version {recorded_model.version})"
    assert champion in side_by_side.columns and any(
        c.startswith("challenger (version") for c in side_by_side.columns
    )
    assert app.error[0].value.startswith("challenger_beats_champion: ROC AUC on the holdout set")
    versions = app.dataframe[2].value
    assert versions.iloc[0]["gate"] == "rejected" and versions.iloc[0]["why trained"] == "manual"


def test_live_performance_appears_as_outcomes_come_back(service_at, model_service, engine):
    import httpx

    service_at(model_service)
    labelled = pd.read_csv(DATASET).head(200)
    applicants = labelled.drop(columns="Status").astype(object)
    applicants = applicants.where(applicants.notna(), None).to_dict("records")
    for n, applicant in enumerate(applicants):
        applicant["application_id"] = f"w{n}"
        for name in ("Seniority", "Time", "Age", "Expenses", "Price", "Amount"):
            applicant[name] = int(applicant[name])
    body = {"source": "scheduled", "applicants": applicants[:150] + applicants[150:]}
    httpx.post(f"{model_service}/predict", json=body).raise_for_status()
    outcomes = [
        {"application_id": f"w{n}", "status": s, "decided_at": "2026-11-20T00:00:00Z"}
        for n, s in enumerate(labelled["Status"].head(150))
    ]
    httpx.post(f"{model_service}/outcomes", json={"outcomes": outcomes}).raise_for_status()
    app = page("model.py")
    live = {m.label: m.value for m in app.metric[5:]}
    assert live["Labelled"] == "150" and live["Waiting for outcome"] == "25%"
    assert 0.8 < float(live["ROC AUC"]) <= 1


def test_the_monitoring_page_draws_every_panel(service_at, model_service, engine):
    service_at(model_service)
    submit_form()
    monitoring = page("monitoring.py")
    assert [h.value for h in monitoring.header] == [
        "Ingested data quality",
        "Drift and prediction issues",
        "Service health",
    ]
    assert not monitoring.error
    # No Prometheus in this test: each service figure says so, the rest is drawn.
    assert len(monitoring.warning) == 4
    assert all("Prometheus at http://127.0.0.1:" in w.value for w in monitoring.warning)
