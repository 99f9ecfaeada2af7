"""The monitoring panels and alert rules: each query's one home.

Grafana's dashboards and alert rules are generated from these (`creditops
grafana`), and the model service runs the same queries for the webapp's
monitoring page: the SQL on the database, expanding Grafana's `$__timeFilter`
macro itself, the PromQL on Prometheus. The PromQL reads the series recorded by
the rules in prometheus/rules/, where Prometheus' own alerts live too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.engine import Engine

from .drift import PSI_DRIFT
from .lifecycle.fairness import approval_ratio_sql
from .palette import CRITICALITY_COLOURS
from .performance import JOINED, average_rank, roc_auc
from .settings import Settings

# Live ROC AUC is alerted on over the last N labelled predictions, below a floor
# well under the held-out value (0.86): a model that ranks this badly has moved.
LIVE_AUC_WINDOW = 200
LIVE_AUC_FLOOR = 0.70
# The approval-rate panel draws the gate's default floor and judges groups as it does.
_FOUR_FIFTHS = Settings.model_fields["fairness_min_ratio"].default
_FAIR_GROUP_ROWS = Settings.model_fields["fairness_min_group_rows"].default
# The thresholds of Prometheus' alerts (prometheus/rules/creditops.yml), drawn as the
# red line of their panels; a test keeps the two equal.
P99_ALERT_SECONDS = 1
ERRORS_ALERT_5M = 5
RESTARTS_ALERT_15M = 3


@dataclass(frozen=True)
class Threshold:
    """Colour from `value` up: steps ascend; the first is green from minus infinity."""

    orange: float
    red: float
    reverse: bool = False  # True: low values are bad (red below `red`, orange below `orange`)

    def steps(self) -> list[dict]:
        if self.reverse:
            return [
                {"color": "red", "value": None},
                {"color": "orange", "value": self.red},
                {"color": "green", "value": self.orange},
            ]
        return [
            {"color": "green", "value": None},
            {"color": "orange", "value": self.orange},
            {"color": "red", "value": self.red},
        ]

    def colour(self, value: float | None) -> str:
        if value is None:
            return "grey"
        colour = "green" if not self.reverse else "red"
        for step in self.steps()[1:]:
            if value >= step["value"]:
                colour = step["color"]
        return colour


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    description: str
    kind: Literal["timeseries", "stat", "table", "bargauge"]
    query: str  # SQL, or PromQL when the source is Prometheus
    threshold: Threshold
    source: Literal["postgres", "prometheus"] = "postgres"
    unit: str = "none"
    format: Literal["time_series", "table"] = "table"
    value_column: str = "value"
    decimals: int | None = None  # 0 for counts
    # Colour by meaning, not by threshold: the values of `coloured_by` -> a colour name.
    colours: dict[str, str] | None = None
    coloured_by: str = "metric"
    series_label: str | None = None  # PromQL: the label naming each series (`metric`)
    width: int | None = None  # of Grafana's 24 columns; default 24 for tables, else 12
    in_webapp: bool = True  # shown on the webapp's Monitoring page too


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    tags: tuple[str, ...] = field(default=("creditops",))


@dataclass(frozen=True)
class AlertRule:
    uid: str
    title: str
    summary: str
    sql: str  # one row, one column `value`
    threshold: float
    dashboard_uid: str
    fires_below: bool = False  # True: fires when value < threshold; else when value > it


DATA_QUALITY = Dashboard(
    "creditops-data-quality",
    "Ingested data quality",
    "For data operations: what the ingestion job found in the files it read.",
    (
        Panel(
            "invalid_share",
            "Invalid rows, % per minute",
            "Share of the ingested rows that failed validation.",
            "timeseries",
            """SELECT date_trunc('minute', ingested_at) AS time,
       100.0 * sum(n_invalid_rows) / nullif(sum(n_rows), 0) AS value
FROM ingestion_runs
WHERE $__timeFilter(ingested_at)
GROUP BY 1
ORDER BY 1""",
            Threshold(10, 50),
            unit="percent",
            format="time_series",
        ),
        Panel(
            "problems_by_kind",
            "Problems per error kind",
            "Rows with each kind of problem in the files ingested in the period.",
            "bargauge",
            """SELECT i.error_type AS metric, sum(i.n_rows) AS value
