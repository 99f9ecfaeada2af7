"""Live performance: predictions joined with the outcomes that came back.

ROC AUC is computed exactly, as the Mann-Whitney statistic: rank the labelled
predictions by score (ties get their average rank), and
AUC = (sum of the ranks of the bad - P(P+1)/2) / (P * N), which is what
scikit-learn's `roc_auc_score` returns. The Grafana panels and the alert rule
rank in SQL over hours of predictions (`JOINED`, `average_rank`, `roc_auc`);
`GET /model/performance` covers months, so it reads the per-minute rollup that
triggers keep (migration 0006) and ranks in NumPy.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
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


# Per model version and bucket: whole minutes from `performance_minutes`, the
# partial minutes at the window's edges computed from the tables themselves.
_PERFORMANCE = """WITH minutes AS (
    SELECT * FROM performance_minutes WHERE minute >= :whole_from AND minute < :whole_to
    UNION ALL
    SELECT * FROM performance_by_minute(
        ARRAY[tstzrange(:start, :whole_from), tstzrange(:tail_start, :end)])
)
SELECT model_version, date_trunc(:bucket, minute, 'UTC') AS bucket,
       sum(n_predictions)::bigint AS n_predictions, sum(n_approved)::bigint AS n_approved,
       sum(n_labelled)::bigint AS n_labelled,
       string_agg(scores, '' ORDER BY minute) AS scores,
       string_agg(bad_outcomes, '' ORDER BY minute) AS bad_outcomes,
       string_agg(bad_predictions, '' ORDER BY minute) AS bad_predictions
FROM minutes
WHERE CAST(:model_version AS text) IS NULL OR model_version = :model_version
GROUP BY 1, 2
ORDER BY 1, 2"""


def _window(start: datetime, end: datetime) -> dict[str, datetime]:
    """[start, end) as whole minutes [whole_from, whole_to) and the partial minutes
    [start, whole_from) and [tail_start, end) around them (either may be empty)."""
    whole_from = start.replace(second=0, microsecond=0)
    if whole_from < start:  # the next minute, or end if that comes first
        one = timedelta(minutes=1)
        whole_from = whole_from + one if end - whole_from > one else end
    whole_to = end.replace(second=0, microsecond=0)
    return {
        "start": start,
        "end": end,
        "whole_from": whole_from,
        "whole_to": whole_to,
        "tail_start": max(whole_to, whole_from),
    }


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
    params = {"bucket": bucket, "model_version": model_version, **_window(start, end)}
    with engine.begin() as conn:
        # Compiling would cost more than running; a month of minutes sorts in memory.
        conn.execute(text("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'"))
        rows = conn.execute(text(_PERFORMANCE), params).mappings().all()
    result: dict[str, list[dict[str, Any]]] = {"totals": [], "buckets": []}
    for version, group in itertools.groupby(rows, key=lambda row: row["model_version"]):
        group = list(group)
        labelled = [np.concatenate(parts) for parts in zip(*map(_unpack, group), strict=True)]
        bucket_of_row = np.repeat(np.arange(len(group)), [row["n_labelled"] for row in group])
        per_bucket, overall = labelled_metrics(*labelled, bucket_of_row, len(group))
        result["totals"].append(_item(version, group, overall))
        result["buckets"].extend(
            {
                "bucket": row["bucket"],
                **_item(version, [row], {m: v[i] for m, v in per_bucket.items()}),
            }
            for i, row in enumerate(group)
        )
    return result


def _unpack(row) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, outcomes (1 for bad) and decisions (1 for bad) of a bucket's labelled rows."""
    return (
        np.frombuffer(row["scores"] or b"", dtype=">f8").astype(np.float64),
        np.frombuffer(row["bad_outcomes"] or b"", dtype=np.uint8).astype(np.float64),
        np.frombuffer(row["bad_predictions"] or b"", dtype=np.uint8).astype(np.float64),
    )


def _item(version: str, rows: list, metrics: dict[str, float]) -> dict[str, Any]:
    n_predictions = sum(row["n_predictions"] for row in rows)
    n_labelled = sum(row["n_labelled"] for row in rows)
    values = {name: float(value) for name, value in metrics.items()}
    values["approval_rate"] = sum(row["n_approved"] for row in rows) / n_predictions
    values["awaiting_share"] = 1 - n_labelled / n_predictions
    return {
        "model_version": version,
        "n_predictions": n_predictions,
        "n_labelled": n_labelled,
        **{m: None if np.isnan(values[m]) else values[m] for m in METRICS},
    }


def labelled_metrics(
    score: np.ndarray, positive: np.ndarray, predicted: np.ndarray, group: np.ndarray, n: int
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """ROC AUC, precision and recall of bad, and Brier score of each of `n` groups of
    labelled predictions (NaN where undefined), and of all of them together.

    One sort by score serves both: a stable sort by group then keeps each group's
    rows in score order (small integer keys sort in one pass).
    """
    by_score = np.argsort(score)
    score_s, positive_s, group_s = score[by_score], positive[by_score], group[by_score]
    total_rank_sum = _bad_rank_sums(score_s, positive_s, np.zeros_like(group_s), 1)
    by_group = np.argsort(group_s.astype(np.min_scalar_type(n)), kind="stable")
    rank_sums = _bad_rank_sums(score_s[by_group], positive_s[by_group], group_s[by_group], n)
    columns = (
        np.ones_like(score),
        positive,
        positive * predicted,
        predicted,
        (score - positive) ** 2,
    )
    per_group = _metrics(rank_sums, *(np.bincount(group, weights=c, minlength=n) for c in columns))
    overall = _metrics(total_rank_sum, *(np.array([c.sum()]) for c in columns))
    return per_group, {name: value[0] for name, value in overall.items()}


def _bad_rank_sums(score: np.ndarray, positive: np.ndarray, group: np.ndarray, n: int):
    """Per group, the sum of the bad rows' ranks by score within their group, ties
    taking their average rank; the rows come sorted by group, then score."""
    if len(score) == 0:
        return np.zeros(n)
    first = np.ones(len(score), dtype=bool)  # of a run of equal scores in a group
    first[1:] = (group[1:] != group[:-1]) | (score[1:] != score[:-1])
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], len(score))
    group_of_run = group[starts]
    group_start = np.searchsorted(group, np.arange(n))
    # 1-based positions starts+1 .. ends within the group share their mean.
    average_rank = (starts + ends + 1) / 2.0 - group_start[group_of_run]
    bad_in_run = np.add.reduceat(positive, starts)
    return np.bincount(group_of_run, weights=average_rank * bad_in_run, minlength=n)


def _metrics(bad_rank_sum, count, n_bad, true_bad, predicted_bad, squared_error):
    """Mann-Whitney: AUC = (sum of the ranks of the bad - P(P+1)/2) / (P N)."""
    n_good = count - n_bad
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "roc_auc": np.where(
                n_bad * n_good > 0,
                (bad_rank_sum - n_bad * (n_bad + 1) / 2) / (n_bad * n_good),
                np.nan,
            ),
            "precision_bad": np.where(predicted_bad > 0, true_bad / predicted_bad, np.nan),
            "recall_bad": np.where(n_bad > 0, true_bad / n_bad, np.nan),
            "brier": squared_error / count,
        }
