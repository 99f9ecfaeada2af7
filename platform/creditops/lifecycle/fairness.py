"""Fairness: how a model version's decisions differ between groups of applicants.

Two attributes of the model's own features are checked: age, in bands, and marital
status. Per group, fairlearn's MetricFrame gives the approval rate (share predicted
good), ROC AUC, the false positive rate (good loans refused) and the false negative
rate (bad loans approved); each group's approval rate is divided by the most approved
group's. The four-fifths rule asks every such ratio to be at least 0.8.

A group smaller than `min_group_rows` is shown but neither judged nor taken as the
reference: with 50 rows an approval rate of 80% is uncertain by +-6 points, enough
to fail a fair model or pass an unfair one.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from ..features import POSITIVE_CLASS, TARGET
from ..model import ModelArtifact

# (lowest age, label); the last band is open-ended.
AGE_BANDS = ((18, "18-24"), (25, "25-34"), (35, "35-44"), (45, "45-54"), (55, "55+"))
ATTRIBUTES = {"age_band": "Age band", "marital": "Marital status"}
UNKNOWN = "unknown"


def age_band_sql(column: str) -> str:
    """The same bands as a SQL CASE, for the dashboards."""
    cases = " ".join(f"WHEN {column} >= {low} THEN '{label}'" for low, label in reversed(AGE_BANDS))
    return f"CASE {cases} ELSE '{UNKNOWN}' END"


def approval_ratio_sql(bucket: str, min_group_rows: int) -> str:
    """Per time bucket and group of both attributes, the approval-rate ratio to the most
    approved group of the same attribute (groups of at least `min_group_rows`), for
    Grafana: columns time, metric, value."""
    groupings = {"age": age_band_sql("age"), "marital": f"coalesce(marital, '{UNKNOWN}')"}
    per_group = "\n    UNION ALL\n".join(
        f"""    SELECT date_bin('{bucket}', predicted_at, TIMESTAMPTZ '2000-01-01') AS time,
           '{name}' AS attribute, '{name} ' || {expression} AS metric,
           avg((prediction = 'good')::int) AS approval, count(*) AS n
    FROM predictions
    WHERE $__timeFilter(predicted_at)
    GROUP BY 1, 2, 3"""
        for name, expression in groupings.items()
    )
    return f"""SELECT time, metric,
       approval / nullif(max(approval) OVER (PARTITION BY time, attribute), 0) AS value
FROM (
{per_group}
) AS per_group
WHERE n >= {min_group_rows}
ORDER BY 1, 2"""


def sensitive_groups(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Each attribute's group per applicant (the frame has the features `Age` and `Marital`)."""
    lows = [low for low, _ in AGE_BANDS]
    labels = [label for _, label in AGE_BANDS]
    bands = pd.cut(frame["Age"], [*lows, math.inf], right=False, labels=labels)
    return {
        "age_band": bands.astype(object).where(bands.notna(), UNKNOWN),
        "marital": frame["Marital"].astype(object).where(frame["Marital"].notna(), UNKNOWN),
    }


def _approval_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(~np.asarray(y_pred, dtype=bool)))


def _roc_auc(y_true: np.ndarray, y_pred: np.ndarray, probability_bad: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y_true)) < 2:
        return math.nan  # one class only: ranking is undefined
    return float(roc_auc_score(y_true, probability_bad))


def _plain(value: Any) -> Any:
    """NaN -> None, NumPy numbers -> Python's: the report is JSON."""
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and math.isnan(value) else value


def fairness_report(frame: pd.DataFrame, min_group_rows: int) -> dict[str, Any]:
    """Per attribute and group: the metrics and the approval-rate ratio; the worst ratio.

    `frame`: the features Age and Marital, the outcome (`Status`), and the model's
    `prediction` and `probability_bad`.
    """
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_negative_rate,
        false_positive_rate,
    )

    actual_bad = (frame[TARGET] == POSITIVE_CLASS).to_numpy()
    predicted_bad = (frame["prediction"] == POSITIVE_CLASS).to_numpy()
    metrics = {
        "rows": count,
        "approval_rate": _approval_rate,
        "roc_auc": _roc_auc,
        "false_positive_rate": partial(false_positive_rate, pos_label=True),
        "false_negative_rate": partial(false_negative_rate, pos_label=True),
    }
    attributes: dict[str, Any] = {}
    for attribute, groups in sensitive_groups(frame).items():
        by_group = MetricFrame(
            metrics=metrics,
            y_true=actual_bad,
            y_pred=predicted_bad,
            sensitive_features=groups.to_numpy(),
            sample_params={"roc_auc": {"probability_bad": frame["probability_bad"].to_numpy()}},
        ).by_group
        judged = by_group[by_group["rows"] >= min_group_rows]
        reference = judged["approval_rate"].idxmax() if len(judged) else None
        if reference is not None:
            best = judged["approval_rate"].max()
            by_group["approval_ratio"] = by_group["approval_rate"] / best if best else math.nan
        else:
            by_group["approval_ratio"] = math.nan
        worst = judged["approval_rate"].idxmin() if len(judged) else None
        attributes[attribute] = {
            "title": ATTRIBUTES[attribute],
            "reference_group": reference,
            "worst_group": worst,
            "worst_ratio": _plain(by_group.loc[worst, "approval_ratio"]) if worst else None,
            "groups": [
                {
                    "group": str(group),
                    "judged": bool(row["rows"] >= min_group_rows),
                    **{name: _plain(value) for name, value in row.items()},
                    "rows": int(row["rows"]),
                }
                for group, row in by_group.iterrows()
            ],
        }
    ratios = [a["worst_ratio"] for a in attributes.values() if a["worst_ratio"] is not None]
    return {
        "rows": len(frame),
        "min_group_rows": min_group_rows,
        "worst_ratio": min(ratios) if ratios else None,
        "attributes": attributes,
    }


def describe_worst(report: dict[str, Any]) -> str:
    """'0.74 (Age band 35-44 against 55+)', or why there is no ratio."""
    if report["worst_ratio"] is None:
        return f"no group has {report['min_group_rows']} rows"
    attribute = min(
        (a for a in report["attributes"].values() if a["worst_ratio"] is not None),
        key=lambda a: a["worst_ratio"],
    )
    return (
        f"{attribute['worst_ratio']:.2f} ({attribute['title']} {attribute['worst_group']} "
        f"against {attribute['reference_group']})"
    )


def scored_frame(artifact: ModelArtifact, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (features and outcome) with the version's prediction and probability."""
    predicted, probability_bad = artifact.score(frame)
    return frame.assign(prediction=predicted, probability_bad=probability_bad)


_LIVE = """SELECT p.age AS "Age", p.marital AS "Marital", o.status AS "{target}",
       p.prediction, p.probability_bad
FROM predictions p
JOIN outcomes o ON o.application_id = p.application_id
WHERE p.model_version = :version AND p.predicted_at >= :start AND p.predicted_at < :end"""


def live_fairness(
    engine: Engine, version: str, start: datetime, end: datetime, min_group_rows: int
) -> dict[str, Any] | None:
    """The report on the version's predictions in [start, end) whose outcome came back;
    None while none has."""
    with engine.connect() as conn:
        frame = pd.read_sql_query(
            text(_LIVE.format(target=TARGET)),
            conn,
            params={"version": version, "start": start, "end": end},
        )
    return fairness_report(frame, min_group_rows) if len(frame) else None