FROM data_quality_issues i
JOIN ingestion_runs r ON r.id = i.ingestion_run_id
WHERE $__timeFilter(r.ingested_at)
GROUP BY 1
ORDER BY 2 DESC""",
            Threshold(1, 50),
            decimals=0,
        ),
        Panel(
            "files_by_criticality",
            "Files per criticality",
            "How many ingested files were clean, or low / medium / high criticality.",
            "bargauge",
            """SELECT criticality AS metric, count(*) AS value
FROM ingestion_runs
WHERE $__timeFilter(ingested_at)
GROUP BY 1
ORDER BY array_position(ARRAY['none', 'low', 'medium', 'high'], criticality)""",
            Threshold(1, 3),
            decimals=0,
            colours=CRITICALITY_COLOURS,
        ),
        Panel(
            "unreadable_files",
            "Unusable files",
            "Files that were empty, not CSV, header only or missing a column.",
            "stat",
            """SELECT count(*) AS value
FROM ingestion_runs
WHERE $__timeFilter(ingested_at) AND criticality = 'high'
  AND (file_error IS NOT NULL OR n_valid_rows = 0)""",
            Threshold(1, 3),
            decimals=0,
        ),
        Panel(
            "ingestion_runs",
            "Latest ingestion runs",
            "The files read, by whom, and what was found.",
            "table",
            """SELECT ingested_at AS time, file_name, orchestrator, n_rows, n_invalid_rows,
       criticality, 100.0 * n_invalid_rows / nullif(n_rows, 0) AS value
FROM ingestion_runs
WHERE $__timeFilter(ingested_at)
ORDER BY ingested_at DESC
LIMIT 50""",
            Threshold(10, 50),
            unit="percent",
            colours=CRITICALITY_COLOURS,
            coloured_by="criticality",
        ),
    ),
)

MODEL_HEALTH = Dashboard(
    "creditops-model-health",
    "Drift and prediction issues",
    "For ML engineers: serving data against the training baseline, and what the model predicts.",
    (
        Panel(
            "feature_drift",
            "Drift per feature (PSI, latest)",
            "Population stability index of each feature's recent serving values against "
            "the training data; 0.1 is a shift worth watching, 0.2 a significant one.",
            "bargauge",
            """SELECT DISTINCT ON (feature) feature AS metric, psi AS value
FROM drift_metrics
WHERE $__timeFilter(computed_at)
ORDER BY feature, computed_at DESC""",
            Threshold(0.1, PSI_DRIFT),
        ),
        Panel(
            "predicted_classes",
            "Predicted classes",
            "How many applicants were predicted good and bad in the period.",
            "bargauge",
            """SELECT prediction AS metric, count(*) AS value
FROM predictions
WHERE $__timeFilter(predicted_at)
GROUP BY 1
ORDER BY 1 DESC""",
            Threshold(1_000_000, 10_000_000),
        ),
        Panel(
            "share_bad",
            "Share predicted bad, %",
            "The training data has 28% bad loans; far from it, the model or the data moved.",
            "stat",
            """SELECT 100.0 * avg((prediction = 'bad')::int) AS value
FROM predictions
WHERE $__timeFilter(predicted_at)""",
            Threshold(45, 70),
            unit="percent",
        ),
        Panel(
            "mean_probability",
            "Mean probability of bad, per minute",
            "Average predicted probability that a loan ends bad.",
            "timeseries",
            """SELECT date_trunc('minute', predicted_at) AS time, avg(probability_bad) AS value
FROM predictions
WHERE $__timeFilter(predicted_at)
GROUP BY 1
ORDER BY 1""",
            Threshold(0.4, 0.6),
            format="time_series",
        ),
        Panel(
            "live_roc_auc",
            "Live ROC AUC per 10 minutes, by model version",
            "How well the predictions made in each 10 minutes ranked the loans whose outcome "
            f"came back. Red below {LIVE_AUC_FLOOR}; the held-out value is about 0.86.",
            "timeseries",
            f"""SELECT time, model_version AS metric, {roc_auc("auc_rank")} AS value
