"""Monitoring: the Grafana dashboards' panels, from the same queries, with the same thresholds."""

import itertools

import altair as alt
import pandas as pd
import streamlit as st

from creditops.palette import HEX
from webapp.client import ModelService, ServiceProblem

st.title("Monitoring")
service = ModelService()
minutes = st.select_slider(
    "Period",
    options=[10, 30, 60, 180, 720, 1440],
    value=30,
    format_func=lambda m: f"last {m} min" if m < 60 else f"last {m // 60} h",
)
if st.button("Refresh"):
    st.rerun()


UNIT_SUFFIXES = {"percent": "%", "ms": " ms"}
SEVERITY = ["green", "yellow", "orange", "red"]


def colour(steps: list[dict], value) -> str:
    if value is None:
        return HEX["grey"]
    chosen = steps[0]["color"]
    for step in steps[1:]:
        if value >= step["value"]:
            chosen = step["color"]
    return HEX[chosen]


def shown(panel: dict, value) -> str:
    """Counts as integers with thousands separators, the rest with one decimal."""
    if value is None:
        return "no data"
    decimals = 1 if panel["decimals"] is None else panel["decimals"]
    return f"{value:,.{decimals}f}" + UNIT_SUFFIXES.get(panel["unit"], "")


def draw(panel: dict, rows: list[dict]) -> None:
    st.markdown(f"**{panel['title']}**", help=panel["description"])
    if not rows:
        st.caption("no data yet")
        return
    frame = pd.DataFrame(rows)
    steps = panel["thresholds"]
    meaning = panel["colours"]  # colours by meaning (criticality), else by threshold
    if panel["kind"] == "stat":
        value = frame["value"].iloc[0]
        st.markdown(
            f"<div style='background:{colour(steps, value)};color:white;padding:1.2rem;"
            f"border-radius:6px;font-size:2rem;text-align:center'>{shown(panel, value)}</div>",
            unsafe_allow_html=True,
        )
    elif panel["kind"] == "bargauge":
        frame["colour"] = [
            HEX[meaning[m]] if meaning else colour(steps, v)
            for m, v in zip(frame["metric"], frame["value"], strict=True)
        ]
        frame["shown"] = [shown(panel, v) for v in frame["value"]]
        chart = (
            alt.Chart(frame)
            .mark_bar()
            .encode(
                x=alt.X("value:Q", title=None),
                y=alt.Y("metric:N", title=None, sort=None),
                color=alt.Color("colour:N", scale=None),
                tooltip=[alt.Tooltip("metric:N"), alt.Tooltip("shown:N", title="value")],
            )
        )
        st.altair_chart(chart.properties(height=180), width="stretch")
    elif panel["kind"] == "timeseries":
        frame["time"] = pd.to_datetime(frame["time"])
        series = "metric:N" if "metric" in frame else alt.value("#2e90fa")
        line = (
            alt.Chart(frame)
            .mark_line(point=True)
            .encode(
                x=alt.X("time:T", title=None),
                y=alt.Y("value:Q", title=None),
                color=series,
                tooltip=list(frame.columns),
            )
        )
        # Each threshold near the data a dashed line in the colour of its worse side,
        # drawn apart from the series' colour scale.
        chart, highest = line, frame["value"].max()
        for below, above in itertools.pairwise(steps):
            if pd.notna(highest) and above["value"] > 1.5 * highest:
                continue  # far above the data: it would flatten the series
            worse = max(below["color"], above["color"], key=SEVERITY.index)
            chart += (
                alt.Chart(pd.DataFrame([above]))
                .mark_rule(strokeDash=[4, 4], color=HEX[worse])
                .encode(y="value:Q")
            )
        st.altair_chart(chart.properties(height=180), width="stretch")
    else:
        if not meaning:
            frame["status"] = [colour(steps, v) for v in frame["value"]]
        styled = frame.style.format({"value": lambda v: shown(panel, v)}, na_rep="-")
        if meaning:
            styled = styled.map(
                lambda v: f"background-color: {HEX[meaning[v]]}; color: white",
                subset=[panel["coloured_by"]],
            )
        else:
            styled = styled.map(lambda v: f"background-color: {v}", subset=["status"])
        st.dataframe(styled, hide_index=True)


try:
    dashboards = service.dashboards()
except ServiceProblem as problem:
    st.error(str(problem))
    st.stop()
for dashboard in dashboards:
    st.header(dashboard["title"])
    st.caption(dashboard["description"])
    panels = [p for p in dashboard["panels"] if p["in_webapp"]]
    columns = st.columns(4 if all(p["kind"] == "stat" for p in panels) else 2)
    for i, panel in enumerate(panels):
        with columns[i % len(columns)] if panel["kind"] != "table" else st.container():
            try:
                rows = service.panel(panel["key"], minutes)
            except ServiceProblem as problem:
                st.markdown(f"**{panel['title']}**")
                st.warning(str(problem))
                continue
            draw(panel, rows)
