"""Model: the served version, champion and challenger side by side with the gate's verdict,
every registered version, the served version's fairness, and how each fares as outcomes
come back (live performance)."""

from datetime import UTC, datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from creditops.palette import HEX
from webapp.client import ModelService, ServiceProblem

st.title("Model")
service = ModelService()
try:
    served, history, retrainings = service.model(), service.models(), service.retrainings()
except ServiceProblem as problem:
    st.error(str(problem))
    st.stop()

metrics = served["metrics"]
top, button = st.columns([4, 1])
top.subheader(f"Serving version {served['version']} (champion)")
if button.button(
    "Retrain now",
    help="A challenger is trained, judged against the champion, and promoted only if it is better.",
):
    try:
        asked = service.retrain()
        st.success(
            f"Retraining {asked['id']} requested: an orchestrator picks it up within a minute."
        )
        retrainings = service.retrainings()
    except ServiceProblem as problem:
        st.warning(str(problem))
trained_at = served["trained_at"][:19].replace("T", " ")
st.caption(
    f"{served['algorithm']}, trained {trained_at} on {served['n_train']:,} "
    f"applications, evaluated on {served['n_test']:,} held out; threshold "
    f"{served['threshold']}"
)
columns = st.columns(5)
for column, (name, key) in zip(
    columns,
    [
        ("ROC AUC", "roc_auc"),
        ("Average precision", "average_precision"),
        ("Accuracy", "accuracy"),
        ("Precision (bad)", "precision_bad"),
        ("Recall (bad)", "recall_bad"),
    ],
    strict=True,
):
    column.metric(name, f"{metrics[key]:.3f}")

matrix = metrics["confusion_matrix"]
labels = matrix["labels"]
st.write("Confusion matrix on the held-out applications")
st.dataframe(
    pd.DataFrame(
        matrix["matrix"],
        index=[f"true {x}" for x in labels],
        columns=[f"predicted {x}" for x in labels],
    )
)

st.subheader("Champion and challenger")
judged = next((r for r in retrainings if r["evaluation"]), None)
if judged is None:
    st.info(
        "No challenger judged yet: the first one is trained when a trigger fires "
        "(drift, new outcomes, the schedule) or when someone asks (the button above)."
    )
else:
    verdict = judged["evaluation"]
    st.caption(
        f"Retraining {judged['id']} ({judged['reason']}: {judged['detail']}), "
        f"{judged['status']}; judged on the {verdict['judged_on']} set."
    )
    roles = {"champion": verdict["champion"], "challenger": verdict["challenger"]}
    side_by_side = pd.DataFrame(
        [
            {
                "set": f"{name} ({int(scores['challenger']['rows']):,} rows)",
                "metric": label,
                **{
                    f"{role} (version {version})": f"{scores[role][metric]:.4f}"
                    for role, version in roles.items()
                    if role in scores
                },
                "difference": f"{scores['challenger'][metric] - scores['champion'][metric]:+.4f}"
                if "champion" in scores
                else None,
            }
            for name, scores in verdict["scores"].items()
            for label, metric in (("ROC AUC", "roc_auc"), ("Brier score", "brier"))
        ]
    )
    st.dataframe(side_by_side, hide_index=True)
    for check in verdict["checks"]:
        (st.success if check["passed"] else st.error)(f"{check['name']}: {check['detail']}")

st.subheader("Versions")
st.dataframe(
    pd.DataFrame(
        [
            {
                "version": m["version"],
                "registered": m["created_at"][:19].replace("T", " "),
                "alias": ", ".join(m["aliases"]),
                "why trained": m["reason"],
                "gate": m["gate"],
                "training rows": m["training_rows"],
                "from outcomes": m["outcome_rows"],
                "ROC AUC (held out)": m["metrics"].get("roc_auc"),
                "why rejected": m["gate_reasons"] if m["gate"] == "rejected" else "",
            }
            for m in history
        ]
    ),
    hide_index=True,
    column_config={"ROC AUC (held out)": st.column_config.NumberColumn(format="%.3f")},
)
if retrainings:
    with st.expander(f"Retrainings ({len(retrainings)})"):
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "id": r["id"],
                        "requested": r["requested_at"][:19].replace("T", " "),
                        "reason": r["reason"],
                        "detail": r["detail"],
                        "by": r["orchestrator"],
                        "status": r["status"],
                        "challenger": r["challenger_version"],
                        "champion then": r["champion_version"],
                        "error": r["error"],
                    }
                    for r in retrainings
                ]
            ),
            hide_index=True,
        )