FROM (
    SELECT *, {average_rank("model_version, time")} AS auc_rank
    FROM (
        SELECT date_bin('10 minutes', predicted_at, TIMESTAMPTZ '2000-01-01') AS time,
               model_version, score, positive
        FROM ({JOINED}
              WHERE $__timeFilter(p.predicted_at)) AS joined
    ) AS bucketed
) AS ranked
GROUP BY 1, 2
ORDER BY 1""",
            Threshold(0.75, LIVE_AUC_FLOOR, reverse=True),
            format="time_series",
            decimals=2,
        ),
        Panel(
            "awaiting_outcome",
            "Predictions still waiting for an outcome, %",
            "Share of the period's predictions whose loan outcome has not come back yet; "
            "live performance rests on the others.",
            "stat",
            f"""SELECT 100.0 * avg((positive IS NULL)::int) AS value
FROM ({JOINED}
      WHERE $__timeFilter(p.predicted_at)) AS joined""",
            Threshold(90, 99),
            unit="percent",
            decimals=0,
        ),
        Panel(
            "approval_ratio_by_group",
            "Approval-rate ratio by group, per hour",
            "Each age band's and marital status's approval rate divided by the most approved "
            f"group's (groups of at least {_FAIR_GROUP_ROWS} predictions in the hour). Red "
            f"below {_FOUR_FIFTHS}, the four-fifths rule the promotion gate holds "
            "challengers to.",
            "timeseries",
            approval_ratio_sql("1 hour", _FAIR_GROUP_ROWS),
            Threshold(0.9, _FOUR_FIFTHS, reverse=True),
            format="time_series",
            decimals=2,
        ),
        Panel(
            "volume_by_source",
            "Predictions per minute by source",
            "Scheduled predictions should arrive every two minutes.",
            "timeseries",
            """SELECT date_trunc('minute', predicted_at) AS time, source AS metric,
       count(*) AS value
FROM predictions
WHERE $__timeFilter(predicted_at)
GROUP BY 1, 2
ORDER BY 1""",
            Threshold(1_000_000, 10_000_000),
            format="time_series",
        ),
    ),
)


def _service_stat(key: str, title: str, description: str, query: str, **options) -> Panel:
    return Panel(key, title, description, "stat", query, source="prometheus", width=6, **options)


def _service_series(key: str, title: str, description: str, query: str, **options) -> Panel:
    return Panel(
        key,
        title,
        description,
        "timeseries",
        query,
        source="prometheus",
        in_webapp=False,
        **options,
    )


SERVICE_HEALTH = Dashboard(
    "creditops-service-health",
    "Service health",
    "For operators: the model service's traffic, latency and errors, and the services' "
    "restarts, from Prometheus.",
    (
        _service_stat(
            "requests_per_minute",
            "Requests per minute",
            "Requests the model service answered in the last minute (scrapes left out).",
            "sum(route:creditops_http_requests:rate1m) * 60",
            threshold=Threshold(60_000, 120_000),
            decimals=0,
        ),
        _service_stat(
            "p99_latency",
            "p99 latency",
            "99% of the last minute's requests were answered faster than this, all routes.",
            "creditops_http_request_duration_seconds:p99_1m * 1000",
            threshold=Threshold(250, P99_ALERT_SECONDS * 1000),
            unit="ms",
            decimals=0,
        ),
        _service_stat(
            "server_errors",
            "Server errors, last 5 min",
            "Requests answered with a 5xx status in the last 5 minutes.",
            'sum(increase(creditops_http_requests_total{status=~"5.."}[5m])) or vector(0)',
            threshold=Threshold(1, ERRORS_ALERT_5M),
            decimals=0,
        ),
        _service_stat(
            "restarts",
            "Restarts, last 15 min",
            "Services of `creditops run` restarted by the supervisor in the last 15 minutes.",
            "sum(service:creditops_service_restarts:increase15m) or vector(0)",
            threshold=Threshold(1, RESTARTS_ALERT_15M),
            decimals=0,
        ),
        _service_series(
            "requests_by_route",
            "Requests per second by route",
            "Requests answered per second, by route template.",
            "route:creditops_http_requests:rate1m",
            threshold=Threshold(1_000, 2_000),
            unit="reqps",
            series_label="route",
        ),
        _service_series(
            "p50_by_route",
            "p50 latency by route",
            "Half of the requests of each route were answered faster than this.",
            "route:creditops_http_request_duration_seconds:p50_1m * 1000",
            threshold=Threshold(100, 500),
            unit="ms",
            series_label="route",
        ),
        _service_series(
            "p99_by_route",
            "p99 latency by route",
            "99% of the requests of each route were answered faster than this; the alert "
            f"fires above {P99_ALERT_SECONDS} s for 5 minutes.",
            "route:creditops_http_request_duration_seconds:p99_1m * 1000",
            threshold=Threshold(250, P99_ALERT_SECONDS * 1000),
            unit="ms",
            series_label="route",
        ),
        _service_series(
            "server_error_share",
            "Server errors, % of requests",
            "Share of the requests answered with a 5xx status.",
            "100 * creditops_http_requests_5xx:ratio_rate1m",
            threshold=Threshold(1, 5),
            unit="percent",
        ),
        _service_series(
            "predictions_by_source",
            "Predictions per second by source",
            "Applicants scored per second: the webapp, the scheduled job, other callers.",
            "source:creditops_predictions:rate1m",
            threshold=Threshold(5_000, 20_000),
            series_label="source",
        ),
        _service_series(
            "services_up",
            "Services up",
            "1 while a service runs: the supervisor's view of `creditops run`, and whether "
            "Prometheus reaches the model service.",
            'creditops_service_up or label_replace(up{job="model-service"}, "service", '
            '"model service (scraped)", "", "")',
            threshold=Threshold(1, 0.5, reverse=True),
            series_label="service",
            decimals=0,
        ),
    ),
)

DASHBOARDS = (DATA_QUALITY, MODEL_HEALTH, SERVICE_HEALTH)
PANELS: dict[str, Panel] = {p.key: p for d in DASHBOARDS for p in d.panels}
SQL_PANELS: dict[str, Panel] = {k: p for k, p in PANELS.items() if p.source == "postgres"}

ALERT_RULES = (
    AlertRule(
        "creditops-all-rows-invalid",
        "All ingested rows invalid",
        "Every row ingested in the last 10 minutes failed validation.",
        """SELECT CASE WHEN sum(n_rows) > 0
            THEN 100.0 * sum(n_invalid_rows) / sum(n_rows) ELSE 0 END AS value
