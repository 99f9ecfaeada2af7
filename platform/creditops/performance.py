"""Live performance: predictions joined with the outcomes that came back, in SQL.

ROC AUC is computed exactly in the database, as the Mann-Whitney statistic:
rank the labelled predictions by score (ties get their average rank), and
AUC = (sum of the ranks of the bad - P(P+1)/2) / (P * N), which is what
scikit-learn's `roc_auc_score` returns. The SQL pieces below are shared by
`GET /model/performance`, the Grafana panels and the alert rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.engine import Engine

Bucket = Literal["minute", "hour", "day", "week"]

# Each prediction with its outcome: `positive` is 1 for bad, 0 for good, NULL while waiting.
JOINED = """SELECT p.predicted_at, p.model_version, p.prediction, p.probability_bad AS score,
       (o.status = 'bad')::int AS positive
FROM predictions p
LEFT JOIN outcomes o ON o.application_id = p.application_id"""


def average_rank(partition: str) -> str:
    """The score's rank among the labelled rows of `partition`, ties averaged."""
    within = f"{partition}, positive IS NULL" if partition else "positive IS NULL"
    return (
        f"rank() OVER (PARTITION BY {within} ORDER BY score)"
        f" + (count(*) OVER (PARTITION BY {within}, score) - 1) / 2.0"
    )


def roc_auc(rank: str) -> str:
    """The aggregate that turns average ranks into ROC AUC (NULL with one class only)."""
    return (
        f"(sum({rank} * positive) - sum(positive) * (sum(positive) + 1) / 2.0)"
        " / nullif(sum(positive) * (count(positive) - sum(positive)), 0)"
    )


_PERFORMANCE = f"""WITH joined AS (
    SELECT date_trunc(:bucket, predicted_at, 'UTC') AS bucket, model_version, prediction, score,
           positive
    FROM ({JOINED}
          WHERE p.predicted_at >= :start AND p.predicted_at < :end
            AND (CAST(:model_version AS text) IS NULL OR p.model_version = :model_version)
    ) AS rows
), ranked AS (
    SELECT *, {average_rank("model_version, bucket")} AS bucket_rank,
              {average_rank("model_version")} AS version_rank
    FROM joined
)
SELECT model_version, bucket,
       count(*) AS n_predictions,
       count(positive) AS n_labelled,
       CASE WHEN GROUPING(bucket) = 1 THEN {roc_auc("version_rank")}
            ELSE {roc_auc("bucket_rank")} END AS roc_auc,
       sum(positive * (prediction = 'bad')::int)::float
           / nullif(sum((prediction = 'bad' AND positive IS NOT NULL)::int), 0) AS precision_bad,
       sum(positive * (prediction = 'bad')::int)::float / nullif(sum(positive), 0) AS recall_bad,
       avg(power(score - positive, 2)) AS brier,
       avg((prediction = 'good')::int)::float AS approval_rate,
       1 - count(positive)::float / count(*) AS awaiting_share
FROM ranked
GROUP BY GROUPING SETS ((model_version, bucket), (model_version))
ORDER BY model_version, bucket NULLS FIRST"""

METRICS = ("roc_auc", "precision_bad", "recall_bad", "brier", "approval_rate", "awaiting_share")


def live_performance(
    engine: Engine,
    start: datetime,
    end: datetime,
    bucket: Bucket = "day",
    model_version: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Per model version over [start, end) (`totals`) and per bucket of prediction time
    (`buckets`): labelled count, ROC AUC, precision and recall of bad, Brier score,
    approval rate, and the share of predictions still waiting for their outcome."""
    params = {"bucket": bucket, "start": start, "end": end, "model_version": model_version}
    with engine.begin() as conn:
        # Compiling this query costs more than running it; the window sorts want memory.
        conn.execute(text("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'"))
        rows = conn.execute(text(_PERFORMANCE), params).mappings().all()
    result: dict[str, list[dict[str, Any]]] = {"totals": [], "buckets": []}
    for row in rows:
        item = {
            "model_version": row["model_version"],
            "n_predictions": row["n_predictions"],
            "n_labelled": row["n_labelled"],
            **{m: None if row[m] is None else float(row[m]) for m in METRICS},
        }
        if row["bucket"] is None:
            result["totals"].append(item)
        else:
            result["buckets"].append({"bucket": row["bucket"], **item})
    return result
