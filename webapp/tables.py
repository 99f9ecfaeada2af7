"""How predictions are shown: one row per applicant, the probability as a bar, the reasons
in words."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from creditops.features import FEATURE_NAMES, NUMERIC_FEATURES


def reasons_text(reasons: list[dict] | None) -> str:
    """The reasons of one prediction on one line; none stored before reasons existed."""
    if reasons is None:
        return "not recorded"
    return "; ".join(r["text"] for r in reasons) or "none towards bad"


def predictions_frame(items: list[dict], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    rows = [
        {
            **{key: item[key] for key in extra},
            "application_id": item["application_id"],
            "prediction": item["prediction"],
            "probability_bad": item["probability_bad"],
            "reasons": reasons_text(item.get("reasons")),
            **item["features"],
            "model_version": item["model_version"],
        }
        for item in items
    ]
    columns = [
        *extra,
        "application_id",
        "prediction",
        "probability_bad",
        "reasons",
        *FEATURE_NAMES,
        "model_version",
    ]
    return pd.DataFrame(rows, columns=columns)


def show_predictions(frame: pd.DataFrame) -> None:
    def colour(value: str) -> str:
        return "color: #b42318; font-weight: 600" if value == "bad" else "color: #067647"

    st.dataframe(
        frame.style.map(colour, subset=["prediction"]),
        hide_index=True,
        column_config={
            **{
                f.name: st.column_config.NumberColumn(format=f.display_format)
                for f in NUMERIC_FEATURES
            },
            "probability_bad": st.column_config.ProgressColumn(
                "P(bad)",
                help="Probability that the loan ends bad",
                min_value=0.0,
                max_value=1.0,
                format="%.2f",
            ),
            "reasons": st.column_config.TextColumn(
                "reasons (towards bad)",
                help="The features that pushed the score towards bad the most, strongest first",
                width="large",
            ),
            "predicted_at": st.column_config.DatetimeColumn(
                "predicted at", format="YYYY-MM-DD HH:mm:ss"
            ),
        },
    )