st.subheader("Fairness")
FAIRNESS_WINDOW = timedelta(days=30)
try:
    fairness = service.fairness(datetime.now(UTC) - FAIRNESS_WINDOW, datetime.now(UTC))
except ServiceProblem as problem:
    st.error(str(problem))
    fairness = None


def percent(share: float | None) -> float | None:
    return None if share is None else 100 * share


def fairness_table(report: dict, min_ratio: float) -> None:
    """One row per group; a judged ratio below the floor in red."""
    rows = [
        {
            "attribute": attribute["title"],
            "group": g["group"],
            "rows": g["rows"],
            "approved": percent(g["approval_rate"]),
            "ratio": g["approval_ratio"],
            "judged": "yes" if g["judged"] else "too few rows",
            "ROC AUC": g["roc_auc"],
            "FPR": percent(g["false_positive_rate"]),
            "FNR": percent(g["false_negative_rate"]),
        }
        for attribute in report["attributes"].values()
        for g in attribute["groups"]
    ]

    def colour(row: pd.Series) -> list[str]:
        ratio = row["ratio"]
        if row["judged"] != "yes" or pd.isna(ratio):
            tone = HEX["grey"]
        else:
            tone = HEX["red"] if ratio < min_ratio else HEX["green"]
        return [f"color: {tone}; font-weight: 600" if c == "ratio" else "" for c in row.index]

    def percentage(help: str):
        return st.column_config.NumberColumn(format="%.1f%%", help=help)

    st.dataframe(
        pd.DataFrame(rows).style.apply(colour, axis=1),
        hide_index=True,
        column_config={
            "approved": percentage("Share of the group predicted good"),
            "ratio": st.column_config.NumberColumn(
                format="%.2f", help="Approval rate / the most approved judged group's"
            ),
            "ROC AUC": st.column_config.NumberColumn(format="%.3f"),
            "FPR": percentage("False positive rate: good loans predicted bad (refused)"),
            "FNR": percentage("False negative rate: bad loans predicted good (approved)"),
        },
    )


if fairness is not None:
    floor = fairness["min_ratio"]
    st.caption(
        f"Version {fairness['model_version']}'s decisions by age band and marital status. "
        "Each group's approval rate is divided by the most approved group's; the promotion "
        f"gate rejects a challenger whose worst ratio is below {floor:.2f} (the four-fifths "
        "rule) or much worse than the champion's. Groups too small to judge are shown in grey."
    )
    held_out_tab, live_tab = st.tabs(
        ["Held-out set (as the gate judged it)", "Live outcomes, 30 days"]
    )
    for tab, report, empty in (
        (held_out_tab, fairness["held_out"], "This version was judged before fairness reports."),
        (
            live_tab,
            fairness["live"],
            "No outcome has come back yet for this version's predictions.",
        ),
    ):
        with tab:
            if report is None:
                st.info(empty)
                continue
            worst = report["worst_ratio"]
            left, right = st.columns([1, 3])
            left.metric(
                "Worst approval-rate ratio",
                "-" if worst is None else f"{worst:.2f}",
                None if worst is None else f"{worst - floor:+.2f} vs {floor:.2f}",
            )
            right.caption(
                f"On {report['rows']:,} applications with an outcome; a group needs "
                f"{report['min_group_rows']} rows to be judged."
            )
            fairness_table(report, floor)