FROM ingestion_runs
WHERE ingested_at > now() - interval '10 minutes'""",
        99.9,
        DATA_QUALITY.uid,
    ),
    AlertRule(
        "creditops-live-roc-auc",
        f"Live ROC AUC below {LIVE_AUC_FLOOR}",
        f"The last {LIVE_AUC_WINDOW} predictions whose outcome came back were ranked with a "
        f"ROC AUC below {LIVE_AUC_FLOOR}: the served model no longer separates good from bad.",
        f"""SELECT CASE WHEN count(*) = {LIVE_AUC_WINDOW} THEN {roc_auc("auc_rank")} END AS value
FROM (
    SELECT score, positive, {average_rank("")} AS auc_rank
    FROM ({JOINED}
          WHERE o.status IS NOT NULL
          ORDER BY p.predicted_at DESC
          LIMIT {LIVE_AUC_WINDOW}) AS recent
) AS ranked""",
        LIVE_AUC_FLOOR,
        MODEL_HEALTH.uid,
        fires_below=True,
    ),
    AlertRule(
        "creditops-feature-drift",
        "A feature drifted",
        "At least one feature drifted from the training data in the last 15 minutes.",
        """SELECT count(DISTINCT feature) AS value
FROM drift_metrics
WHERE drifted AND computed_at > now() - interval '15 minutes'""",
        0,
        MODEL_HEALTH.uid,
    ),
    AlertRule(
        "creditops-one-class-only",
        "The model predicts one class only",
        "Of at least 50 predictions in the last 30 minutes, 99% or more are one class.",
        """SELECT CASE WHEN sum(n) >= 50 THEN 100.0 * max(n) / sum(n) ELSE 0 END AS value
FROM (SELECT prediction, count(*) AS n
      FROM predictions
      WHERE predicted_at > now() - interval '30 minutes'
      GROUP BY prediction) AS classes""",
        99,
        MODEL_HEALTH.uid,
    ),
)

_TIME_FILTER = re.compile(r"\$__timeFilter\(([^)]+)\)")


def expand_macros(sql: str) -> tuple[str, list[str]]:
    """Grafana's `$__timeFilter(col)` as `col BETWEEN :start AND :end`; the parameters used."""
    expanded = _TIME_FILTER.sub(r"\1 BETWEEN :start AND :end", sql)
    return expanded, ["start", "end"] if expanded != sql else []


def run_panel(engine: Engine, panel: Panel, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The SQL panel's rows for [start, end], as Grafana would get them."""
    sql, _ = expand_macros(panel.query)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), {"start": start, "end": end}).mappings()]
