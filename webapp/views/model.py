"""Model: the served version, its held-out metrics, and every version trained."""

import pandas as pd
import streamlit as st

from webapp.client import ModelService, ServiceProblem

st.title("Model")
service = ModelService()
try:
    served, history = service.model(), service.models()
except ServiceProblem as problem:
    st.error(str(problem))
    st.stop()

metrics = served["metrics"]
st.subheader(f"Serving {served['version']}")
st.caption(
    f"{served['algorithm']}, trained {served['trained_at'][:19]} on {served['n_train']:,} "
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
st.subheader("Versions")
st.dataframe(
    pd.DataFrame(
        [
            {
                "version": m["version"],
                "trained at": m["trained_at"][:19],
                "ROC AUC": round(m["metrics"]["roc_auc"], 3),
                "serving": m["served"],
            }
            for m in history
        ]
    ),
    hide_index=True,
)
