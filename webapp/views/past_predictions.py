"""Past predictions: a date range and a source, a paged table, predictions over time."""

from datetime import UTC, datetime, time, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from creditops.palette import HEX, PREDICTION_COLOURS
from webapp.client import ModelService, ServiceProblem
from webapp.tables import predictions_frame, show_predictions

SOURCES = {"all": "all", "webapp": "webapp", "scheduled predictions": "scheduled"}
PAGE_SIZE = 50

st.title("Past predictions")
service = ModelService()

left, middle, right = st.columns([2, 1, 1])
today = datetime.now(UTC).date()
with left:
    chosen = st.date_input("Dates", (today - timedelta(days=6), today), max_value=today)
with middle:
    label = st.selectbox("Source", list(SOURCES))
with right:
    bucket = st.selectbox("Chart by", ["hour", "minute", "day"])
if not isinstance(chosen, tuple) or len(chosen) != 2:
    st.info("Pick an end date.")
    st.stop()
first_day, last_day = chosen
start = datetime.combine(first_day, time.min, UTC)
end = datetime.combine(last_day + timedelta(days=1), time.min, UTC)
source = SOURCES[label]

# Pages go back in time; remember the cursors walked so "Newer" can return.
query = (start, end, source)
if st.session_state.get("query") != query:
    st.session_state.update(query=query, cursors=[None])
cursors: list = st.session_state["cursors"]

try:
    page = service.past_predictions(start, end, source, PAGE_SIZE, cursors[-1])
    summary = service.summary(start, end, source, bucket)
except ServiceProblem as problem:
    st.error(str(problem))
    st.stop()

if summary:
    counts = pd.DataFrame(summary)
    counts["bucket"] = pd.to_datetime(counts["bucket"])
    total = int(counts["count"].sum())
    bad = int(counts.loc[counts["prediction"] == "bad", "count"].sum())
    a, b, c = st.columns(3)
    a.metric("Predictions", f"{total:,}")
    b.metric("Predicted bad", f"{bad / total:.0%}")
    c.metric(
        "Mean P(bad)", f"{(counts['mean_probability_bad'] * counts['count']).sum() / total:.2f}"
    )
    chart = (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            x=alt.X("bucket:T", title=None),
            y=alt.Y("count:Q", title="predictions"),
            color=alt.Color(
                "prediction:N",
                scale=alt.Scale(
                    domain=list(PREDICTION_COLOURS),
                    range=[HEX[c] for c in PREDICTION_COLOURS.values()],
                ),
            ),
            tooltip=["bucket:T", "prediction:N", "count:Q"],
        )
        .properties(height=220)
    )
    st.altair_chart(chart, width="stretch")

if not page["items"]:
    st.info(f"No predictions from {label} between {first_day} and {last_day}.")
    st.stop()
show_predictions(predictions_frame(page["items"], extra=("predicted_at", "source", "source_file")))
newer, position, older = st.columns([1, 2, 1])
with newer:
    if len(cursors) > 1 and st.button("Newer"):
        cursors.pop()
        st.rerun()
with position:
    st.caption(f"Page {len(cursors)}, {PAGE_SIZE} per page, newest first")
with older:
    if page["next_cursor"] and st.button("Older"):
        cursors.append(page["next_cursor"])
        st.rerun()
