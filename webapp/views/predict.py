"""Predict: one applicant through a form generated from the spec, or many from a CSV."""

import streamlit as st

from creditops.features import FEATURES, NumericFeature
from creditops.schemas import UploadProblem, applicants_from_upload
from creditops.settings import get_settings
from webapp.client import ModelService, ServiceProblem
from webapp.tables import predictions_frame, show_predictions

CHUNK_ROWS = 1_000
MAX_UPLOAD_ROWS = 100_000

st.title("Predict credit risk")
st.caption("Will the loan end good or bad? Scores come from the model service.")
service = ModelService()


def widget(feature):
    label = f"{feature.name}" + (f" ({feature.unit})" if getattr(feature, "unit", "") else "")
    if isinstance(feature, NumericFeature):
        step = 1 if feature.kind == "int" else 1.0
        cast = feature.python_type
        return st.number_input(
            label,
            min_value=cast(feature.minimum),
            max_value=cast(feature.maximum),
            value=None if feature.nullable else cast(feature.minimum),
            step=step,
            help=feature.description + (" Leave empty if unknown." if feature.nullable else ""),
            key=f"form-{feature.name}",
        )
    options = [*feature.categories, *([None] if feature.nullable else [])]
    return st.selectbox(
        label,
        options,
        format_func=lambda v: "unknown" if v is None else v,
        help=feature.description,
        key=f"form-{feature.name}",
    )


def show_result(result: dict) -> None:
    frame = predictions_frame(result["predictions"])
    bad = int((frame["prediction"] == "bad").sum())
    st.success(
        f"{len(frame)} prediction(s) made with model {result['model_version']}: "
        f"{bad} bad, {len(frame) - bad} good."
    )
    if len(frame) == 1:
        (only,) = result["predictions"]
        reasons = only["reasons"] or []
        why = "What pushed the score towards bad:" if reasons else "Nothing pushed it towards bad."
        st.markdown(
            f"**{only['prediction']}**, probability of bad {only['probability_bad']:.0%}. {why}"
        )
        for reason in reasons:
            st.markdown(f"- {reason['text']}")
    show_predictions(frame)
    st.download_button("Download as CSV", frame.to_csv(index=False), "predictions.csv", "text/csv")


one, many = st.tabs(["One applicant", "Upload a CSV"])
with one:
    with st.form("applicant"):
        columns = st.columns(3)
        applicant = {}
        for i, feature in enumerate(FEATURES):
            with columns[i % 3]:
                applicant[feature.name] = widget(feature)
        submitted = st.form_submit_button("Predict", type="primary")
    if submitted:
        try:
            show_result(service.predict([applicant]))
        except ServiceProblem as problem:
            st.error(str(problem))

with many:
    st.write(
        "A CSV with one column per feature (no label): "
        + ", ".join(f"`{f.name}`" for f in FEATURES)
        + "."
    )
    upload = st.file_uploader("CSV file", type=["csv"])
    if upload is not None and st.button("Predict the file", type="primary"):
        try:
            applicants = applicants_from_upload(upload.getvalue(), MAX_UPLOAD_ROWS)
        except UploadProblem as problem:
            st.error(
                f"{upload.name} cannot be scored:\n\n"
                + "\n".join(f"- {line}" for line in problem.problems)
            )
            st.stop()
        chunk = min(CHUNK_ROWS, get_settings().max_batch_rows)
        progress = st.progress(0.0, text=f"Scoring {len(applicants)} rows...")
        results = []
        try:
            for start in range(0, len(applicants), chunk):
                results.append(service.predict(applicants[start : start + chunk], upload.name))
                done = min(start + chunk, len(applicants))
                progress.progress(done / len(applicants), text=f"{done} / {len(applicants)} rows")
        except ServiceProblem as problem:
            stored = sum(r["count"] for r in results)
            st.error(
                f"{problem} ({stored} of {len(applicants)} rows were scored and stored "
                "before this.)"
            )
            st.stop()
        progress.empty()
        show_result(
            {
                "model_version": results[-1]["model_version"],
                "predictions": [p for r in results for p in r["predictions"]],
            }
        )