st.subheader("Live performance")
st.caption(
    "Predictions joined with the outcomes that came back later (by application id), "
    "by the time the prediction was made. The dashed line is the version's held-out value."
)
WINDOWS = {
    "Last hour, by minute": (timedelta(hours=1), "minute"),
    "Last 24 hours, by hour": (timedelta(days=1), "hour"),
    "Last 30 days, by day": (timedelta(days=30), "day"),
}
METRICS = {
    "ROC AUC": "roc_auc",
    "Precision (bad)": "precision_bad",
    "Recall (bad)": "recall_bad",
    "Brier score": "brier",
    "Approval rate": "approval_rate",
    "Waiting for an outcome": "awaiting_share",
}
PERCENTAGES = ("approval_rate", "awaiting_share")
left, right = st.columns(2)
window = left.selectbox("Window", list(WINDOWS), index=1)
shown = right.selectbox("Metric", list(METRICS))
span, bucket = WINDOWS[window]
end = datetime.now(UTC)
try:
    performance = service.performance(end - span, end, bucket)
except ServiceProblem as problem:
    st.error(str(problem))
    st.stop()

totals = {t["model_version"]: t for t in performance["totals"]}
if len(totals) > 1:
    st.write("Per version in this window")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "version": version,
                    "predictions": t["n_predictions"],
                    "labelled": t["n_labelled"],
                    **{name: t[key] for name, key in METRICS.items() if key in t},
                }
                for version, t in sorted(
                    totals.items(), key=lambda item: (len(item[0]), item[0]), reverse=True
                )
            ]
        ),
        hide_index=True,
        column_config={
            name: st.column_config.NumberColumn(format="percent" if key in PERCENTAGES else "%.3f")
            for name, key in METRICS.items()
        },
    )
live = totals.get(served["version"])
if live is None or live["n_labelled"] == 0:
    waiting = f"{live['n_predictions']:,} predictions are" if live else "No prediction is"
    st.info(
        f"{waiting} waiting for their outcome in this window: live metrics appear as the "
        "outcomes come back (outcome files, or POST /outcomes)."
    )
    st.stop()


def as_text(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" if key in PERCENTAGES else f"{value:.3f}"


columns = st.columns(6)
columns[0].metric("Labelled", f"{live['n_labelled']:,}")
for column, (name, key) in zip(
    columns[1:],
    [
        ("ROC AUC", "roc_auc"),
        ("Precision (bad)", "precision_bad"),
        ("Recall (bad)", "recall_bad"),
        ("Brier score", "brier"),
        ("Waiting for outcome", "awaiting_share"),
    ],
    strict=True,
):
    held_out = metrics.get(key)
    delta = None
    if held_out is not None and live[key] is not None:
        delta = f"{live[key] - held_out:+.3f} vs held out"
    column.metric(
        name,
        as_text(key, live[key]),
        delta,
        delta_color="inverse" if key == "brier" else "normal",
    )

key = METRICS[shown]
frame = pd.DataFrame(performance["buckets"])
frame = frame[frame[key].notna()]
if frame.empty:
    st.info(f"No {shown} yet in this window (ROC AUC needs both outcomes among the labelled).")
    st.stop()
frame["bucket"] = pd.to_datetime(frame["bucket"])
line = (
    alt.Chart(frame)
    .mark_line(point=True)
    .encode(
        x=alt.X("bucket:T", title=None),
        y=alt.Y(f"{key}:Q", title=shown),
        color=alt.Color("model_version:N", title="version"),
        tooltip=["bucket:T", "model_version:N", f"{key}:Q", "n_labelled:Q", "n_predictions:Q"],
    )
)
reference = pd.DataFrame(
    [
        {"model_version": m["version"], "held_out": m["metrics"][key]}
        for m in history
        if m["version"] in set(frame["model_version"]) and key in m["metrics"]
    ]
)
chart = line
if not reference.empty:
    chart += (
        alt.Chart(reference)
        .mark_rule(strokeDash=[6, 4])
        .encode(y="held_out:Q", color="model_version:N", tooltip=["model_version", "held_out"])
    )
st.altair_chart(chart.properties(height=240), width="stretch")
